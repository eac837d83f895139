"""Object storage for bytes: file contents (BlobStore) and parse results (ParsedStore), on one of two backends
chosen by VECFLOW_BLOB_URL: a local folder (the data dir, the default) or `s3://BUCKET/PREFIX` on any
S3-compatible store."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from vecflow.storage.blobs import BlobStore
from vecflow.storage.objects.local import LocalBlobStore, LocalParsedStore
from vecflow.storage.parsed import ParsedStore

__all__ = ["LocalBlobStore", "LocalParsedStore", "ObjectStorage", "from_url"]


@dataclass(frozen=True)
class ObjectStorage:
    """The server's two stores of bytes, on one backend."""

    url: str  # "" for the local folder
    blobs: BlobStore
    parsed: ParsedStore

    def close(self) -> None:
        self.blobs.close()


def from_url(url: str, data_dir: Path) -> ObjectStorage:
    """The stores for VECFLOW_BLOB_URL: "" → `<data dir>/blobs` and `<data dir>/parsed`; `s3://BUCKET/PREFIX` →
    that bucket (connection settings from the standard AWS variables), with local temp files in `<data dir>/tmp`."""
    if not url:
        return ObjectStorage("", LocalBlobStore(data_dir / "blobs"), LocalParsedStore(data_dir / "parsed"))
    if url.startswith("s3://"):
        from vecflow.storage.objects.s3 import S3Bucket
        from vecflow.storage.objects.s3_stores import S3BlobStore, S3ParsedStore

        bucket = S3Bucket(url)
        scratch = data_dir / "tmp"
        return ObjectStorage(url, S3BlobStore(bucket, scratch), S3ParsedStore(bucket, scratch))
    raise ValueError(
        f"unsupported blob storage URL {url!r}: leave it empty for the data dir, or use s3://BUCKET/PREFIX"
    )
