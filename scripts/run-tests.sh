#!/usr/bin/env bash
# Runs every test of a build directory: unit tests, integration tests that
# start the real binary, on SQLite and on a PostgreSQL server started here.
set -euo pipefail
build=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)

work=$(mktemp -d -t mlforge-test.XXXXXX)
chmod 755 "$work"
cleanup() {
  "$root/scripts/pg-test-server.sh" stop "$work/pg" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

if [[ "${MLFORGE_TEST_PG:-on}" != off ]]; then
  MLFORGE_TEST_PG_URI=$("$root/scripts/pg-test-server.sh" start "$work/pg" | tail -n 1)
  export MLFORGE_TEST_PG_URI
  echo "run-tests: PostgreSQL test server at ${MLFORGE_TEST_PG_URI%%:*}://…@${MLFORGE_TEST_PG_URI##*@}"
fi

export MLFORGE_BINARY="$root/$build/app/mlforge"
[[ "$build" = /* ]] && MLFORGE_BINARY="$build/app/mlforge"
cd "$build"
ctest --output-on-failure -j "$(nproc)" --timeout 600
