"""What every client-side `vecflow` command shares: options, configuration, output, errors, exit codes.

Configuration precedence: flags > environment (VECFLOW_ADDRESS, VECFLOW_API_KEY, VECFLOW_ON_BEHALF_OF)
> config file (--config PATH, else VECFLOW_CONFIG, else $XDG_CONFIG_HOME/vecflow/config.toml, which
defaults to ~/.config/vecflow/config.toml; TOML with `address`, `api_key`, `on_behalf_of`)
> the default address 127.0.0.1:50051.

Exit codes: 0 success, 1 the work failed (a job, a parse, an item), 3 it was cancelled, 2 bad usage,
bad input, an error answer from the server or no connection, 130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tomllib
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path
from typing import TYPE_CHECKING, Any

import grpc

if TYPE_CHECKING:
    from google.protobuf.message import Message
    from rich.console import Console

    from vecflow_client import VecflowClient
    from vecflow_client.v1 import knowledge_base_service_pb2, vector_store_service_pb2

EXIT_OK, EXIT_FAILED, EXIT_ERROR, EXIT_CANCELLED, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
DEFAULT_ADDRESS = "127.0.0.1:50051"
CONFIG_KEYS = ("address", "api_key", "on_behalf_of")


class CliError(Exception):
    """A problem with what the user asked for: printed without a traceback, exit code 2."""


# Options ------------------------------------------------------------------------------------------


def add_options(parser: argparse.ArgumentParser) -> None:
    """Connection and output options, accepted before or after the subcommand (`kb --json list`, `kb list --json`)."""
    group = parser.add_argument_group("connection and output")
    s = argparse.SUPPRESS
    group.add_argument(
        "--address", default=s, help=f"server host:port (env VECFLOW_ADDRESS; default {DEFAULT_ADDRESS})"
    )
    group.add_argument("--api-key", default=s, help="API key (env VECFLOW_API_KEY)")
    group.add_argument("--on-behalf-of", default=s, help="recorded on what the call creates (env VECFLOW_ON_BEHALF_OF)")
    group.add_argument(
        "--config", default=s, help="TOML config file (env VECFLOW_CONFIG; default ~/.config/vecflow/config.toml)"
    )
    group.add_argument(
        "--json", action="store_true", default=s, help="machine-readable output: one JSON object per line"
    )


def add_command(sub: Any, name: str, **kwargs: Any) -> argparse.ArgumentParser:
    """A subcommand parser that also takes the shared options."""
    parser: argparse.ArgumentParser = sub.add_parser(name, **kwargs)
    add_options(parser)
    return parser


@dataclass
class Config:
    address: str = DEFAULT_ADDRESS
    api_key: str = ""
    on_behalf_of: str = ""
    config_file: Path | None = None


def default_config_path(env: dict[str, str] | os._Environ[str]) -> Path:
    base = env.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "vecflow" / "config.toml"


def load_config(args: argparse.Namespace, env: dict[str, str] | os._Environ[str] = os.environ) -> Config:
    """Resolve address, key and on-behalf-of: flags > environment > config file > defaults."""
    given = getattr(args, "config", None) or env.get("VECFLOW_CONFIG")
    path = Path(given).expanduser() if given else default_config_path(env)
    data: dict[str, Any] = {}
    if path.is_file():
        try:
            with path.open("rb") as handle:
                data = tomllib.load(handle)
        except (OSError, tomllib.TOMLDecodeError) as err:
            raise CliError(f"cannot read config file {path}: {err}") from None
        for key in CONFIG_KEYS:
            if key in data and not isinstance(data[key], str):
                raise CliError(f"config file {path}: {key} must be a string")
    elif given:
        raise CliError(f"config file {path} does not exist")

    def pick(flag: str, variable: str, key: str, default: str = "") -> str:
        return getattr(args, flag, None) or env.get(variable) or data.get(key) or default

    return Config(
        address=pick("address", "VECFLOW_ADDRESS", "address", DEFAULT_ADDRESS),
        api_key=pick("api_key", "VECFLOW_API_KEY", "api_key"),
        on_behalf_of=pick("on_behalf_of", "VECFLOW_ON_BEHALF_OF", "on_behalf_of"),
        config_file=path if data else None,
    )


# Output -------------------------------------------------------------------------------------------


def to_dict(message: Message) -> dict[str, Any]:
    """A message as JSON (field names as in the .proto), with 64-bit integers as numbers, not the strings
    of proto3 JSON: a person piping --json into jq compares counts as numbers."""
    from google.protobuf import json_format

    data = json_format.MessageToDict(message, preserving_proto_field_name=True)
    _numbers(data, message.DESCRIPTOR)
    return data


_INT64_TYPES = {3, 4, 6, 16, 18}  # FieldDescriptor.TYPE_INT64, UINT64, FIXED64, SFIXED64, SINT64


def _numbers(data: dict[str, Any], descriptor: Any) -> None:
    """Turn proto3 JSON's 64-bit integer strings back into numbers, in place, below `descriptor`."""
    for member in descriptor.fields:
        if member.name not in data:
            continue
        value = data[member.name]
        kind = member.message_type
        if kind is not None and kind.file.package != "google.protobuf":  # well-known types keep their JSON
            if kind.GetOptions().map_entry:
                inner = kind.fields_by_name["value"]
                for key, item in value.items():
                    if inner.message_type is not None and inner.message_type.file.package != "google.protobuf":
                        _numbers(item, inner.message_type)
                    elif inner.type in _INT64_TYPES:
                        value[key] = int(item)
            elif isinstance(value, list):
                for item in value:
                    _numbers(item, kind)
            else:
                _numbers(value, kind)
        elif member.type in _INT64_TYPES:
            data[member.name] = [int(v) for v in value] if isinstance(value, list) else int(value)


