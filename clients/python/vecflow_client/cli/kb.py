"""`vecflow kb create|list|get|delete|mkdir|ls|rm`: knowledge bases, their directories and files."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

import grpc

from vecflow_client.cli.common import (
    EXIT_ERROR,
    EXIT_OK,
    Session,
    add_command,
    confirm,
    fmt_bytes,
    fmt_time,
    parse_json_object,
    resolve_kb,
    run,
    short,
    struct_dict,
)
from vecflow_client.v1 import knowledge_base_service_pb2 as kb_pb2

if TYPE_CHECKING:
    from vecflow_client import VecflowClient


def add_parser(sub: Any) -> None:
    kb = add_command(sub, "kb", help="knowledge bases: create, list, inspect, delete, make directories, list files")
    ksub = kb.add_subparsers(dest="kb_command", required=True)
    p = add_command(ksub, "create", help="create a knowledge base")
    p.add_argument("name")
    p.add_argument("--description", default="")
    p.add_argument("--metadata", help="JSON object kept with it")
    p.add_argument("--no-auto-parse", action="store_true", help="do not parse uploads unless they ask")
    p = add_command(ksub, "list", help="the project's knowledge bases, newest first")
    p.add_argument("--limit", type=int, default=0, help="at most this many (0: all)")
    add_command(ksub, "get", help="one knowledge base (by id or name)").add_argument("kb")
    p = add_command(ksub, "delete", help="delete a knowledge base with all its files")
    p.add_argument("kb")
    p.add_argument("--yes", "-y", action="store_true", help="do not ask")
    p = add_command(ksub, "mkdir", help="create a directory (and its missing parents)")
    p.add_argument("kb")
    p.add_argument("path")
    p.add_argument("-p", "--parents", action="store_true", help="no error if it exists")
    p = add_command(ksub, "rm", help="delete files or directories (their chunks leave every vector store)")
    p.add_argument("kb")
    p.add_argument("paths", nargs="+", metavar="PATH", help="a file (dir/name) or, with --recursive, a directory")
    p.add_argument("--recursive", "-r", action="store_true", help="delete directories with everything in them")
    p.add_argument("--yes", "-y", action="store_true", help="do not ask")
    p = add_command(ksub, "ls", help="list the directories and files of a directory")
    p.add_argument("kb")
    p.add_argument("directory", nargs="?", default="")
    p.add_argument("--recursive", "-r", action="store_true", help="every file below the directory too")


def parse_state(value: int) -> str:
    return short(kb_pb2.ParseState, value, "PARSE_STATE_")


def file_path(f: kb_pb2.File) -> str:
    return f"{f.directory}/{f.name}" if f.directory else f.name


async def handle(session: Session, client: VecflowClient) -> int:
    args = session.args
    command = args.kb_command
    if command == "create":
        request = kb_pb2.CreateKnowledgeBaseRequest(name=args.name, description=args.description)
        metadata = parse_json_object(args.metadata, "--metadata")
        if metadata is not None:
            request.metadata.update(metadata)
        if args.no_auto_parse:
            request.auto_parse = False
        kb = (await client.knowledge_bases.CreateKnowledgeBase(request)).knowledge_base
        if session.json:
            session.emit(kb)
        else:
            session.line(f"created knowledge base {kb.id}  {kb.name}")
        return EXIT_OK
    if command == "list":
        kbs = []
        async for kb in client.iter_knowledge_bases(page_size=200):
            if session.json:
                session.emit(kb)
            else:
                kbs.append((kb.id, kb.name, "yes" if kb.auto_parse else "no", fmt_time(kb.created_at), kb.description))
            if args.limit and len(kbs) >= args.limit:
                break
        if not session.json:
            session.table(["id", "name", "auto-parse", "created", "description"], kbs)
        return EXIT_OK

    kb = await resolve_kb(client, args.kb)
    if command == "get":
        if session.json:
            session.emit(kb)
            return EXIT_OK
        session.line(f"{kb.id}  {kb.name}")
        for label, value in (
            ("description", kb.description),
            ("auto-parse", "yes" if kb.auto_parse else "no"),
            ("metadata", struct_dict(kb.metadata) or ""),
            ("created", fmt_time(kb.created_at)),
            ("updated", fmt_time(kb.updated_at)),
            ("on behalf of", kb.on_behalf_of),
        ):
            if value != "":
                session.line(f"  {label}: {value}")
        return EXIT_OK
    if command == "delete":
        if not confirm(session, f"delete knowledge base {kb.name} ({kb.id}) and all its files?"):
            session.note("not deleted")
            return EXIT_ERROR
        await client.knowledge_bases.DeleteKnowledgeBase(kb_pb2.DeleteKnowledgeBaseRequest(kb_id=kb.id))
        if session.json:
            session.emit({"deleted": kb.id})
        else:
            session.line(f"deleted knowledge base {kb.id}  {kb.name}")
        return EXIT_OK
    if command == "mkdir":
        path = args.path.strip("/")
        try:
            reply = await client.knowledge_bases.CreateDirectory(
                kb_pb2.CreateDirectoryRequest(kb_id=kb.id, path=path, create_parents=True)
            )
        except grpc.aio.AioRpcError as err:
            if not (args.parents and err.code() == grpc.StatusCode.ALREADY_EXISTS):
                raise
            await client.ensure_directory(kb.id, path)  # raises when a file has that name
            if session.json:
                session.emit({"kb_id": kb.id, "path": path, "created": False})
            else:
                session.line(f"{path}/ exists")
            return EXIT_OK
        if session.json:
            session.emit(reply.directory)
        else:
            session.line(f"created {reply.directory.path}/  {reply.directory.id}")
        return EXIT_OK
    if command == "rm":
        return await remove(session, client, kb, args.paths, args.recursive)
    # ls
    directory = args.directory.strip("/")
    rows: list[tuple[str, ...]] = []
    if not args.recursive:
        async for d in client.iter_directories(kb.id, directory, page_size=500):
            if session.json:
                session.emit(d, type="directory")
            else:
                rows.append((f"{d.name}/", "", "", "", d.id))
    async for f in client.iter_files(kb.id, directory, args.recursive, page_size=500):
        if session.json:
            session.emit(f, type="file")
            continue
        state = parse_state(f.parse_state)
        if f.HasField("parse_error") and f.parse_error.code:
            state += f" ({f.parse_error.code})"
        name = file_path(f) if args.recursive else f.name
        rows.append((name, fmt_bytes(f.content_length), f.content_type, state, f.id))
    if not session.json:
        session.table(["name", "size", "type", "parse", "id"], rows)
    return EXIT_OK


async def remove(
    session: Session, client: VecflowClient, kb: kb_pb2.KnowledgeBase, paths: list[str], recursive: bool
) -> int:
    """Delete each path: a file, or (with `recursive`) a directory tree. Every path is looked up first, so a
    typo deletes nothing."""
    targets: list[tuple[str, str, str]] = []  # (kind, path, file id)
    for raw in paths:
        path = raw.strip("/")
        parent, _, leaf = path.rpartition("/")
        found = None
        async for f in client.iter_files(kb.id, parent, page_size=500):
            if f.name == leaf:
                found = f
                break
        if found is not None:
            targets.append(("file", path, found.id))
        elif path and await client.is_directory(kb.id, path):
            if not recursive:
                session.note(f"{path}/ is a directory: pass --recursive to delete it with everything in it")
                return EXIT_ERROR
            targets.append(("directory", path, ""))
        else:
            session.note(f"{path}: no such file or directory in knowledge base {kb.name}")
            return EXIT_ERROR
    shown = ", ".join(p + ("/" if kind == "directory" else "") for kind, p, _ in targets)
    if not confirm(session, f"delete {shown} from knowledge base {kb.name}?"):
        session.note("not deleted")
        return EXIT_ERROR
    for kind, path, file_id in targets:
        if kind == "file":
            await client.knowledge_bases.DeleteFile(kb_pb2.DeleteFileRequest(file_id=file_id))
            done: dict[str, Any] = {"deleted": "file", "path": path, "file_id": file_id}
        else:
            reply = await client.knowledge_bases.DeleteDirectory(
                kb_pb2.DeleteDirectoryRequest(kb_id=kb.id, path=path, recursive=True)
            )
            done = {
                "deleted": "directory",
                "path": path,
                "files": reply.deleted_files,
                "directories": reply.deleted_directories,
            }
        if session.json:
            session.emit(done)
        elif kind == "file":
            session.line(f"deleted {path}")
        else:
            session.line(f"deleted {path}/ ({done['files']} files, {done['directories']} directories)")
    return EXIT_OK


def main(args: argparse.Namespace) -> int:
    return run(args, handle)
