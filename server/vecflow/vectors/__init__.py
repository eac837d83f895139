"""Vector storage in Milvus."""
