#!/usr/bin/env bash
# bench/data: `mlforge data` beside the raw limits measured in the same run
# on the same bytes (openssl dgst -sha256, cp). Prints medians and ratios.
# Usage: bench/data/data_bench.sh [build-dir]   (BENCH_REPEAT=3, BENCH_SMALL_FILES=100000, BENCH_BIG_MIB=1024)
set -euo pipefail
build=${1:-build}
root=$(cd "$(dirname "$0")/../.." && pwd)
bin="$root/$build/app/mlforge"
[[ "$build" = /* ]] && bin="$build/app/mlforge"
repeat=${BENCH_REPEAT:-3}
small_files=${BENCH_SMALL_FILES:-100000}
big_mib=${BENCH_BIG_MIB:-1024}
work=$(mktemp -d -t mlforge-data-bench.XXXXXX)
server_pid=
cleanup() {
  [[ -n "$server_pid" ]] && kill "$server_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

now() { date +%s.%N; }
# median of the arguments
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
# times a command $repeat times after running $setup; prints the median seconds
timed() {  # $1 = setup command, rest = command
  local setup=$1; shift
  local runs=()
  for _ in $(seq 1 "$repeat"); do
    eval "$setup"
    sync
    local t0; t0=$(now)
    "$@" >/dev/null
    runs+=("$(echo "$(now) - $t0" | bc -l)")
  done
  median "${runs[@]}"
}
ratio() { echo "scale=2; $1 / $2" | bc -l; }
rate() { echo "scale=0; $1 / $2" | bc -l; }

echo "# machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(free -g | awk '/Mem:/{print $2}') GiB, $(stat -f -c %T "$work")"
echo "# date: $(date -u +%Y-%m-%dT%H:%MZ); medians of $repeat runs"

# --- one 1 GiB file -------------------------------------------------------
mkdir -p "$work/big/ws"
head -c $((big_mib << 20)) /dev/urandom >"$work/big/ws/big.bin"
mib=$big_mib
t_dgst=$(timed : openssl dgst -sha256 "$work/big/ws/big.bin")
t_cp=$(timed "rm -f $work/big/copy.bin" cp "$work/big/ws/big.bin" "$work/big/copy.bin")
rm -f "$work/big/copy.bin"
cd "$work/big/ws"
t_add_big=$(timed "rm -rf .mlforge big.bin.mlfd" "$bin" data -q add big.bin)
# Hashing alone through mlforge: status with no stat cache reads the file.
t_hash_big=$(timed "rm -f .mlforge/stat-cache" "$bin" data -q status big.bin.mlfd)
echo
echo "| $mib MiB file | seconds | MiB/s | vs raw |"
echo "| --- | --- | --- | --- |"
echo "| openssl dgst -sha256 (raw hash limit, 1 core) | $t_dgst | $(rate $mib "$t_dgst") | |"
echo "| cp (raw copy limit) | $t_cp | $(rate $mib "$t_cp") | |"
echo "| mlforge data status, cold stat cache (hash only) | $t_hash_big | $(rate $mib "$t_hash_big") | $(ratio "$t_dgst" "$t_hash_big") of openssl's rate |"
echo "| mlforge data add (hash + copy into the cache) | $t_add_big | $(rate $mib "$t_add_big") | $(ratio "$(echo "$t_dgst + $t_cp" | bc -l)" "$t_add_big") of (openssl + cp) |"

# --- many 4 KiB files -------------------------------------------------------
mkdir -p "$work/small/ws/files"
head -c $((small_files * 4096)) /dev/urandom | (cd "$work/small/ws/files" && split -b 4096 -a 6 -d - f)
cd "$work/small/ws"
t_cp_small=$(timed "rm -rf $work/small/copy" cp -r files "$work/small/copy")
rm -rf "$work/small/copy"
t_dgst_small=$(timed : bash -c "find files -type f -print0 | xargs -0 -n 5000 -P $(nproc) openssl dgst -sha256")
t_add_small=$(timed "rm -rf .mlforge files.mlfd" "$bin" data -q add files)
sleep 1  # past the stat cache's racy window
"$bin" data -q status files.mlfd >/dev/null
t_status=$(timed : "$bin" data -q status files.mlfd)
echo
echo "| $small_files x 4 KiB files | seconds | files/s | vs raw |"
echo "| --- | --- | --- | --- |"
echo "| cp -r (raw copy limit) | $t_cp_small | $(rate "$small_files" "$t_cp_small") | |"
echo "| openssl dgst -sha256 via xargs -P $(nproc) (raw hash) | $t_dgst_small | $(rate "$small_files" "$t_dgst_small") | |"
echo "| mlforge data add (hash + store, all cores) | $t_add_small | $(rate "$small_files" "$t_add_small") | $(ratio "$t_cp_small" "$t_add_small") of cp -r's rate |"
echo "| mlforge data status, no-op | $t_status | $(rate "$small_files" "$t_status") | |"

# --- push / pull over loopback --------------------------------------------
mkdir -p "$work/server"
"$bin" server --port 0 --port-file "$work/server/port" --data-dir "$work/server" \
  >"$work/server/out" 2>"$work/server/log" &
server_pid=$!
for _ in $(seq 1 300); do [[ -s "$work/server/port" ]] && break; sleep 0.05; done
remote="--remote http://127.0.0.1:$(cat "$work/server/port")"
reset_server() { rm -rf "$work/server/artifacts/objects"/* ; }
# Each push starts from an empty object store (versions stay; objects are re-sent).
cd "$work/big/ws"
t_push_big=$(timed reset_server "$bin" data -q push $remote big.bin.mlfd)
mkdir -p "$work/big/pull"
cp big.bin.mlfd "$work/big/pull/"
cd "$work/big/pull"
t_pull_big=$(timed "rm -rf .mlforge big.bin; mkdir .mlforge" "$bin" data -q pull $remote big.bin.mlfd)
cd "$work/small/ws"
t_push_small=$(timed reset_server "$bin" data -q push $remote files.mlfd)
t_push_noop=$(timed : "$bin" data -q push $remote files.mlfd)
mkdir -p "$work/small/pull"
cp files.mlfd "$work/small/pull/"
cd "$work/small/pull"
t_pull_small=$(timed "rm -rf .mlforge files; mkdir .mlforge" "$bin" data -q pull $remote files.mlfd)
echo
echo "| push / pull over loopback (4 connections) | seconds | rate | vs cp |"
echo "| --- | --- | --- | --- |"
echo "| push $mib MiB file | $t_push_big | $(rate $mib "$t_push_big") MiB/s | $(ratio "$t_cp" "$t_push_big") |"
echo "| pull $mib MiB file (+ checkout) | $t_pull_big | $(rate $mib "$t_pull_big") MiB/s | $(ratio "$t_cp" "$t_pull_big") |"
echo "| push $small_files x 4 KiB | $t_push_small | $(rate "$small_files" "$t_push_small") files/s | $(ratio "$t_cp_small" "$t_push_small") |"
echo "| push again (nothing missing) | $t_push_noop | | |"
echo "| pull $small_files x 4 KiB (+ checkout) | $t_pull_small | $(rate "$small_files" "$t_pull_small") files/s | $(ratio "$t_cp_small" "$t_pull_small") |"
