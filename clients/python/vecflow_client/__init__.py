"""Python client for vecflow: typed stubs with authentication, and helpers for watching jobs."""

from vecflow_client.client import VecflowClient, metadata_interceptors

__all__ = ["VecflowClient", "metadata_interceptors"]
