#!/usr/bin/env bash
# Runs bench/tracking on SQLite and PostgreSQL, each beside its raw-library
# limit, and the Python MLflow server as a peer when one is available
# (MLFLOW_PEER_CMD: a command that starts it; it gets PORT and DIR in its
# environment and must listen on 127.0.0.1:$PORT).
# Server on CPU 0, load generator on CPU 1, so they do not fight for a core.
set -euo pipefail
build=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/$build/app/mlforge"
bench="$root/$build/bench/tracking_bench"
seconds=${BENCH_SECONDS:-5}
work=$(mktemp -d -t mlforge-bench.XXXXXX)
chmod 755 "$work"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  # The Python peer forks gunicorn workers; they carry the work dir in their arguments.
  pkill -f "$work" 2>/dev/null || true
  "$root/scripts/pg-test-server.sh" stop "$work/pg" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# Starts mlforge on CPU 0; sets $port. Not in a subshell, so pids+= sticks.
start_mlforge() {  # $1 = backend uri, $2 = dir
  mkdir -p "$2"
  taskset -c 0 "$bin" server --port 0 --port-file "$2/port" --data-dir "$2" \
    --backend-store-uri "$1" >"$2/server.out" 2>"$2/server.log" &
  pids+=($!)
  for _ in $(seq 1 300); do [[ -s "$2/port" ]] && break; sleep 0.05; done
  port=$(cat "$2/port")
}

echo "# machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(free -g | awk '/Mem:/{print $2}') GiB"
echo "# date: $(date -u +%Y-%m-%dT%H:%MZ)"

# BENCH_ONLY=tracking, data, drift or ui runs one of the benches.
only=${BENCH_ONLY:-all}
if [[ "$only" == all || "$only" == tracking ]]; then
start_mlforge "sqlite:///$work/sqlite/mlforge.db" "$work/sqlite"
taskset -c 1 "$bench" --port "$port" --label mlforge-sqlite --seconds "$seconds"
taskset -c 0 "$bench" --raw-sqlite "$work/raw.db"

pg_uri=$("$root/scripts/pg-test-server.sh" start "$work/pg" | tail -n 1)
start_mlforge "$pg_uri" "$work/postgres"
taskset -c 1 "$bench" --port "$port" --label mlforge-pg --seconds "$seconds"
taskset -c 0 "$bench" --raw-pg "$pg_uri"

if [[ -n "${MLFLOW_PEER_CMD:-}" ]]; then
  peer_port=$((20000 + RANDOM % 20000))
  mkdir -p "$work/peer"
  PORT=$peer_port DIR="$work/peer" taskset -c 0 bash -c "$MLFLOW_PEER_CMD" >"$work/peer/log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 600); do
    curl -sf "http://127.0.0.1:$peer_port/health" >/dev/null 2>&1 && break
    sleep 0.1
  done
  taskset -c 1 "$bench" --port "$peer_port" --label mlflow-py --seconds "$seconds" \
    --search-runs "${PEER_SEARCH_RUNS:-10000}"
fi

fi

# bench/data: `mlforge data` beside openssl dgst and cp (docs/benchmarks.md).
if [[ "$only" == all || "$only" == data ]]; then
  echo
  "$root/bench/data/data_bench.sh" "$build"
fi

# bench/drift: the drift report beside scipy on the same data (docs/benchmarks.md).
if [[ "$only" == all || "$only" == drift ]]; then
  echo
  "$root/bench/drift/drift_bench.sh" "$build"
fi

# bench/ui: the run page's metric chart beside a bare fetch + uPlot page (docs/benchmarks.md).
if [[ "$only" == ui ]] || [[ "$only" == all && -d "$root/$build/ui/dist" ]]; then
  echo
  "$root/bench/ui/ui_bench.sh" "$build"
fi
