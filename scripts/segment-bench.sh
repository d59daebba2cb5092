#!/usr/bin/env bash
# Runs bench/segment_bench: audience counts over N persons (10 million by
# default), Facet against SQLite, PostgreSQL and ClickHouse, side by side in
# one run, on the same deterministic data and the same two questions:
#
#   Q1  tag("t12") AND tag("t16") AND NOT tag("t07") AND trait.age BETWEEN 25 AND 40
#   Q2  (tag("t10") OR tag("t21")) AND tag("t14") AND NOT tag("t05")
#       AND count("Order Completed", 90d) > 10 AND days_since_last("Order Completed") < 90
#
# Each SQL engine gets the schema most favourable to it: one wide table
# persons(id, age NULL, gender, city, lifetime_value, t01..t24 as 0/1,
# orders_90d, days_since_last NULL), with the per-person purchase aggregates
# precomputed as of 2026-11-01T00:00:00Z, so that each question is one
# single-table SELECT count(*). Each loads through its fastest bulk path
# (SQLite: one transaction of prepared INSERTs; PostgreSQL: COPY FREEZE;
# ClickHouse: TabSeparated over HTTP into MergeTree ORDER BY id), then builds
# helpful indexes and statistics. Each question is asked once to warm up and
# then timed --repeat times (default 7), wall clock on the client; the report
# gives each engine's load time, median and minimum, its ratio to Facet and
# the fastest peer, and checks every count against one computed from the data.
#
# Usage: scripts/segment-bench.sh [BINARY] [segment_bench flags...]
#   scripts/segment-bench.sh build/bench/segment_bench --persons=1000000 --json=out.json
#   make segment-bench SEGMENT_BENCH_ARGS="--persons=1000000"
#
# Installs PostgreSQL and ClickHouse from Debian's packages when missing,
# starts each as a throwaway server on free 127.0.0.1 ports in a temporary
# directory (PostgreSQL as the `postgres` user when run as root, since initdb
# refuses root), runs the benchmark against them and, on exit, failure or
# Ctrl-C, stops them by PID and removes the directory. A server that cannot
# start here is reported and left out; the other engines still run.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=build/bench/segment_bench
if [ $# -gt 0 ] && [ "${1#--}" = "$1" ]; then
  BIN=$1
  shift
fi
if [ ! -x "$BIN" ]; then
  echo "segment-bench: no benchmark binary at $BIN; build it with" >&2
  echo "  cmake --build build --target segment_bench   (or: make segment-bench)" >&2
  exit 2
fi

# Which servers the run needs: all, unless the flags say --only=...
ONLY=""
prev=""
for a in "$@"; do
  case "$a" in
    --only=*) ONLY=${a#--only=} ;;
    *) if [ "$prev" = "--only" ]; then ONLY=$a; fi ;;
  esac
  prev=$a
done
wants() { [ -z "$ONLY" ] || [[ ",$ONLY," == *",$1,"* ]]; }

# --- Packages -------------------------------------------------------------
PACKAGES=()
if wants pg; then PACKAGES+=(postgresql); fi
if wants clickhouse; then PACKAGES+=(clickhouse-server); fi
declare -A COMMANDS=([python3]=python3 [curl]=curl)

source scripts/lib/apt.sh
install_missing segment-bench

# --- Throwaway servers ----------------------------------------------------
WORK=$(mktemp -d "${TMPDIR:-/tmp}/segment-bench.XXXXXX")
chmod 755 "$WORK"  # the postgres user must reach its directory inside
PG_PID=""
CH_PID=""
BENCH_PID=""
SKIPPED=()

# True while `pid` runs (a zombie does not count).
alive() {
  [ -n "$1" ] && [ -r "/proc/$1/stat" ] && ! awk '{ exit ($3 == "Z") ? 0 : 1 }' "/proc/$1/stat" 2>/dev/null
}

# stop PID NAME SIGNAL: sends SIGNAL, waits up to 30 s, then SIGKILL.
stop() {
  local pid=$1 name=$2 sig=$3
  alive "$pid" || return 0
  kill "-$sig" "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 150); do
    alive "$pid" || { echo "segment-bench: stopped $name (pid $pid)"; return 0; }
    sleep 0.2
  done
  echo "segment-bench: $name (pid $pid) did not stop; killing it" >&2
  kill -KILL "$pid" 2>/dev/null || true
}

