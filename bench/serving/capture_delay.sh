#!/usr/bin/env bash
# bench/serving: how much the live monitor's capture worker delays serving,
# measured directly rather than as a p99 difference (which this shared
# machine's noise hides; docs/benchmarks.md). Open-loop load at a fixed rate
# with every request captured; `perf sched` records CPU 0 (the server's) for
# a few seconds, and worker_delay.py adds up, for every run of a server
# thread, how long the worker held the CPU between that thread's wakeup and
# its start. Needs perf (Debian: linux-perf) and permission to trace.
# Usage: bench/serving/capture_delay.sh [build-dir]   (BENCH_OPEN_RATE=8000)
set -euo pipefail
build=${1:-build}
root=$(cd "$(dirname "$0")/../.." && pwd)
[[ "$build" = /* ]] || build="$root/$build"
bin="$build/app/mlforge"
here="$root/bench/serving"
rate=${BENCH_OPEN_RATE:-8000}
command -v perf >/dev/null || { echo "capture_delay: needs perf (apt-get install linux-perf)" >&2; exit 2; }
work=$(mktemp -d -t mlforge-capture-delay.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
# shellcheck source=bench/serving/bench_lib.sh
source "$here/bench_lib.sh"

"$build/bench/serving_runtime_bench" --write-package "$work/model" --write-csv "$work/rows.csv" \
  --csv-rows 1000 >/dev/null
start_mlforge
deploy_bench_model "$work/model"
cut -d, -f2- "$work/rows.csv" >"$work/reference.csv"
create_bench_monitor "$work/reference.csv"
write_infer_body "$work/body.json"

taskset -c 1 "$build/bench/serving_open_loop" --url "$url/v2/models/bench/infer" \
  --body-file "$work/body.json" --rate "$rate" --seconds 10 --connections 16 >"$work/load.txt" &
load=$!
sleep 3
perf sched record -C 0 -o "$work/sched.data" -- sleep 4 >/dev/null 2>&1
wait "$load"
# The worker is the server's one SCHED_IDLE thread (policy 5 in /proc/.../stat).
worker=$(for t in /proc/"$server_pid"/task/*; do awk '$41 == 5 {print $1}' "$t/stat"; done | head -n 1)
[[ -n $worker ]] || { echo "capture_delay: no idle-priority thread in the server" >&2; exit 1; }
perf sched timehist -i "$work/sched.data" >"$work/timehist.txt" 2>/dev/null
echo "# $(date -u +%Y-%m-%dT%H:%MZ); open loop at $rate req/s on CPU 1, server on CPU 0, every request captured"
echo "load: $(cat "$work/load.txt")"
echo "captured: $(curl -s "$url/metrics" | awk '/^mlforge_monitor_captured_requests/ {print $2}')," \
  "dropped: $(curl -s "$url/metrics" | awk '/^mlforge_monitor_dropped_requests/ {print $2}')"
/usr/bin/python3 "$here/worker_delay.py" "$work/timehist.txt" "$worker" "$server_pid"
