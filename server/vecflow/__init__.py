"""vecflow: a gRPC service that turns documents into searchable vectors."""

__version__ = "0.1.0"
