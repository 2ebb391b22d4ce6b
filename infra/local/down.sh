#!/usr/bin/env bash
# Stops everything infra/local/up.sh started (each process group), leaving nothing behind:
# cargo lambda watch runs each function instance in a process group of its own, so the
# descendants of every recorded process are collected first and stopped with it.
set -u
cd "$(dirname "$0")/../.."
dir=.gatehouse/pids
[ -d "$dir" ] || exit 0
descendants() { # pid: every descendant pid, depth first
  local child
  for child in $(ps -o pid= --ppid "$1" 2>/dev/null); do
    echo "$child"
    descendants "$child"
  done
}
started() { # pid: its start time (so a pid reused meanwhile is never signalled)
  [ -r "/proc/$1/stat" ] && sed -E 's/^.*\) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f20
}
tree=()
for f in "$dir"/*; do
  [ -e "$f" ] || continue
  pid=$(cat "$f")
  for p in $(ps -o pid= -g "$pid" 2>/dev/null); do
    for q in "$p" $(descendants "$p"); do tree+=("$q:$(started "$q")"); done
  done
done
for f in "$dir"/*; do
  [ -e "$f" ] || continue
  pid=$(cat "$f")
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
done
same() { [ -n "${1#*:}" ] && [ "$(started "${1%%:*}")" = "${1#*:}" ]; }
alive() {
  local e
  for e in "${tree[@]}"; do same "$e" && return 0; done
  return 1
}
for _ in $(seq 1 50); do
  alive || break
  sleep 0.1
done
for e in "${tree[@]}"; do same "$e" && kill -KILL "${e%%:*}" 2>/dev/null; done
for f in "$dir"/*; do
  [ -e "$f" ] || continue
  kill -KILL -- "-$(cat "$f")" 2>/dev/null || true
  rm -f "$f"
done
