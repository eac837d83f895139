# Sourced by scripts/check_client.sh and clients/node/run-against-server.sh: start a real vecflow server for a
# client check. The caller defines $tmp (a scratch folder), $test_key, $start_seconds and the functions `say`
# and `show_server_log`; `start_test_server VECFLOW_BIN` sets $server_pid and $address (host:port).
# Port 0: the OS picks a free port and the server prints the one it bound, so there is no race.
start_test_server() {
  local vecflow_bin="$1"
  : >"$tmp/server.out"
  : >"$tmp/server.err"
  (
    cd "$tmp"
    export VECFLOW_DATA_DIR="$tmp/data"
    export VECFLOW_LISTEN_ADDRESS="127.0.0.1:0"
    export VECFLOW_METRICS_ADDRESS=""
    export VECFLOW_BOOTSTRAP_API_KEY="$test_key"
    export VECFLOW_SHUTDOWN_GRACE_SECONDS="2"
    exec "$vecflow_bin" serve
  ) >"$tmp/server.out" 2>"$tmp/server.err" &
  server_pid=$!

  address=""
  local deadline=$((SECONDS + start_seconds))
  while [[ -z "$address" ]]; do
    if ! kill -0 "$server_pid" 2>/dev/null; then
      say "the server exited before it was listening"
      show_server_log
      exit 1
    fi
    if ((SECONDS >= deadline)); then
      say "the server was not listening after ${start_seconds} s"
      show_server_log
      exit 1
    fi
    address="$(sed -n 's/^vecflow listening on \([^ ]*:[0-9][0-9]*\)$/\1/p' "$tmp/server.out" | head -n 1)"
    [[ -n "$address" ]] || sleep 0.2
  done
}
