"""Regenerate the Python stubs for proto/ into clients/python/vecflow_client/v1 (the only way they change).

protoc names modules after proto paths (proto/vecflow/v1/x.proto -> vecflow/v1/x_pb2.py, importing its
siblings as `vecflow.v1`), so the stubs are generated into a temporary folder and their imports rewritten
to `vecflow_client.v1` before they are written (or, with --check, compared).

Usage:
    python scripts/gen_protos.py          # rewrite the committed stubs
    python scripts/gen_protos.py --check  # exit 1 when the committed stubs drift from proto/
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROTO_ROOT = ROOT / "proto"
PACKAGE = Path("vecflow") / "v1"  # where protoc puts the stubs, from the proto paths
TARGET = ROOT / "clients" / "python" / "vecflow_client" / "v1"  # where they live, importable as vecflow_client.v1
MODULE = "vecflow_client.v1"
INIT_TEXT = '"""Generated gRPC stubs for vecflow.v1. Do not edit: run scripts/gen_protos.py."""\n'

# `from vecflow.v1 import x_pb2` / `import vecflow.v1.x_pb2` lines, and the module name each _pb2.py
# registers its classes under (their __module__); the proto package `vecflow.v1` itself stays as it is.
IMPORT_LINE = re.compile(r"^(from|import) vecflow\.v1\b", re.MULTILINE)
MODULE_NAME = re.compile(r"(BuildTopDescriptorsAndMessages\(DESCRIPTOR, )'vecflow\.v1\.(\w+)'")


def rewrite(text: str) -> str:
    """A generated stub's text with its own package's imports pointing at vecflow_client.v1."""
    text = IMPORT_LINE.sub(rf"\1 {MODULE}", text)
    return MODULE_NAME.sub(rf"\1'{MODULE}.\2'", text)


def generate(out_root: Path) -> None:
    """Run protoc (from grpcio-tools) over every .proto under proto/vecflow/v1, into out_root/vecflow/v1."""
    import grpc_tools

    protos = sorted(str(p.relative_to(PROTO_ROOT)) for p in (PROTO_ROOT / PACKAGE).glob("*.proto"))
    well_known = Path(grpc_tools.__file__).parent / "_proto"
    # mypy-protobuf's plugin sits beside this interpreter (the venv's bin), which need not be on PATH.
    plugin = Path(sys.executable).parent / "protoc-gen-mypy_grpc"
    if not plugin.exists():
        found = shutil.which("protoc-gen-mypy_grpc")
        if found is None:
            raise SystemExit("protoc-gen-mypy_grpc not found: pip install mypy-protobuf (pyproject's dev extra)")
        plugin = Path(found)
    (out_root / PACKAGE).mkdir(parents=True, exist_ok=True)
    cmd = [
        sys.executable,
        "-m",
        "grpc_tools.protoc",
        f"-I{PROTO_ROOT}",
        f"-I{well_known}",
        f"--plugin=protoc-gen-mypy_grpc={plugin}",
        f"--python_out={out_root}",
        f"--pyi_out={out_root}",
        f"--grpc_python_out={out_root}",
        f"--mypy_grpc_out={out_root}",
        *protos,
    ]
    done = subprocess.run(cmd, cwd=PROTO_ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        sys.stderr.write(done.stdout + done.stderr)
        raise SystemExit(f"protoc failed with exit code {done.returncode}")


def stubs() -> dict[str, str]:
    """Every stub file's name and final text (imports rewritten), generated fresh from proto/."""
    with tempfile.TemporaryDirectory() as tmp:
        generate(Path(tmp))
        out = {p.name: rewrite(p.read_text()) for p in (Path(tmp) / PACKAGE).iterdir() if p.is_file()}
    out["__init__.py"] = INIT_TEXT
    return out


def committed() -> dict[str, str]:
    """The stub files as they are in the repository."""
    if not TARGET.is_dir():
        return {}
    return {p.name: p.read_text() for p in TARGET.iterdir() if p.is_file()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="fail when committed stubs differ from proto/")
    args = parser.parse_args()
    fresh = stubs()
    if not args.check:
        if TARGET.exists():
            shutil.rmtree(TARGET)
        TARGET.mkdir(parents=True)
        for name, text in sorted(fresh.items()):
            (TARGET / name).write_text(text)
        print(f"generated {len(fresh)} files into {TARGET.relative_to(ROOT)}")
        return 0
    have = committed()
    drift = sorted(fresh.keys() ^ have.keys())
    drift += sorted(name for name in fresh.keys() & have.keys() if fresh[name] != have[name])
    if drift:
        print("generated stubs drift from proto/: " + ", ".join(drift), file=sys.stderr)
        print("run: python scripts/gen_protos.py", file=sys.stderr)
        return 1
    print("stubs match proto/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
