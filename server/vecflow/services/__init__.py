"""Domain services: validation, tenancy and orchestration, with no gRPC imports."""
