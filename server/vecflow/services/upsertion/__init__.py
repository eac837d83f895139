"""Upsertion tasks: the service (create, get, list, cancel, restart, search) and the items' rules. The status
that follows the task's job is read in vecflow.storage.upsertion; the job itself is vecflow.operations.upsert."""

from vecflow.services.upsertion.items import Created, NewItem, items_digest
from vecflow.services.upsertion.service import UpsertionTaskService

__all__ = ["Created", "NewItem", "UpsertionTaskService", "items_digest"]