def short(enum: Any, value: int, prefix: str) -> str:
    """'JOB_STATUS_RUNNING' -> 'running'."""
    try:
        return str(enum.Name(value)).removeprefix(prefix).lower()
    except ValueError:
        return str(value)


def fmt_ms(ms: float) -> str:
    if ms < 1000:
        return f"{ms:.0f} ms"
    if ms < 60_000:
        return f"{ms / 1000:.1f} s"
    return f"{int(ms // 60_000)} min {ms % 60_000 / 1000:.0f} s"


def fmt_bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def fmt_time(ts: Any) -> str:
    if not ts.seconds and not ts.nanos:
        return ""
    return ts.ToDatetime(tzinfo=UTC).astimezone().strftime("%Y-%m-%d %H:%M:%S")


def struct_dict(struct: Any) -> dict[str, Any]:
    from google.protobuf import json_format

    return json_format.MessageToDict(struct) if struct is not None and struct.fields else {}


def parse_json_object(text: str | None, option: str) -> dict[str, Any] | None:
    if text is None:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise CliError(f"{option} must be a JSON object: {err}") from None
    if not isinstance(value, dict):
        raise CliError(f"{option} must be a JSON object, not {type(value).__name__}")
    return value


@dataclass
class Session:
    """One command run: its arguments, configuration, output and the jobs it is watching."""

    args: argparse.Namespace
    json: bool = False
    config: Config = field(default_factory=Config)
    watching: list[str] = field(default_factory=list)
    _console: Console | None = None
    _err: Console | None = None

    @property
    def console(self) -> Console:
        """stdout; a terminal gets live progress and colour, a pipe plain lines (rich decides)."""
        if self._console is None:
            from rich.console import Console

            console = Console(force_terminal=None, highlight=False)
            if not console.is_terminal and "COLUMNS" not in os.environ:
                console.width = 160  # wide enough that tables in captured output do not wrap names
            self._console = console
        return self._console

    @property
    def err(self) -> Console:
        if self._err is None:
            from rich.console import Console

            self._err = Console(stderr=True, highlight=False, force_terminal=None)
        return self._err

    @property
    def live(self) -> bool:
        """Whether to draw live progress (a terminal, and not --json)."""
        return not self.json and self.console.is_terminal

    def emit(self, value: dict[str, Any] | Message, **extra: Any) -> None:
        """One JSON object on its own line (--json)."""
        data = value if isinstance(value, dict) else to_dict(value)
        if extra:
            data = {**extra, **data}
        sys.stdout.write(json.dumps(data, default=str) + "\n")
        sys.stdout.flush()

    def line(self, text: Any = "", *, style: str | None = None) -> None:
        """A line for people (plain text unless it is a rich renderable)."""
        if isinstance(text, str):
            self.console.print(text, style=style, markup=False, highlight=False, soft_wrap=True)
        else:
            self.console.print(text)

    def note(self, text: str) -> None:
        """A remark on stderr (never mixed into --json output)."""
        self.err.print(text, markup=False, highlight=False, soft_wrap=True)

    def table(
        self,
        columns: Iterable[str],
        rows: Iterable[Iterable[Any]],
        title: str | None = None,
        wrap: Iterable[str] | None = None,
    ) -> None:
        """A table; with `wrap`, only those columns wrap (the others stay on one line). Not on a terminal
        (a pipe, a file): a header line and one line per row, cells separated by tabs, nothing drawn."""
        if not self.console.is_terminal:
            clean = str.maketrans({"\t": " ", "\n": " ", "\r": " "})
            lines = [
                "\t".join(columns),
                *("\t".join(("" if c is None else str(c)).translate(clean) for c in row) for row in rows),
            ]
            sys.stdout.write("\n".join(lines) + "\n")
            sys.stdout.flush()
            return
        from rich import box
        from rich.table import Table

        wrapping = None if wrap is None else set(wrap)
        table = Table(title=title, box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
        for column in columns:
            if wrapping is None or column in wrapping:
                table.add_column(column, overflow="fold")
            else:
                table.add_column(column, no_wrap=True)
        for row in rows:
            table.add_row(*("" if cell is None else str(cell) for cell in row))
        self.console.print(table)


# Running a command ----------------------------------------------------------------------------------

Handler = Callable[["Session", "VecflowClient"], Awaitable[int]]


def run(args: argparse.Namespace, handler: Handler, *, needs_key: bool = True) -> int:
    """Run an async command handler with a connected client; map errors and Ctrl-C to exit codes."""
    session = Session(args=args, json=bool(getattr(args, "json", False)))
    try:
        return asyncio.run(_run(session, handler, needs_key))
    except BrokenPipeError:  # `vecflow ... | head -1`: the reader has what it wanted
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so that the flush at exit does not complain either
        return EXIT_OK
    except KeyboardInterrupt:
        if session.watching:
            jobs = list(dict.fromkeys(session.watching))
            resume = "\n".join(f"  vecflow jobs watch {job_id}" for job_id in jobs[:5])
            more = f"\n  ... and {len(jobs) - 5} more" if len(jobs) > 5 else ""
            what = "the job goes on" if len(jobs) == 1 else "the jobs go on"
            session.note(f"\nstopped watching ({what} on the server); watch again with:\n{resume}{more}")
        else:
            session.note("\ninterrupted")
        return EXIT_INTERRUPTED


async def _run(session: Session, handler: Handler, needs_key: bool) -> int:
    from vecflow_client import VecflowClient

    try:
        session.config = load_config(session.args)
    except CliError as err:
        return fail(session, str(err))
    config = session.config
    if needs_key and not config.api_key:
        return fail(session, "an API key is required: --api-key, VECFLOW_API_KEY or api_key in the config file")
    async with VecflowClient(config.address, config.api_key, on_behalf_of=config.on_behalf_of) as client:
        try:
            return await handler(session, client)
        except CliError as err:
            return fail(session, str(err))
        except grpc.aio.AioRpcError as err:
            return rpc_failure(session, err)


def fail(session: Session, message: str, exit_code: int = EXIT_ERROR, **extra: Any) -> int:
    """Report an error on stderr (a JSON object with --json) and return the exit code."""
    if session.json:
        sys.stderr.write(json.dumps({"error": message, **extra}) + "\n")
    else:
        session.note(f"vecflow: {message}")
    return exit_code


def rpc_failure(session: Session, err: grpc.aio.AioRpcError) -> int:
    from vecflow_client import error_reason

    reason = error_reason(err)
    if err.code() == grpc.StatusCode.UNAVAILABLE:
        message = f"cannot reach the server at {session.config.address}: {err.details()}"
    else:
        message = f"{err.code().name}{f' ({reason})' if reason else ''}: {err.details()}"
    return fail(session, message, status=err.code().name, reason=reason)


def rpc_text(err: grpc.aio.AioRpcError) -> tuple[str, str]:
    """(reason or status code name, details) for a failed call."""
    from vecflow_client import error_reason

    return error_reason(err) or err.code().name, err.details() or ""


# Resolving names -------------------------------------------------------------------------------------


async def resolve_kb(client: VecflowClient, ref: str) -> knowledge_base_service_pb2.KnowledgeBase:
    """A knowledge base by id or by name (names are unique in a project)."""
    from vecflow_client.v1 import knowledge_base_service_pb2 as kb_pb2

    if ref.startswith("kb_"):
        try:
            request = kb_pb2.GetKnowledgeBaseRequest(kb_id=ref)
            return (await client.knowledge_bases.GetKnowledgeBase(request)).knowledge_base
        except grpc.aio.AioRpcError as err:
            if err.code() != grpc.StatusCode.NOT_FOUND:
                raise
    async for kb in client.iter_knowledge_bases(page_size=500):
        if kb.name == ref:
            return kb
    raise CliError(f"no knowledge base with id or name {ref!r}")


async def resolve_store(client: VecflowClient, ref: str) -> vector_store_service_pb2.VectorStore:
    """A vector store by id, or by name when exactly one store has it."""
    from vecflow_client.v1 import vector_store_service_pb2 as vs_pb2

    if ref.startswith("vs_"):
        try:
            request = vs_pb2.GetVectorStoreRequest(vector_store_id=ref)
            return (await client.vector_stores.GetVectorStore(request)).vector_store
        except grpc.aio.AioRpcError as err:
            if err.code() != grpc.StatusCode.NOT_FOUND:
                raise
    matches = [store async for store in client.iter_vector_stores(page_size=500) if store.name == ref]
    if len(matches) == 1:
        return matches[0]
    if matches:
        ids = ", ".join(store.id for store in matches)
        raise CliError(f"{len(matches)} vector stores are named {ref!r} ({ids}); give an id")
    raise CliError(f"no vector store with id or name {ref!r}")


def confirm(session: Session, question: str) -> bool:
    """Ask on a terminal (always yes when stdin is not one: scripts pass --yes or pipe)."""
    if getattr(session.args, "yes", False) or not sys.stdin.isatty():
        return True
    answer = input(f"{question} [y/N] ")
    return answer.strip().lower() in ("y", "yes")
