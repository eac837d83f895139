"""Knowledge-base uploads, and starting the document jobs (parse, extract, chunk; they run in vecflow.operations).

Uploads stream to the content-addressed blob store (or are fetched from a URL under the SSRF
policy), are typed from their content, and start a parse job when the upload, the knowledge base
and the type say so.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from vecflow import validation as v
from vecflow.errors import (
    Aborted,
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    ResourceExhausted,
)
from vecflow.ids import new_id
from vecflow.jobs.engine import JobEngine
from vecflow.jobs.eventlog import SyncWrite
from vecflow.pipeline.detect import detect_type, is_supported, unsupported_advice
from vecflow.pipeline.fetch import FetchError, FetchPolicy, fetch_to_file
from vecflow.pipeline.parse import SUPPORTED_NAMES
from vecflow.services.auth import Principal
from vecflow.services.vector_stores import LimitsProvider, resolve_chunking, resolve_mode
from vecflow.storage import files as kb_files
from vecflow.storage import models as m
from vecflow.storage import repositories as repo
from vecflow.storage.blobs import BlobStore, StoredBlob
from vecflow.storage.db import AsyncSession, Connection, Database, IntegrityError
from vecflow.storage.knowledge_bases import auto_parse_of
from vecflow.storage.models import utcnow
from vecflow.storage.parse_results import result_ids_of_file

MAX_PREVIEW_CHUNKS = 100

FETCH_STATUS = {
    "INVALID_URL": InvalidArgument,
    "URL_NOT_ALLOWED": InvalidArgument,
    "TOO_MANY_REDIRECTS": FailedPrecondition,
    "TOO_LARGE": ResourceExhausted,
    "FETCH_TIMEOUT": FailedPrecondition,
    "FETCH_FAILED": FailedPrecondition,
}


def skipped_reason(content_type: str, parse: bool | None) -> tuple[str, str]:
    """Why an upload that starts no parse job is not parsed: (code, message), shown on the file."""
    if parse is False:
        return (
            "PARSE_NOT_REQUESTED",
            "The upload set parse to false, so the file is stored as it is and is not searchable. "
            "Parse it with ParseFile to make it searchable.",
        )
    if not is_supported(content_type):
        return (
            "UNSUPPORTED_TYPE",
            f"Files of type {content_type} are not parsed (vecflow parses {SUPPORTED_NAMES}), so the file is "
            f"stored as it is and is not searchable. {unsupported_advice(content_type)}, and upload it again.",
        )
    return (
        "PARSE_NOT_REQUESTED",
        "The knowledge base has auto_parse off and the upload did not set parse, so the file is stored as it is "
        "and is not searchable. Parse it with ParseFile, or upload it with parse set to true.",
    )


@dataclass(frozen=True)
class UploadSpec:
    kb_id: str
    name: str
    directory: str = ""
    metadata: dict[str, Any] | None = None
    parse: bool | None = None
    url: str = ""
    content_type: str = ""
    sha256: str = ""
    replace: bool = False  # if_exists REPLACE: an existing file of that name takes the new content
    ocr: str = ""  # the OCR mode for its parse (auto, off, force); "": the knowledge base's


@dataclass(frozen=True)
class CheckedUpload:
    """An upload whose names are valid and whose place was free when checked (it is checked again when
    the file is recorded), with its knowledge base's auto-parse setting."""

    spec: UploadSpec
    auto_parse: bool


