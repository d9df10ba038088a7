#!/usr/bin/env bash
# bench/ui: the run page's metric chart (1,000 / 10,000 / 100,000 points)
# from navigation to drawn, beside a bare fetch + JSON.parse + uPlot page in
# the same headless chromium (bench/ui/ui_bench.mjs). Needs a build with the
# UI (MLFORGE_BUILD_UI=ON: ui/node_modules and <build>/ui/dist) and chromium.
# Usage: bench/ui/ui_bench.sh [build-dir] [ui_bench.mjs options, e.g. --compare-ui-dir DIST]
#        (BENCH_LOADS=7, BENCH_SIZES=1000,10000,100000)
set -euo pipefail
build=${1:-build}
shift || true
root=$(cd "$(dirname "$0")/../.." && pwd)
[[ "$build" = /* ]] || build="$root/$build"
echo "# machine: $(getconf _NPROCESSORS_ONLN) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(free -g | awk '/Mem:/{print $2}') GiB"
echo "# date: $(date -u +%Y-%m-%dT%H:%MZ)"
exec node "$root/bench/ui/ui_bench.mjs" --binary "$build/app/mlforge" --ui-dir "$build/ui/dist" \
  --loads "${BENCH_LOADS:-7}" --sizes "${BENCH_SIZES:-1000,10000,100000}" "$@"
