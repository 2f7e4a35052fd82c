#!/bin/sh
# A throwaway PostgreSQL 15 server for the unit tests of the PostgreSQL store (ctest's
# `postgres` fixture): `start DIR` runs initdb and starts the server on 127.0.0.1 at a free port,
# its data in DIR, and writes its URL to DIR/url; `stop DIR` stops it and removes DIR.
# PostgreSQL refuses to run as root: as root, the server runs as `nobody`.
set -eu
action=$1
dir=$2
bin=/usr/lib/postgresql/15/bin

as_server_user() {
  if [ "$(id -u)" = 0 ]; then
    setpriv --reuid=nobody --regid=nogroup --clear-groups -- "$@"
  else
    "$@"
  fi
}

case "$action" in
  start)
    "$0" stop "$dir"  # a server left by an interrupted run
    mkdir -p "$dir/data" "$dir/socket"
    chmod 700 "$dir/data"
    chmod 755 "$dir"
    if [ "$(id -u)" = 0 ]; then chown -R nobody:nogroup "$dir"; fi
    as_server_user "$bin/initdb" -D "$dir/data" -U gateway --auth=trust --encoding=UTF8 \
      --no-sync >"$dir/initdb.log" 2>&1
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    as_server_user "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start \
      -o "-p $port -k $dir/socket -c listen_addresses=127.0.0.1 -c fsync=off \
          -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" >/dev/null
    psql -X -q -h 127.0.0.1 -p "$port" -U gateway -d postgres -c "CREATE DATABASE gateway"
    echo "postgresql://gateway@127.0.0.1:$port/gateway" >"$dir/url"
    ;;
  stop)
    if [ -d "$dir/data" ]; then
      as_server_user "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
    ;;
  *)
    echo "usage: $0 start|stop DIR" >&2
    exit 2
    ;;
esac
