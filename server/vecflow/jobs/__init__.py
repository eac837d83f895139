"""The job engine: durable jobs, their append-only history, workers with leases, and live watch fan-out."""
