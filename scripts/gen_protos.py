"""Regenerate the Python stubs for proto/ into server/vecflow/v1 (the only way they change).

Usage:
    python scripts/gen_protos.py          # rewrite the committed stubs
    python scripts/gen_protos.py --check  # exit 1 when the committed stubs drift from proto/
"""

from __future__ import annotations

import argparse
import filecmp
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROTO_ROOT = ROOT / "proto"
PACKAGE = Path("vecflow") / "v1"
OUT_ROOT = ROOT / "server"
INIT_TEXT = '"""Generated gRPC stubs for vecflow.v1. Do not edit: run scripts/gen_protos.py."""\n'


def generate(out_root: Path) -> None:
    """Run protoc (from grpcio-tools) over every .proto under proto/vecflow/v1."""
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
    (out_root / PACKAGE / "__init__.py").write_text(INIT_TEXT)


def generated_files(root: Path) -> set[str]:
    return {p.name for p in (root / PACKAGE).iterdir() if p.is_file()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="fail when committed stubs differ from proto/")
    args = parser.parse_args()
    if not args.check:
        target = OUT_ROOT / PACKAGE
        if target.exists():
            shutil.rmtree(target)
        target.mkdir(parents=True)
        generate(OUT_ROOT)
        print(f"generated {len(generated_files(OUT_ROOT))} files into {target.relative_to(ROOT)}")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        tmp_root = Path(tmp)
        (tmp_root / PACKAGE).mkdir(parents=True)
        generate(tmp_root)
        fresh, committed = (
            generated_files(tmp_root),
            generated_files(OUT_ROOT) if (OUT_ROOT / PACKAGE).exists() else set(),
        )
        drift = sorted(fresh ^ committed)
        drift += sorted(
            name
            for name in fresh & committed
            if not filecmp.cmp(tmp_root / PACKAGE / name, OUT_ROOT / PACKAGE / name, shallow=False)
        )
    if drift:
        print("generated stubs drift from proto/: " + ", ".join(drift), file=sys.stderr)
        print("run: python scripts/gen_protos.py", file=sys.stderr)
        return 1
    print("stubs match proto/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
