#!/usr/bin/env bash
# Installs what Gatehouse needs beyond the Rust toolchain: moto (DynamoDB, Streams, SES v2,
# SQS emulator), cargo-lambda and cfn-lint, all from PyPI. Idempotent and quiet when done.
set -euo pipefail
cd "$(dirname "$0")/.."
need=0
python3 -c "import moto.server, flask" 2>/dev/null || need=1
command -v cargo-lambda >/dev/null 2>&1 || need=1
command -v cfn-lint >/dev/null 2>&1 || need=1
if [ "$need" = 1 ]; then
  echo "setup: installing infra/requirements.txt from PyPI" >&2
  python3 -m pip install --quiet --disable-pip-version-check -r infra/requirements.txt
  hash -r
fi
command -v curl >/dev/null 2>&1 || { echo "setup: curl is required" >&2; exit 1; }
