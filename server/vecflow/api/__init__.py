"""gRPC layer: servicers that translate messages to service calls, interceptors, error mapping."""
