#!/usr/bin/env bash
# Stops everything infra/local/up.sh started (each process group), leaving nothing behind.
set -u
cd "$(dirname "$0")/../.."
dir=.gatehouse/pids
[ -d "$dir" ] || exit 0
for f in "$dir"/*; do
  [ -e "$f" ] || continue
  pid=$(cat "$f")
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
done
for _ in $(seq 1 50); do
  alive=0
  for f in "$dir"/*; do
    [ -e "$f" ] || continue
    kill -0 -- "-$(cat "$f")" 2>/dev/null && alive=1
  done
  [ "$alive" = 0 ] && break
  sleep 0.1
done
for f in "$dir"/*; do
  [ -e "$f" ] || continue
  kill -KILL -- "-$(cat "$f")" 2>/dev/null || true
  rm -f "$f"
done
