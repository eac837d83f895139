"""What the tests share: a real server and its stubs (server), databases (databases), calling any RPC and reading
error details (rpc), hostile documents (hostile_files) and test job handlers (job_plugins). Fixtures stay in
tests/conftest.py."""
