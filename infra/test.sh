#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs what it needs, lints the SAM template,
# runs the unit tests, the local-pump tests, then starts the local stack and runs the
# integration tests against it through the /api paths. Stops the stack on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
bash infra/setup.sh

echo "== cfn-lint template.yaml"
cfn-lint template.yaml

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== unit tests"
cargo test --workspace --exclude gatehouse-tests

echo "== stream pump and mailbox tests (moto)"
python3 -m unittest infra/local/test_sidecar.py

echo "== integration tests against the local stack"
trap 'bash infra/local/down.sh' EXIT
bash infra/local/up.sh --detach
cargo test -p gatehouse-tests
