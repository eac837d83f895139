"""Python client for vecflow: typed stubs with authentication, retries, uploads, paging and job watching.

`VecflowClient` is the asyncio client; `VecflowSyncClient` the same surface, blocking.
"""

from vecflow_client.client import DEFAULT_ADDRESS, VecflowClient
from vecflow_client.convert import enum_value
from vecflow_client.errors import error_info, error_reason
from vecflow_client.metadata import metadata_interceptors
from vecflow_client.retry import NO_RETRY, RetryPolicy
from vecflow_client.sync import VecflowSyncClient

__all__ = [
    "DEFAULT_ADDRESS",
    "NO_RETRY",
    "RetryPolicy",
    "VecflowClient",
    "VecflowSyncClient",
    "enum_value",
    "error_info",
    "error_reason",
    "metadata_interceptors",
]
