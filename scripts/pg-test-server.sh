#!/usr/bin/env bash
# A throwaway PostgreSQL server for mlforge's tests.
#
#   scripts/pg-test-server.sh start DIR   # init (once) + start; prints the URI as the last line
#   scripts/pg-test-server.sh uri DIR     # prints the URI of a running server
#   scripts/pg-test-server.sh stop DIR    # fast shutdown
#
# Typical use:
#   export MLFORGE_TEST_PG_URI=$(scripts/pg-test-server.sh start /tmp/mlforge-pg | tail -n1)
#   ctest --test-dir build -R sql
#   scripts/pg-test-server.sh stop /tmp/mlforge-pg
#
# The server listens on 127.0.0.1 only (a free port picked at start) and on a unix
# socket in DIR. fsync is off: data does not survive an OS crash, which tests do
# not need. Role `mlforge` (with CREATEDB, so tests can make one database each)
# owns database `mlforge`; its password is random, kept in DIR/password.
# PostgreSQL refuses to run as root, so as root the server runs as the
# `postgres` OS user and DIR is handed to it. Idempotent: start on a running
# server only prints the URI; stop on a stopped one does nothing.
set -euo pipefail

die() {
  echo "pg-test-server: $*" >&2
  exit 1
}

usage() {
  echo "usage: $0 start|stop|uri DIR" >&2
  exit 2
}

[[ $# -eq 2 ]] || usage
cmd=$1
dir=$2

# Highest installed major version.
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1 || true)
[[ -n "$pg_bin" && -x "$pg_bin/postgres" ]] ||
  die "no PostgreSQL server binaries under /usr/lib/postgresql/*/bin (apt-get install postgresql)"

[[ "$cmd" == start ]] && mkdir -p "$dir"
if [[ ! -d "$dir" ]]; then
  [[ "$cmd" == stop ]] && exit 0
  die "no such directory: $dir"
fi
dir=$(cd "$dir" && pwd -P)
data="$dir/data"

# Run a PostgreSQL tool as the server's OS user.
if [[ $(id -u) -eq 0 ]]; then
  id postgres >/dev/null 2>&1 || die "running as root needs an OS user 'postgres' to own the server"
  as_pg() { runuser -u postgres -- "$@"; }
else
  as_pg() { "$@"; }
fi

is_running() {
  [[ -f "$data/PG_VERSION" ]] && as_pg "$pg_bin/pg_ctl" -D "$data" status >/dev/null 2>&1
}

print_uri() {
  local port password
  port=$(cat "$dir/port")
  password=$(cat "$dir/password")
  echo "postgresql://mlforge:${password}@127.0.0.1:${port}/mlforge"
}

free_port() {
  if command -v python3 >/dev/null 2>&1; then
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()' \
      2>/dev/null && return 0
  fi
  # Fallback: probe random high ports; a refused connection means nobody listens there.
  local port i
  for i in $(seq 1 200); do
    port=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return 0
    fi
  done
  return 1
}

start() {
  if is_running; then
    print_uri
    return 0
  fi

  # The unix socket path must fit in sun_path (107 bytes).
  (( ${#dir} < 90 )) || die "DIR path is too long for a unix socket; use a shorter one, e.g. /tmp/mlforge-pg"

  if [[ $(id -u) -eq 0 ]]; then
    chown postgres: "$dir"
    chmod 700 "$dir"
    runuser -u postgres -- test -w "$dir" ||
      die "user postgres cannot write $dir (a parent directory is not accessible); use a DIR under /tmp"
  fi

  if [[ ! -f "$data/PG_VERSION" ]]; then
    local password
    password=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
    (umask 077 && echo "$password" >"$dir/password")
    [[ $(id -u) -eq 0 ]] && chown postgres: "$dir/password"
    as_pg "$pg_bin/initdb" -D "$data" -U postgres -E UTF8 --locale=C \
      --auth-local=trust --auth-host=scram-sha-256 >"$dir/initdb.log" 2>&1 ||
      die "initdb failed; see $dir/initdb.log"
    # Settings live in an included file so a restart can change the port.
    echo "include_if_exists = 'mlforge.conf'" | as_pg tee -a "$data/postgresql.conf" >/dev/null
  fi

  local port
  port=$(free_port) || die "no free TCP port found"
  echo "$port" >"$dir/port"
  as_pg tee "$data/mlforge.conf" >/dev/null <<EOF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
EOF

  as_pg "$pg_bin/pg_ctl" -D "$data" -l "$dir/postgres.log" -w -t 60 start >/dev/null ||
    die "postgres did not start; see $dir/postgres.log"

  local i
  for i in $(seq 1 60); do
    as_pg "$pg_bin/pg_isready" -q -h "$dir" -p "$port" && break
    sleep 0.5
  done
  as_pg "$pg_bin/pg_isready" -q -h "$dir" -p "$port" || die "postgres is not ready; see $dir/postgres.log"

  local psql=("$pg_bin/psql" -X -q -v ON_ERROR_STOP=1 -h "$dir" -p "$port" -U postgres -d postgres)
  local password
  password=$(cat "$dir/password")
  if [[ -z $(as_pg "${psql[@]}" -tAc "SELECT 1 FROM pg_roles WHERE rolname = 'mlforge'") ]]; then
    as_pg "${psql[@]}" -c "CREATE ROLE mlforge LOGIN CREATEDB PASSWORD '$password'" >/dev/null
  fi
  if [[ -z $(as_pg "${psql[@]}" -tAc "SELECT 1 FROM pg_database WHERE datname = 'mlforge'") ]]; then
    as_pg "${psql[@]}" -c "CREATE DATABASE mlforge OWNER mlforge" >/dev/null
  fi
  print_uri
}

stop() {
  if is_running; then
    as_pg "$pg_bin/pg_ctl" -D "$data" -m fast -w stop >/dev/null
  fi
}

case "$cmd" in
  start) start ;;
  stop) stop ;;
  uri)
    is_running || die "no server running in $dir"
    print_uri
    ;;
  *) usage ;;
esac
