"""The server's `vecflow` commands: `serve` runs the server, `admin` manages tenants and keys, `migrate` the schema.

These talk to the database and import the server. The `vecflow` command itself, with the client commands,
is vecflow_client.cli; it finds these through the `vecflow.cli` entry point (`register`). Server modules are
imported only when a server command runs, so client commands start quickly.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from vecflow_client import cli as client_cli

if TYPE_CHECKING:
    from vecflow.config import Settings
    from vecflow.services.auth import AuthService, IssuedKey

SERVER_COMMANDS = ("serve", "migrate", "admin")


def _print_key(key: IssuedKey, heading: str) -> None:
    print(heading)
    print(f"  account: {key.account_id}\n  project: {key.project_id}\n  key id:  {key.key_id}")
    print(f"  API key: {key.secret}")
    print("  (shown once; it is stored hashed. Send it as metadata 'x-api-key' or 'authorization: Bearer'.)")
    sys.stdout.flush()


async def _serve(settings: Settings) -> int:
    from vecflow.app import App

    app = App(settings)
    await app.start()
    if app.bootstrap_key is not None:
        if settings.bootstrap_api_key:
            print("Created the default account and project for VECFLOW_BOOTSTRAP_API_KEY.")
        else:
            _print_key(app.bootstrap_key, "Created the default account, project and API key:")
    print(f"vecflow listening on {app.address}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    waiter = asyncio.create_task(app.wait())
    stopper = asyncio.create_task(stop.wait())
    await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
    await app.stop()
    waiter.cancel()
    stopper.cancel()
    return 0


async def _with_auth(settings: Settings, action: Callable[[AuthService], Awaitable[int]]) -> int:
    from vecflow.services.auth import AuthService
    from vecflow.storage import migrate
    from vecflow.storage.db import Database

    db = Database(settings.database_url)
    try:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        await migrate.upgrade(db)
        return await action(AuthService(db))
    finally:
        await db.dispose()


def _emit(rows: Sequence[dict[str, Any]], as_json: bool) -> None:
    if as_json:
        for row in rows:
            print(json.dumps(row, default=str))
        return
    for row in rows:
        print("  ".join(f"{k}={v}" for k, v in row.items()))


async def _admin(settings: Settings, args: argparse.Namespace) -> int:
    async def run(auth: AuthService) -> int:
        cmd = args.admin_command
        if cmd == "init":
            account = await auth.create_account(args.account)
            project = await auth.create_project(account.id, args.project)
            _print_key(await auth.create_key(project.id, name=args.key_name), "Created account, project and API key:")
        elif cmd == "create-account":
            account = await auth.create_account(args.name)
            _emit([{"id": account.id, "name": account.name}], args.json)
        elif cmd == "create-project":
            project = await auth.create_project(args.account, args.name)
            _emit([{"id": project.id, "account_id": project.account_id, "name": project.name}], args.json)
        elif cmd == "create-key":
            _print_key(await auth.create_key(args.project, name=args.name), "Created API key:")
        elif cmd == "revoke-key":
            await auth.revoke_key(args.key_id)
            print(f"revoked {args.key_id}")
        elif cmd == "list-accounts":
            _emit(
                [{"id": a.id, "name": a.name, "created_at": a.created_at} for a in await auth.list_accounts()],
                args.json,
            )
        elif cmd == "list-projects":
            projects = await auth.list_projects(args.account)
            _emit([{"id": p.id, "account_id": p.account_id, "name": p.name} for p in projects], args.json)
        elif cmd == "list-keys":
            keys = await auth.list_keys(args.project)
            _emit(
                [
                    {
                        "id": k.id,
                        "project_id": k.project_id,
                        "name": k.name,
                        "prefix": k.prefix,
                        "revoked": bool(k.revoked_at),
                    }
                    for k in keys
                ],
                args.json,
            )
        return 0

    return await _with_auth(settings, run)


def register(sub: Any) -> dict[str, Callable[[argparse.Namespace], int]]:
    """Add `serve`, `migrate` and `admin` to the `vecflow` command (the `vecflow.cli` entry point)."""
    serve = sub.add_parser("serve", help="run the gRPC server (configured by VECFLOW_* variables)")
    serve.add_argument("--listen", help="host:port (default VECFLOW_LISTEN_ADDRESS or 127.0.0.1:50051)")
    serve.add_argument("--data-dir", help="data directory (default VECFLOW_DATA_DIR or ./vecflow-data)")
    serve.add_argument(
        "--role",
        choices=("all", "api", "worker"),
        help="all: API and jobs; api: the API only, no jobs; worker: jobs, and only health on the port "
        "(default VECFLOW_ROLE or all)",
    )

    sub.add_parser("migrate", help="bring the database schema up to date and exit")

    admin = sub.add_parser("admin", help="manage accounts, projects and API keys (talks to the database directly)")
    admin.add_argument("--json", action="store_true", help="print one JSON object per line")
    asub = admin.add_subparsers(dest="admin_command", required=True)
    init = asub.add_parser("init", help="create an account, a project and an API key in one step")
    init.add_argument("--account", required=True)
    init.add_argument("--project", default="default")
    init.add_argument("--key-name", default="")
    p = asub.add_parser("create-account")
    p.add_argument("name")
    p = asub.add_parser("create-project")
    p.add_argument("--account", required=True, help="account id")
    p.add_argument("name")
    p = asub.add_parser("create-key", help="issue an API key for a project (shown once)")
    p.add_argument("--project", required=True, help="project id")
    p.add_argument("--name", default="")
    p = asub.add_parser("revoke-key")
    p.add_argument("key_id")
    asub.add_parser("list-accounts")
    p = asub.add_parser("list-projects")
    p.add_argument("--account", default="")
    p = asub.add_parser("list-keys")
    p.add_argument("--project", default="")
    _list_first(sub, ("serve", "migrate"))
    return dict.fromkeys(SERVER_COMMANDS, run_command)


def _list_first(sub: Any, names: Sequence[str]) -> None:
    """Keep `vecflow --help` as it always was: serve and migrate before the client commands, admin last."""
    sub._choices_actions.sort(key=lambda action: action.dest not in names)  # stable: the rest keep their order
    ordered = sorted(sub.choices.items(), key=lambda item: item[0] not in names)
    sub.choices.clear()  # in place: argparse looks parsers up in this same dict
    sub.choices.update(ordered)


def build_parser() -> argparse.ArgumentParser:
    """The whole `vecflow` command: the client commands and the server's."""
    return client_cli.build_parser([register])[0]


