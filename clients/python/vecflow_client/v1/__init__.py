"""Generated gRPC stubs for vecflow.v1. Do not edit: run scripts/gen_protos.py."""
