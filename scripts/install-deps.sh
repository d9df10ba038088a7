#!/usr/bin/env bash
# Installs exactly the Debian 12 packages mlforge needs to build, test and run.
# Idempotent: silent when everything is already present.
set -euo pipefail

packages=(
  # toolchain
  g++ cmake ninja-build ccache pkg-config make
  # libraries (see docs/architecture.md, "Dependencies")
  libboost-dev libsimdjson-dev libspdlog-dev libfmt-dev libcli11-dev
  libssl-dev libsqlite3-dev libpq-dev libyaml-cpp-dev libxgboost-dev libeigen3-dev
  # tests and benchmarks
  libgtest-dev libbenchmark-dev postgresql wrk clang-format
  # promtool checks /metrics; the Python serving peer of bench/serving and scipy fixtures
  prometheus python3-xgboost python3-fastapi python3-uvicorn python3-uvloop python3-scipy
  # the web UI's browser tests (Playwright drives Debian's chromium; it never downloads one)
  chromium
)
# The web UI builds with node + npm. Only when missing: a machine may have a
# newer Node.js from elsewhere, which Debian's packages would conflict with.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  packages+=(nodejs npm)
fi

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

echo "install-deps: installing ${missing[*]}" >&2
sudo_cmd=()
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "install-deps: need root or sudo to install packages" >&2; exit 1; }
  sudo_cmd=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The postgresql package may start a cluster; tests start their own server, so stop it if it did.
if command -v service >/dev/null && [[ " ${missing[*]} " == *" postgresql "* ]]; then
  "${sudo_cmd[@]}" service postgresql stop >/dev/null 2>&1 || true
fi