def main(argv: Sequence[str] | None = None) -> int:
    """`vecflow` with the server's commands, also when no entry point is installed (`python -m vecflow`)."""
    return client_cli.main(argv, extra=[register])


def run_command(args: argparse.Namespace) -> int:
    """Run `serve`, `migrate` or `admin ...`."""
    from vecflow import logs
    from vecflow.config import Settings, SettingsError
    from vecflow.errors import VecflowError
    from vecflow.storage.locks import SingleNodeDatabase

    try:
        overrides: dict[str, Any] = {}
        if getattr(args, "listen", None):
            overrides["listen_address"] = args.listen
        if getattr(args, "data_dir", None):
            overrides["data_dir"] = args.data_dir
        if getattr(args, "role", None):
            overrides["role"] = args.role
        settings = Settings.from_env(**overrides)
    except SettingsError as err:
        print(f"vecflow: configuration error: {err}", file=sys.stderr)
        return 2
    logs.configure(settings.log_level, settings.replica_id)
    try:
        if args.command == "serve":
            return asyncio.run(_serve(settings))
        if args.command == "migrate":

            async def run_migrate(_auth: AuthService) -> int:
                print("schema is up to date")
                return 0

            return asyncio.run(_with_auth(settings, run_migrate))
        return asyncio.run(_admin(settings, args))
    except SettingsError as err:  # one found only when serving starts (e.g. what the Milvus server builds)
        print(f"vecflow: configuration error: {err}", file=sys.stderr)
        return 2
    except (VecflowError, SingleNodeDatabase) as err:
        print(f"vecflow: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # `python -m vecflow.cli`: the registrar must be vecflow.cli's, as the entry point's is
    from vecflow.cli import main as package_main

    sys.exit(package_main())
