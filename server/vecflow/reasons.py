"""Every `ErrorInfo.reason` the API can answer with, its status code and what it means: one registry.

docs/api.md's table of reasons is generated from it (`scripts/gen_docs.py`), and tests/test_docs.py fails when
a reason written in the server's code is missing here, or when the docs drift from it. Job and parse failure
codes (a job's `error.code`) are documented beside the operations that produce them, not here.
"""

from __future__ import annotations

# reason → (gRPC status code, when it is answered). In the order the docs list them.
REASONS: dict[str, tuple[str, str]] = {
    "INVALID_ARGUMENT": ("INVALID_ARGUMENT", "a field is missing or invalid; the `BadRequest` detail names each one"),
    "MALFORMED_REQUEST": (
        "INVALID_ARGUMENT",
        "the request bytes do not decode as the message (bad UTF-8, truncated, nested past 100 levels)",
    ),
    "INVALID_PATH": ("INVALID_ARGUMENT", "a file or directory name or path breaks the naming rules"),
    "INVALID_PAGE_TOKEN": ("INVALID_ARGUMENT", "a page token that was forged, altered, or issued for other filters"),
    "REQUEST_ID_REUSED": ("INVALID_ARGUMENT", "a `request_id` sent again with a different request"),
    "CHECKSUM_MISMATCH": ("INVALID_ARGUMENT", "the uploaded content does not match `metadata.sha256`"),
    "INVALID_URL": (
        "INVALID_ARGUMENT",
        "an upload URL that is not http(s), has credentials, or cannot be parsed; a webhook URL that is not https "
        "(http only for allowed hosts)",
    ),
    "URL_NOT_ALLOWED": (
        "INVALID_ARGUMENT",
        "an upload URL (or a redirect), or a webhook URL, that reaches a non-public address",
    ),
    "INVALID_FILTER": ("INVALID_ARGUMENT", "a search filter that does not parse, or that Milvus refuses"),
    "TOO_MANY_FILES": ("INVALID_ARGUMENT", "more files in one request than `VECFLOW_MAX_BATCH_FILES`"),
    "TOO_MANY_ITEMS": ("INVALID_ARGUMENT", "more items in one upsertion task than `VECFLOW_MAX_TASK_ITEMS`"),
    "PAYLOAD_TOO_LARGE": ("INVALID_ARGUMENT", "an item's payload larger than `VECFLOW_MAX_ITEM_PAYLOAD_BYTES`"),
    "DUPLICATE_OBJECT_ID": ("INVALID_ARGUMENT", "two items of one upsertion task with the same `object_id`"),
    "<KIND>_NOT_FOUND": (
        "NOT_FOUND",
        "no such resource in the caller's project (e.g. `KNOWLEDGE_BASE_NOT_FOUND`, `FILE_NOT_FOUND`, "
        "`JOB_NOT_FOUND`); another project's id answers the same",
    ),
    "DIRECTORY_NOT_FOUND": ("NOT_FOUND", "no directory at that path"),
    "PARENT_DIRECTORY_NOT_FOUND": ("NOT_FOUND", "CreateDirectory without `create_parents` under a missing parent"),
    "NOT_FOUND": ("NOT_FOUND", "something the request names does not exist; the message says what"),
    "KNOWLEDGE_BASE_NAME_TAKEN": ("ALREADY_EXISTS", "the project has a knowledge base of that name"),
    "NAME_TAKEN": (
        "ALREADY_EXISTS",
        "a file or directory of that name is in the directory (metadata `existing_kind`); for an upload, "
        "`if_exists: IF_EXISTS_REPLACE` replaces a file",
    ),
    "TASK_ID_CONFLICT": ("ALREADY_EXISTS", "an upsertion `task_id` reused with different items"),
    "ALREADY_EXISTS": ("ALREADY_EXISTS", "something of that name exists; the message says what"),
    "DIRECTORY_NOT_EMPTY": ("FAILED_PRECONDITION", "DeleteDirectory of a non-empty directory without `recursive`"),
    "JOB_ALREADY_FINISHED": ("FAILED_PRECONDITION", "CancelJob of a job that has ended"),
    "JOB_NOT_RESTARTABLE": ("FAILED_PRECONDITION", "RestartJob of a job that is not failed or cancelled"),
    "JOB_BUSY": ("FAILED_PRECONDITION", "a job changed state while it was cancelled or restarted; read it and retry"),
    "CURSOR_EXPIRED": ("FAILED_PRECONDITION", "WatchJob from a sequence older than the history kept"),
    "FILE_NOT_PARSED": ("FAILED_PRECONDITION", "adding a file to a store that has no parse result"),
    "FILE_IN_PROGRESS": (
        "FAILED_PRECONDITION",
        "a file still being added to a store: adding it again, updating, removing or deleting it",
    ),
    "VECTOR_STORE_BUSY": ("FAILED_PRECONDITION", "deleting a store while files are being added to it"),
    "BATCH_ALREADY_FINISHED": ("FAILED_PRECONDITION", "CancelFileBatch of a batch that has ended"),
    "TASK_ALREADY_FINISHED": ("FAILED_PRECONDITION", "cancelling an upsertion task that has ended"),
    "TASK_NOT_RESTARTABLE": ("FAILED_PRECONDITION", "restarting an upsertion task that is not failed or canceled"),
    "ANALYZER_MISMATCH": (
        "FAILED_PRECONDITION",
        "an upsertion task naming another `keyword_analyzer` than the one its collection has",
    ),
    "SECTIONS_UNAVAILABLE": (
        "FAILED_PRECONDITION",
        "a `section` filter on a store whose Milvus chunks collection was created before sections existed",
    ),
    "FETCH_FAILED": ("FAILED_PRECONDITION", "a URL upload whose server answered with an error or could not be reached"),
    "FETCH_TIMEOUT": ("FAILED_PRECONDITION", "a URL upload slower than `VECFLOW_FETCH_TIMEOUT_SECONDS`"),
    "TOO_MANY_REDIRECTS": ("FAILED_PRECONDITION", "a URL upload past `VECFLOW_FETCH_MAX_REDIRECTS` redirects"),
    "FAILED_PRECONDITION": ("FAILED_PRECONDITION", "the resource is not in a state that allows the call"),
    "UPLOAD_TOO_LARGE": ("RESOURCE_EXHAUSTED", "an upload larger than `VECFLOW_MAX_UPLOAD_BYTES`"),
    "TOO_LARGE": ("RESOURCE_EXHAUSTED", "a URL upload whose body is larger than `VECFLOW_MAX_UPLOAD_BYTES`"),
    "TOO_MANY_WEBHOOKS": ("RESOURCE_EXHAUSTED", "CreateWebhook past `VECFLOW_WEBHOOK_MAX_PER_PROJECT`"),
    "LIMIT_EXCEEDED": ("RESOURCE_EXHAUSTED", "another server limit"),
    "WATCHER_TOO_SLOW": (
        "ABORTED",
        "a WatchJob reader that fell too far behind; reconnect after the last sequence received",
    ),
    "CONCURRENT_CHANGE": ("ABORTED", "a replacing upload raced another change of that file; upload again"),
    "ABORTED": ("ABORTED", "the call raced another change; retry it"),
    "VECTOR_INDEX_UNAVAILABLE": ("UNAVAILABLE", "Milvus cannot be reached; retry with backoff"),
    "EMBEDDING_UNAVAILABLE": (
        "UNAVAILABLE",
        "the embedding model (or its endpoint) cannot embed now, e.g. for a search query; retry with backoff",
    ),
    "EMBEDDING_BAD_RESPONSE": ("UNAVAILABLE", "the embedding endpoint answered with something that is not embeddings"),
    "UNAVAILABLE": ("UNAVAILABLE", "the server is starting or stopping; retry with backoff"),
    "API_KEY_MISSING": ("UNAUTHENTICATED", "no `x-api-key` or `authorization: Bearer` metadata"),
    "API_KEY_INVALID": ("UNAUTHENTICATED", "an unknown or revoked API key"),
    "AUTHORIZATION_MALFORMED": ("UNAUTHENTICATED", "an `authorization` header that is not `Bearer <key>`"),
    "UNAUTHENTICATED": ("UNAUTHENTICATED", "the call is not authenticated"),
    "ACCOUNT_MISMATCH": ("PERMISSION_DENIED", "`x-selected-account-id` is not the key's account"),
    "PERMISSION_DENIED": ("PERMISSION_DENIED", "the key may not do this"),
    "NOT_IMPLEMENTED": ("UNIMPLEMENTED", "an RPC this server does not serve"),
}

# Reasons of the Milvus layer (vecflow.vectors.milvus.VectorIndexError): services turn them into the reasons
# above before anything reaches a client.
INTERNAL = frozenset({"SCHEMA_MISMATCH", "VECTOR_INDEX_ERROR"})

START = "<!-- reasons:start (generated by scripts/gen_docs.py from server/vecflow/reasons.py) -->"
END = "<!-- reasons:end -->"


def table() -> str:
    """The docs' table of reasons, as Markdown."""
    lines = ["| Code | Reason | When |", "|---|---|---|"]
    for reason, (code, meaning) in REASONS.items():
        lines.append(f"| `{code}` | `{reason}` | {meaning} |")
    return "\n".join(lines)
