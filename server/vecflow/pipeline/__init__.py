"""The ingestion pipeline: fetch, detect, parse, chunk, embed."""
