#!/usr/bin/env bash
# A throwaway PostgreSQL server for tests and benchmarks (Debian's postgresql package), run as
# the postgres user via runuser (initdb refuses root), data and socket in DIR, listening on
# loopback only, trust authentication for the role `vidscribe`.
#   scripts/pg-server.sh start DIR   prints postgres://vidscribe@127.0.0.1:PORT/postgres
#   scripts/pg-server.sh replica DIR PRIMARY   a streaming replica of the server in PRIMARY
#   scripts/pg-server.sh stop DIR
# PG_SHARED_BUFFERS sets the server's buffer cache (Debian's default, 128MB, when unset): the
# benchmarks give it what a server for a large archive would be given.
set -euo pipefail
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[[ -x $bin/initdb ]] || { echo "pg-server: PostgreSQL is not installed (scripts/setup.sh test)" >&2; exit 1; }
cmd=${1:?start, replica or stop}
dir=${2:?a folder}
as_pg=(runuser -u postgres --)
[[ $(id -u) -eq 0 ]] || as_pg=()
# DIR made reachable by the postgres user (initdb and the server run as it).
prepare() {
  mkdir -p "$dir"
  if [[ $(id -u) -eq 0 ]]; then
    chown postgres "$dir"
    # The postgres user must be able to reach DIR: a private temporary parent (mktemp -d,
    # mode 0700) gets search permission for others, nothing more.
    parent=$(dirname "$(realpath "$dir")")
    [[ $(stat -c %U "$parent") != root ]] || chmod o+x "$parent"
  fi
}
# Starts the server whose data is in DIR/data on a free loopback port; prints its address.
run() {
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  "${as_pg[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c synchronous_commit=off -c shared_buffers=${PG_SHARED_BUFFERS:-128MB}" start >/dev/null
  echo "$port" >"$dir/port"
  echo "postgres://vidscribe@127.0.0.1:$port/postgres"
}
case "$cmd" in
  start)
    prepare
    "${as_pg[@]}" "$bin/initdb" -D "$dir/data" -A trust -U vidscribe --no-sync -E UTF8 >"$dir/initdb.log"
    run
    ;;
  replica)
    # A streaming replica (hot standby) of the server in PRIMARY: its base backup, then WAL
    # streamed from it as it is written.
    primary=${3:?the folder of the primary server}
    prepare
    "${as_pg[@]}" "$bin/pg_basebackup" -h 127.0.0.1 -p "$(cat "$primary/port")" -U vidscribe \
      -D "$dir/data" -R -X stream --no-sync >"$dir/basebackup.log" 2>&1
    run
    ;;
  stop)
    "${as_pg[@]}" "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
    ;;
  *) echo "pg-server: start, replica or stop" >&2; exit 2 ;;
esac
