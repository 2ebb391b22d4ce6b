#!/usr/bin/env bash
# Gatehouse benchmark: prints one Markdown table (stdout) with, per function, the arm64 release
# zip size (the budget of infra/check_sam_build.py, as infra/test.sh) and the cold start of the x86_64 release binary under a local Lambda
# Runtime API emulator (budget < 50 ms) and its start-up penalty next to the floor probes'
# (infra/bench/floor: target <= 1.5x the sdk probe's); DynamoDB round trips per API operation next to the
# minimum docs/design.md claims; stream consumer throughput with auto-approval; Argon2id hash
# time; webhook deliveries per second end to end and round trips per delivery on a running local
# stack (section 7). Exits 1 when a budget fails, 2 when the benchmark itself fails.
#
#   bash infra/bench.sh
#
# Builds first (no-ops when up to date): `cargo build --release --bins` for every function
# (x86_64) and `sam build` (arm64, as the README deploys; .aws-sam/build, and a valid cache
# after `make test`). Then infra/bench/bench.py starts its own moto on a
# free port, a counting proxy and the function processes, all on 127.0.0.1, and stops them on
# exit; a running `infra/local/up.sh` stack is used only by section 7 (webhook delivery end to
# end, infra/bench/webhooks.py; skipped when none answers, run it in the stack's namespace). Logs and state:
# .gatehouse/bench/. Knobs (environment):
#   GATEHOUSE_BENCH_STARTS=10          cold starts per function (at least 10)
#   GATEHOUSE_BENCH_BATCHES=3          stream consumer batches of 100 records (plus one sequential)
#   GATEHOUSE_BENCH_TIME_LIMIT=900     seconds for the measurements
#   GATEHOUSE_BENCH_BUILD_TIMEOUT=5400 seconds for each of the two release builds
#   GATEHOUSE_BENCH_SKIP_BUILD=1       use the binaries already in target/ and .aws-sam/build
#   GATEHOUSE_BENCH_FUNCTIONS=a,b      section 2 cold-starts only these functions (default: all)
#   GATEHOUSE_CONSUMER_CONCURRENCY=N   the concurrent consumer of section 4 (default: the code's, 32)
#   GATEHOUSE_BENCH_WEBHOOK_DEVELOPERS=50  registrations delivered to one endpoint in section 7
#   GATEHOUSE_BENCH_APPROVALS=1000     auto-approvals end to end in section 8 (local stack; target 60 s)
#   GATEHOUSE_BENCH_MOTO=infra/bench/moto_profile.py  moto with per-operation CPU/wall stats (PROF=1: cProfile)
#   GATEHOUSE_BENCH_SPY=/tmp/spy       py-spy (pip install py-spy) samples moto's GIL holder during each section 4
#                                      batch: collapsed stacks in /tmp/spy.<batch label>
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)
mkdir -p .gatehouse/bench

child=""
stop_child() {
  if [ -n "$child" ] && kill -0 "$child" 2>/dev/null; then
    kill -TERM -- "-$child" 2>/dev/null || kill -TERM "$child" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$child" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$child" 2>/dev/null || true
  fi
}
trap 'stop_child; exit 130' INT
trap 'stop_child; exit 143' TERM HUP
trap 'stop_child' EXIT

# Runs a command in its own process group (so the traps can stop all of it) and waits for it.
run() {
  setsid "$@" &
  child=$!
  local rc=0
  wait "$child" || rc=$?
  child=""
  return "$rc"
}

bash infra/setup.sh
python3 -c "import argon2" 2>/dev/null ||
  python3 -m pip install --quiet --disable-pip-version-check -r infra/bench/requirements.txt ||
  echo "bench: argon2-cffi did not install; the reference Argon2 row will say so" >&2

functions=()
for manifest in functions/*/Cargo.toml; do
  functions+=("$(sed -n 's/^name *= *"\(.*\)"/\1/p' "$manifest" | head -n 1)")
done
packages=()
for f in "${functions[@]}"; do packages+=(-p "$f"); done

if [ "${GATEHOUSE_BENCH_SKIP_BUILD:-0}" != 1 ]; then
  limit=${GATEHOUSE_BENCH_BUILD_TIMEOUT:-5400}
  echo "bench: cargo build --release --bins (x86_64) ${functions[*]}" >&2
  run timeout -k 10 "$limit" cargo build --release --bins "${packages[@]}" ||
    { echo "bench: the x86_64 release build failed" >&2; exit 2; }
  echo "bench: sam build (arm64)" >&2
  run env SAM_CLI_TELEMETRY=0 timeout -k 10 "$limit" sam build >&2 ||
    { echo "bench: the arm64 release build (sam build) failed" >&2; exit 2; }
  echo "bench: cargo build --release (x86_64) the floor probes bare and sdk (infra/bench/floor)" >&2
  run timeout -k 10 "$limit" cargo build --release --manifest-path infra/bench/floor/Cargo.toml --target-dir target/floor ||
    { echo "bench: building the floor probes failed" >&2; exit 2; }
  # Section 5's memory sizing measures Argon2id's CPU time with this example (debug build:
  # argon2 and blake2 are optimised there too).
  run cargo build --quiet -p gatehouse --example argon2_cost || { echo "bench: building the argon2_cost example failed" >&2; exit 2; }
  if [ ! -x target/debug/gatehouse-ops ] && [ ! -x target/release/gatehouse-ops ]; then
    run cargo build --quiet -p gatehouse-ops || { echo "bench: building gatehouse-ops failed" >&2; exit 2; }
  fi
fi

measure_limit=${GATEHOUSE_BENCH_TIME_LIMIT:-900}
rc=0
run timeout -k 15 "$((measure_limit + 60))" python3 infra/bench/bench.py --time-limit "$measure_limit" || rc=$?
echo "bench: done in $(($(date +%s) - started)) s (exit $rc)" >&2
exit "$rc"
