"""The package's layering, checked from its imports (every import, also those inside functions and under
TYPE_CHECKING): no import cycles; api → services → operations → {jobs, pipeline, storage, vectors}, never
upwards; only `api/` (and the composition root, the CLI) speaks gRPC or imports the generated messages
(vecflow_client.v1); the client (clients/python) imports no server code; only `vectors/` imports pymilvus; only
`storage/` imports SQLAlchemy, and it imports no layer above it; the pipeline imports no jobs or services."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "server" / "vecflow"
CORE = ("services", "operations", "jobs", "pipeline", "storage", "vectors")  # the layers below the API
BELOW_OPERATIONS = ("jobs", "pipeline", "storage", "vectors")  # what operations may build on (no services)


def modules() -> dict[str, Path]:
    found = {}
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        if "v1" in parts or "migrations" in parts:
            continue  # generated stubs; Alembic scripts (kept free of package imports)
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_no_import_cycles() -> None:
    mods = modules()
    graph = {name: {i for i in imports(path) if i in mods and i != name} for name, path in mods.items()}
    done: set[str] = set()

    def visit(name: str, trail: list[str]) -> None:
        if name in trail:
            cycle = [*trail[trail.index(name) :], name]
            raise AssertionError("import cycle: " + " → ".join(cycle))
        if name in done:
            return
        for target in sorted(graph[name]):
            visit(target, [*trail, name])
        done.add(name)

    for name in sorted(graph):
        visit(name, [])


def test_layers_below_the_api_know_no_grpc_and_only_vectors_knows_milvus() -> None:
    problems = []
    for name, path in modules().items():
        layer = name.split(".")[1] if "." in name else ""
        used = imports(path)
        if layer in CORE:
            for banned in ("grpc", "vecflow_client", "vecflow.api"):  # vecflow_client.v1: the generated messages
                if any(i == banned or i.startswith(banned + ".") for i in used):
                    problems.append(f"{name} imports {banned}")
        if layer == "pipeline":  # the pipeline knows no jobs: operations map its failures (CodedFailure)
            problems += [
                f"{name} imports {i}" for i in sorted(used) if i.startswith(("vecflow.jobs", "vecflow.services"))
            ]
        if layer == "operations":  # api → services → operations → {jobs, pipeline, storage, vectors}
            problems += [f"{name} imports {i}" for i in sorted(used) if i.startswith("vecflow.services")]
        if layer in BELOW_OPERATIONS:
            problems += [f"{name} imports {i}" for i in sorted(used) if i.startswith("vecflow.operations")]
        if layer != "vectors" and any(i == "pymilvus" or i.startswith("pymilvus.") for i in used):
            problems.append(f"{name} imports pymilvus (only vecflow.vectors may)")
        if layer != "storage" and any(i == "sqlalchemy" or i.startswith("sqlalchemy.") for i in used):
            problems.append(f"{name} imports sqlalchemy (only vecflow.storage may: its statements live there)")
        if layer == "storage":  # the bottom layer: it builds on nothing above it
            problems += [
                f"{name} imports {i}"
                for i in sorted(used)
                if i.startswith(("vecflow.services", "vecflow.operations", "vecflow.jobs", "vecflow.api"))
            ]
    assert problems == []


def test_every_job_operation_of_the_contract_has_its_handler(tmp_path: Path) -> None:
    """app.py registers the handlers in one list; each JobOperation of the proto has one, and no other."""
    from vecflow.api.convert import JOB_OPERATION
    from vecflow.app import App
    from vecflow.config import Settings
    from vecflow_client.v1 import job_pb2

    app = App(Settings.from_env(env={}, data_dir=tmp_path / "data", metrics_address="", warm_up=False))
    declared = {JOB_OPERATION.word(value) for value in job_pb2.JobOperation.values() if value}
    assert set(app.engine._handlers) == declared


def test_the_client_imports_no_server() -> None:
    """Everything under clients/python (SDK, stubs, CLI, examples) installs and runs without the `vecflow` package."""
    client = ROOT.parent.parent / "clients" / "python"
    problems = []
    for path in sorted(client.rglob("*.py")):
        for name in sorted(imports(path)):
            if name == "vecflow" or name.startswith("vecflow."):
                problems.append(f"{path.relative_to(client)} imports {name}")
    assert problems == []
