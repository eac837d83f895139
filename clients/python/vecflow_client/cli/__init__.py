"""The `vecflow` command.

Client side, over gRPC with the SDK: `kb`, `upload`, `stores`, `batches`, `tasks`, `search` and `jobs`;
`health` asks grpc.health.v1 (a container probe: exit 0 when SERVING). See vecflow_client/cli/common.py for
the shared options, configuration and exit codes. Other installed distributions add commands through the
`vecflow.cli` entry-point group: each entry point is a function that takes the argparse subparsers, adds its
commands and returns {command name: function(args) -> exit code}. The server (`vecflow`) adds `serve`,
`admin` and `migrate` that way.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from importlib.metadata import entry_points
from typing import Any

from vecflow_client.cli import health, jobs, kb, search, stores, tasks, upload

ENTRY_POINT_GROUP = "vecflow.cli"

Command = Callable[[argparse.Namespace], int]
Register = Callable[[Any], Mapping[str, Command]]

CLIENT_COMMANDS: dict[str, Command] = {
    "jobs": jobs.main,
    "kb": kb.main,
    "upload": upload.main,
    "stores": stores.main,
    "batches": stores.main,
    "tasks": tasks.main,
    "search": search.main,
    "health": health.main,
}


def installed_registrars() -> list[Register]:
    """The command-adding functions that installed distributions declare in the `vecflow.cli` group."""
    found: list[Register] = []
    for point in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda p: p.name):
        try:
            register = point.load()
        except Exception as err:  # a broken plugin must not take the client commands down with it
            print(f"vecflow: cannot load the commands of {point.value}: {err}", file=sys.stderr)
            continue
        if register not in found:  # one function declared twice (by two metadata copies) adds its commands once
            found.append(register)
    return found


def build_parser(extra: Iterable[Register] = ()) -> tuple[argparse.ArgumentParser, dict[str, Command]]:
    """The argument parser with the client commands and those of every registrar, and who runs each."""
    parser = argparse.ArgumentParser(prog="vecflow", description="vecflow: documents in, searchable vectors out.")
    sub = parser.add_subparsers(dest="command", required=True)
    kb.add_parser(sub)
    upload.add_parser(sub)
    stores.add_parser(sub)
    tasks.add_parser(sub)
    search.add_parser(sub)
    jobs.add_parser(sub)
    health.add_parser(sub)
    commands = dict(CLIENT_COMMANDS)
    registrars = installed_registrars()
    registrars += [register for register in extra if register not in registrars]
    for register in registrars:
        commands.update(register(sub))
    return parser, commands


def main(argv: Sequence[str] | None = None, extra: Iterable[Register] = ()) -> int:
    """Run one `vecflow` command; `extra` adds registrars beyond the installed ones (e.g. `python -m vecflow`)."""
    parser, commands = build_parser(extra)
    args = parser.parse_args(argv)
    return commands[args.command](args)
