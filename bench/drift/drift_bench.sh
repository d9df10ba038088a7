#!/usr/bin/env bash
# bench/drift: `mlforge drift` on 1,000,000 rows x 100 columns (CSV), timed as
# CSV parse and drift report apart, beside scipy computing the same tests on
# the same data in the same run; plus the sketch update cost and the capture
# worker's cost per request beside the profile updates alone.
# Usage: bench/drift/drift_bench.sh [build-dir]
#   (BENCH_ROWS=1000000 BENCH_COLS=100 BENCH_REPEAT=3 BENCH_SCIPY_REPEAT=3)
set -euo pipefail
build=${1:-build}
root=$(cd "$(dirname "$0")/../.." && pwd)
[[ "$build" = /* ]] || build="$root/$build"
bench="$build/bench/drift_bench"
bin="$build/app/mlforge"
rows=${BENCH_ROWS:-1000000}
cols=${BENCH_COLS:-100}
repeat=${BENCH_REPEAT:-3}
scipy_repeat=${BENCH_SCIPY_REPEAT:-$repeat}
work=$(mktemp -d -t mlforge-drift-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT

now() { date +%s.%N; }
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

echo "# machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(free -g | awk '/Mem:/{print $2}') GiB; load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# date: $(date -u +%Y-%m-%dT%H:%MZ); $rows rows x $cols columns; medians of $repeat runs"

t0=$(now)
"$bench" generate --dir "$work" --rows "$rows" --cols "$cols"
echo "generated in $(echo "$(now) - $t0" | bc -l | cut -c1-6) s: ref.csv $(du -m "$work/ref.csv" | cut -f1) MiB, cur.csv $(du -m "$work/cur.csv" | cut -f1) MiB"

"$bench" run --dir "$work" --repeat "$repeat" | tee "$work/ours.txt"

runs=()
for _ in $(seq 1 "$repeat"); do
  t=$(now)
  "$bin" drift --reference "$work/ref.csv" --current "$work/cur.csv" --json "$work/e2e.json" --html "$work/e2e.html" -q
  runs+=("$(echo "$(now) - $t" | bc -l)")
done
echo "end_to_end_seconds $(median "${runs[@]}") (runs: ${runs[*]})"
echo "html_kib $(( $(stat -c %s "$work/e2e.html") / 1024 ))"

/usr/bin/python3 "$root/bench/drift/scipy_baseline.py" "$work" "$scipy_repeat" | tee "$work/scipy.txt"

"$bench" sketch
"$bench" capture --dir "$work"

report=$(awk '/^report_seconds/{print $2}' "$work/ours.txt")
report_cpu=$(awk '/^report_cpu_seconds/{print $2}' "$work/ours.txt")
scipy=$(awk '/^scipy_seconds/{print $2}' "$work/scipy.txt")
scipy_cpu=$(awk '/^scipy_cpu_seconds/{print $2}' "$work/scipy.txt")
echo
echo "drift report: $report s wall, $report_cpu s CPU on $(nproc) cores (floor < 5 s); scipy: $scipy s wall, $scipy_cpu s CPU"
echo "scipy / mlforge: $(echo "scale=1; $scipy / $report" | bc -l)x wall, $(echo "scale=1; $scipy_cpu / $report_cpu" | bc -l)x CPU (floor >= 20x)"