cleanup() {
  local status=$?
  trap - EXIT INT TERM
  stop "$BENCH_PID" segment_bench TERM
  stop "$CH_PID" ClickHouse TERM
  stop "$PG_PID" PostgreSQL INT  # SIGINT: PostgreSQL's fast shutdown
  rm -rf "$WORK"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Prints N distinct free TCP ports on 127.0.0.1.
free_ports() {
  python3 - "$1" <<'PY'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
PY
}
read -r PG_PORT CH_HTTP CH_TCP CH_INTER < <(free_ports 4)

log_tail() { [ -f "$1" ] && tail -n 15 "$1" | sed 's/^/    /' >&2 || true; }

start_postgres() {
  local pgbin
  pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  if [ -z "$pgbin" ] || [ ! -x "$pgbin/initdb" ]; then
    echo "segment-bench: PostgreSQL's server programs are not installed" >&2
    return 1
  fi
  local dir=$WORK/pg
  mkdir -p "$dir"
  local -a as_owner=()
  if [ "$(id -u)" -eq 0 ]; then
    chown postgres: "$dir"
    as_owner=(runuser -u postgres --)
  fi
  if ! "${as_owner[@]}" "$pgbin/initdb" -D "$dir/data" -U facet -A trust -E UTF8 --no-locale \
      >"$dir/initdb.log" 2>&1; then
    echo "segment-bench: initdb failed:" >&2
    log_tail "$dir/initdb.log"
    return 1
  fi
  # A throwaway instance: no durability, everything in memory, both cores.
  cat >>"$dir/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$dir'
shared_buffers = 2GB
effective_cache_size = 8GB
work_mem = 256MB
maintenance_work_mem = 1GB
max_worker_processes = 8
max_parallel_workers = 4
max_parallel_workers_per_gather = 2
max_parallel_maintenance_workers = 2
fsync = off
synchronous_commit = off
full_page_writes = off
wal_level = minimal
max_wal_senders = 0
max_wal_size = 16GB
checkpoint_timeout = 1h
autovacuum = off
jit = off
CONF
  if ! "${as_owner[@]}" "$pgbin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 120 start >/dev/null 2>&1; then
    echo "segment-bench: PostgreSQL did not start:" >&2
    log_tail "$dir/server.log"
    [ -f "$dir/data/postmaster.pid" ] && PG_PID=$(head -n 1 "$dir/data/postmaster.pid")
    return 1
  fi
  PG_PID=$(head -n 1 "$dir/data/postmaster.pid")
  if ! "$pgbin/createdb" -h 127.0.0.1 -p "$PG_PORT" -U facet bench >"$dir/createdb.log" 2>&1; then
    echo "segment-bench: createdb failed:" >&2
    log_tail "$dir/createdb.log"
    return 1
  fi
  echo "segment-bench: PostgreSQL $("$pgbin/postgres" --version | awk '{print $3}') on 127.0.0.1:$PG_PORT (pid $PG_PID)"
}

start_clickhouse() {
  local bin
  bin=$(command -v clickhouse-server || true)
  if [ -z "$bin" ] && [ -x /usr/sbin/clickhouse-server ]; then bin=/usr/sbin/clickhouse-server; fi
  if [ -z "$bin" ]; then
    echo "segment-bench: clickhouse-server is not installed" >&2
    return 1
  fi
  local dir=$WORK/ch
  mkdir -p "$dir/data" "$dir/tmp" "$dir/user_files" "$dir/format_schemas" "$dir/log"
  cat >"$dir/config.xml" <<XML
<?xml version="1.0"?>
<yandex>
  <logger>
    <level>warning</level>
    <log>$dir/log/server.log</log>
    <errorlog>$dir/log/server.err.log</errorlog>
    <size>100M</size>
    <count>1</count>
  </logger>
  <listen_host>127.0.0.1</listen_host>
  <http_port>$CH_HTTP</http_port>
  <tcp_port>$CH_TCP</tcp_port>
  <interserver_http_port>$CH_INTER</interserver_http_port>
  <interserver_http_host>127.0.0.1</interserver_http_host>
  <max_connections>64</max_connections>
  <keep_alive_timeout>600</keep_alive_timeout>
  <max_concurrent_queries>16</max_concurrent_queries>
  <uncompressed_cache_size>4294967296</uncompressed_cache_size>
  <mark_cache_size>1073741824</mark_cache_size>
  <path>$dir/data/</path>
  <tmp_path>$dir/tmp/</tmp_path>
  <user_files_path>$dir/user_files/</user_files_path>
  <format_schema_path>$dir/format_schemas/</format_schema_path>
  <users_config>$dir/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>UTC</timezone>
  <mlock_executable>false</mlock_executable>
</yandex>
XML
  cat >"$dir/users.xml" <<XML
<?xml version="1.0"?>
<yandex>
  <profiles>
    <default>
      <max_memory_usage>8000000000</max_memory_usage>
      <!-- Both cores: 18.16 counts physical cores and may find only one. -->
      <max_threads>$(nproc)</max_threads>
      <use_uncompressed_cache>1</use_uncompressed_cache>
      <log_queries>0</log_queries>
    </default>
  </profiles>
  <users>
    <default>
      <password></password>
      <networks><ip>127.0.0.1</ip></networks>
      <profile>default</profile>
      <quota>default</quota>
    </default>
  </users>
  <quotas>
    <default>
      <interval>
        <duration>3600</duration>
        <queries>0</queries>
        <errors>0</errors>
        <result_rows>0</result_rows>
        <read_rows>0</read_rows>
        <execution_time>0</execution_time>
      </interval>
    </default>
  </quotas>
</yandex>
XML
  # Its own session, so that Ctrl-C reaches this script, which stops it.
  (cd "$dir" && exec setsid "$bin" --config-file="$dir/config.xml" >"$dir/log/stdout.log" 2>&1 </dev/null) &
  CH_PID=$!
  local url="http://127.0.0.1:$CH_HTTP"
  for _ in $(seq 1 300); do
    if ! alive "$CH_PID"; then
      echo "segment-bench: clickhouse-server exited during start-up:" >&2
      log_tail "$dir/log/stdout.log"
      log_tail "$dir/log/server.err.log"
      CH_PID=""
      return 1
    fi
    if version=$(curl -fsS "$url/?query=SELECT%20version()" 2>/dev/null); then
      echo "segment-bench: ClickHouse $version on 127.0.0.1:$CH_HTTP (pid $CH_PID)"
      return 0
    fi
    sleep 0.2
  done
  echo "segment-bench: clickhouse-server did not answer on $url within 60 s:" >&2
  log_tail "$dir/log/server.err.log"
  return 1
}

ARGS=(--sqlite-path "$WORK/bench.db")
ENGINES=(facet sqlite)
if wants pg; then
  if start_postgres; then
    ARGS+=(--pg "host=127.0.0.1 port=$PG_PORT user=facet dbname=bench")
    ENGINES+=(pg)
  else
    echo "segment-bench: PostgreSQL could not run here; continuing without it" >&2
    SKIPPED+=(PostgreSQL)
  fi
fi
if wants clickhouse; then
  if start_clickhouse; then
    ARGS+=(--clickhouse "http://127.0.0.1:$CH_HTTP")
    ENGINES+=(clickhouse)
  else
    echo "segment-bench: ClickHouse could not run here; continuing without it" >&2
    SKIPPED+=(ClickHouse)
  fi
fi
if [ -z "$ONLY" ]; then
  ARGS+=("--only=$(IFS=,; echo "${ENGINES[*]}")")
fi

# In the background and waited for, so that a signal to this script stops
# the benchmark too, straight away, before the servers.
status=0
"$BIN" "${ARGS[@]}" "$@" &
BENCH_PID=$!
wait "$BENCH_PID" || status=$?
BENCH_PID=""
if ((${#SKIPPED[@]})); then
  echo "segment-bench: NOTE: not measured, the server could not start here: ${SKIPPED[*]}" >&2
fi
exit "$status"