class DocumentService:
    def __init__(
        self,
        db: Database,
        engine: JobEngine,
        blobs: BlobStore,
        fetch_policy: FetchPolicy,
        max_upload_bytes: int,
        limits: LimitsProvider,
    ) -> None:
        self.db = db
        self.engine = engine
        self.blobs = blobs
        self.fetch_policy = fetch_policy
        self.max_upload_bytes = max_upload_bytes
        self.limits = limits

    # Uploads ----------------------------------------------------------------------------------

    async def check_upload(self, caller: Principal, spec: UploadSpec) -> CheckedUpload:
        """Validate an upload before any content is read: the knowledge base, directory and name."""
        v.required("metadata.kb_id", spec.kb_id)
        name = v.path_segment("metadata.name", spec.name)
        directory = v.directory_path("metadata.directory", spec.directory)
        v.metadata("metadata.metadata", spec.metadata)
        if spec.sha256 and (len(spec.sha256) != 64 or any(c not in "0123456789abcdef" for c in spec.sha256.lower())):
            raise InvalidArgument.field("metadata.sha256", "must be 64 hexadecimal characters")
        auto_parse, _, _ = await self.db.read(
            lambda conn: self._check_place(conn, caller.project_id, spec.kb_id, directory, name, spec.replace)
        )
        return CheckedUpload(UploadSpec(**{**spec.__dict__, "directory": directory, "name": name}), auto_parse)

    async def upload(
        self, caller: Principal, upload: UploadSpec | CheckedUpload, content: AsyncIterator[bytes] | None
    ) -> tuple[m.File, m.Job | None, str]:
        """Store the content (streamed chunks, or the URL's body), record the file (or, with `replace`, give an
        existing one the new content), maybe start parsing. Returns the file, its parse job and the outcome:
        "created", "replaced" or "unchanged"."""
        checked = upload if isinstance(upload, CheckedUpload) else await self.check_upload(caller, upload)
        spec = checked.spec
        if spec.url and content is not None:
            raise InvalidArgument.field("metadata.url", "send either content chunks or a url, not both")
        if not spec.url and content is None:
            raise InvalidArgument.field(
                "chunk", "send the content in chunk messages after the metadata, or set metadata.url"
            )
        content_type_header = ""
        if content is not None:
            blob = await self.blobs.put_stream(content, self.max_upload_bytes)
        else:
            blob, content_type_header = await self._fetch(spec.url)
        if spec.sha256 and spec.sha256.lower() != blob.sha256:
            raise InvalidArgument.field(
                "metadata.sha256",
                f"does not match the content received (sha256 {blob.sha256})",
                reason="CHECKSUM_MISMATCH",
            )
        content_type = detect_type(blob.head, spec.name, spec.content_type or content_type_header)
        parse = spec.parse if spec.parse is not None else (checked.auto_parse and is_supported(content_type))
        skipped = ("", "") if parse else skipped_reason(content_type, spec.parse)
        now = utcnow()
        row = m.File(
            id=new_id("file"),
            project_id=caller.project_id,
            kb_id=spec.kb_id,
            directory=spec.directory,
            name=spec.name,
            uid=blob.sha256,
            content_type=content_type,
            content_length=blob.size,
            metadata_=spec.metadata,
            url=spec.url,
            parse_state="pending" if parse else "skipped",
            parse_error_code=skipped[0],  # for a skipped file: why it was not parsed
            parse_error_message=skipped[1],
            ocr=spec.ocr,
            on_behalf_of=caller.on_behalf_of,
            created_at=now,
            updated_at=now,
        )
        outcome = "created"
        replacing = None
        wanted = parse  # the parse setting asked for; `parse` below: whether a parse job starts
        if spec.replace:  # the file it replaces, read first so that the parse job is created for its id
            replacing = await self.db.read(lambda conn: kb_files.file_at(conn, spec.kb_id, spec.directory, spec.name))
            if replacing is not None:
                row.id = replacing.id
                if self._same(replacing, row, wanted):
                    parse = False  # unchanged: no parse job

        def insert(write: SyncWrite, job: m.Job | None = None) -> None:
            nonlocal outcome
            _, missing, existing = self._check_place(
                write.conn, caller.project_id, spec.kb_id, spec.directory, spec.name, spec.replace
            )
            if (existing is None) != (replacing is None) or (existing is not None and existing.id != row.id):
                raise Aborted(
                    f"{spec.name!r} was created, replaced or deleted by another call during this upload; upload again",
                    reason="CONCURRENT_CHANGE",
                    metadata={"name": spec.name, "directory": spec.directory},
                )
            if existing is not None:
                outcome = self._replace(write.conn, existing, row, wanted, job, spec.metadata is not None)
                return
            for path in missing:  # like mkdir -p; a concurrent upload may create the same ones
                kb_files.add_directory_if_absent(
                    write.conn, new_id("directory"), caller.project_id, spec.kb_id, path, now
                )
            if job is not None:
                row.parse_job_id = job.id
            try:
                repo.insert_row(write.conn, row)
            except IntegrityError:  # recorded by a concurrent upload since the check (on PostgreSQL)
                raise self._name_taken(spec.directory, spec.name, "file") from None

        if not parse:
            await self.engine.events.transact(insert)
            return await self._recorded(row, outcome), None, outcome
        job = await self.engine.submit(
            caller.project_id,
            "parse",
            source_id=row.id,
            # A replaced file's vector stores are re-indexed once it is parsed.
            params={"file_id": row.id, **({"reindex": True} if replacing is not None else {})},
            on_behalf_of=caller.on_behalf_of,
            also=insert,
        )
        return await self._recorded(row, outcome), job, outcome

    @staticmethod
    def _same(existing: Any, new: m.File, parse: bool) -> bool:
        """Whether the existing file has the new one's content and parse setting already (a failed parse of the
        same bytes counts: parsing them again would fail the same way; with another OCR setting it would not)."""
        parsed = existing.parse_state in ("pending", "success", "failed")
        same_ocr = not parse or existing.ocr == new.ocr
        return bool(
            existing.uid == new.uid and existing.content_type == new.content_type and parsed == parse and same_ocr
        )

    def _replace(
        self, conn: Connection, existing: Any, new: m.File, parse: bool, job: m.Job | None, with_metadata: bool
    ) -> str:
        """Give the existing file `new`'s content (its id stays); "unchanged" when it has it already."""
        values: dict[str, Any] = {"updated_at": new.updated_at}
        if with_metadata:
            values["metadata"] = new.metadata_
        # upload() decided before this transaction whether a parse job is needed; another replace in between
        # can make that decision wrong, in either direction.
        if self._same(existing, new, parse):
            if job is not None:
                raise Aborted("the file changed during this upload; upload again", reason="CONCURRENT_CHANGE")
            outcome = "unchanged"
        else:
            if parse and job is None:
                raise Aborted("the file changed during this upload; upload again", reason="CONCURRENT_CHANGE")
            outcome = "replaced"
            values.update(
                uid=new.uid,
                content_type=new.content_type,
                content_length=new.content_length,
                url=new.url,
                ocr=new.ocr,
                parse_state="pending" if job is not None else "skipped",
                parse_job_id=job.id if job is not None else "",
                # Vector stores keep serving the old result's chunks until they are re-indexed with the new one.
                parse_result_id="",
                parse_error_code=new.parse_error_code if job is None else "",
                parse_error_message=new.parse_error_message if job is None else "",
            )
        kb_files.replace_file(conn, existing.id, values)
        return outcome

    async def _recorded(self, row: m.File, outcome: str) -> m.File:
        if outcome == "created":
            return row
        async with self.db.read_session() as s:
            found = await s.get(m.File, row.id)
        assert found is not None
        return found

    async def _fetch(self, url: str) -> tuple[StoredBlob, str]:
        temp = self.blobs.temp_path()
        try:
            result = await fetch_to_file(url, temp, self.fetch_policy)
        except FetchError as err:
            kind = FETCH_STATUS.get(err.code, FailedPrecondition)
            raise kind(err.message, reason=err.code, metadata={"url": url[:512]}) from None
        if result.length > self.max_upload_bytes:
            temp.unlink(missing_ok=True)
            raise ResourceExhausted(
                f"the document at {url} is larger than the upload limit of {self.max_upload_bytes} bytes",
                reason="UPLOAD_TOO_LARGE",
            )
        return await self.blobs.adopt(temp, result.sha256, result.length), result.content_type

    def _check_place(
        self, conn: Connection, project_id: str, kb_id: str, directory: str, name: str, replace: bool = False
    ) -> tuple[bool, list[str], Any]:
        """Raise unless the project's knowledge base exists, `directory` is or can become a directory, and `name`
        is free in it (or, with `replace`, a file). Returns the knowledge base's auto-parse setting, the
        directories to create (outermost first) and the file to replace (or None)."""
        auto_parse = auto_parse_of(conn, project_id, kb_id)
        if auto_parse is None:
            raise NotFound.resource("knowledge base", kb_id)
        missing: list[str] = []
        if not repo.directory_exists_in(conn, kb_id, directory):
            segments = directory.split("/")
            for depth in range(1, len(segments) + 1):
                current, parent = "/".join(segments[:depth]), "/".join(segments[: depth - 1])
                taken = None if missing else repo.name_taken_in(conn, kb_id, parent, segments[depth - 1])
                if taken == "file":
                    raise AlreadyExists(
                        f"{current!r} is a file in this knowledge base, so it cannot be a directory of the upload",
                        reason="NAME_TAKEN",
                        metadata={"path": current, "existing_kind": "file"},
                    )
                if taken is None:
                    missing.append(current)
            return auto_parse, missing, None
        taken = repo.name_taken_in(conn, kb_id, directory, name)
        existing = None
        if taken == "file" and replace:
            existing = kb_files.file_at(conn, kb_id, directory, name)
        elif taken:
            raise self._name_taken(directory, name, taken)
        return auto_parse, missing, existing

    @staticmethod
    def _name_taken(directory: str, name: str, kind: str) -> AlreadyExists:
        path = f"{directory}/{name}" if directory else name
        return AlreadyExists(
            f"{path!r} already exists as a {kind} in this knowledge base; choose another name or delete it first",
            reason="NAME_TAKEN",
            metadata={"path": path, "existing_kind": kind},
        )

    # Starting document jobs ----------------------------------------------------------------------

    async def start_parse(self, caller: Principal, file_id: str, content_type: str = "", ocr: str = "") -> m.Job:
        """`ocr`: the OCR mode for this parse; "" follows the file's upload, then its knowledge base."""
        v.required("file_id", file_id)
        async with self.db.read_session() as s:
            row = await repo.get_owned(s, m.File, caller.project_id, file_id)
        if row is None:
            raise NotFound.resource("file", file_id)

        def mark(write: SyncWrite, job: m.Job) -> None:
            kb_files.mark_parse_pending(write.conn, file_id, job.id)

        return await self.engine.submit(
            caller.project_id,
            "parse",
            source_id=file_id,
            params={"file_id": file_id, "content_type": content_type, **({"ocr": ocr} if ocr else {})},
            on_behalf_of=caller.on_behalf_of,
            also=mark,
        )

    async def start_extract(self, caller: Principal, parse_result_id: str) -> m.Job:
        await self._owned_result(caller, parse_result_id)
        return await self.engine.submit(
            caller.project_id,
            "extract",
            source_id=parse_result_id,
            params={"parse_result_id": parse_result_id},
            on_behalf_of=caller.on_behalf_of,
        )

    async def start_chunk(
        self, caller: Principal, parse_result_id: str, size: int, overlap: int | None, preview: int, mode: str = ""
    ) -> m.Job:
        await self._owned_result(caller, parse_result_id)
        size, overlap = resolve_chunking(size, overlap, await self.limits())
        mode = resolve_mode(mode)
        if not 0 <= preview <= MAX_PREVIEW_CHUNKS:
            raise InvalidArgument.field("preview_chunks", f"must be between 0 and {MAX_PREVIEW_CHUNKS}, got {preview}")
        params = {"parse_result_id": parse_result_id, "size": size, "overlap": overlap, "preview": preview or 5}
        return await self.engine.submit(
            caller.project_id,
            "chunk",
            source_id=parse_result_id,
            params={**params, "mode": mode},
            on_behalf_of=caller.on_behalf_of,
        )

    async def _owned_result(self, caller: Principal, parse_result_id: str) -> m.ParseResult:
        v.required("parse_result_id", parse_result_id)
        async with self.db.read_session() as s:
            row = await repo.get_owned(s, m.ParseResult, caller.project_id, parse_result_id)
        if row is None:
            raise NotFound.resource("parse result", parse_result_id)
        return row

    async def latest_parse_result(self, s: AsyncSession, caller: Principal, file_id: str) -> str:
        row = await repo.get_owned(s, m.File, caller.project_id, file_id)
        if row is None:
            raise NotFound.resource("file", file_id)
        if not row.parse_result_id:
            raise FailedPrecondition(
                f"file {file_id} has no parse result (parse_state {row.parse_state}); parse it first",
                reason="FILE_NOT_PARSED",
                metadata={"file_id": file_id, "parse_state": row.parse_state},
            )
        return row.parse_result_id

    async def parse_results_of(self, s: AsyncSession, file_id: str) -> list[str]:
        return await result_ids_of_file(s, file_id)
