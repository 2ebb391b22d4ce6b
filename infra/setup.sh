#!/usr/bin/env bash
# Installs what Gatehouse needs beyond the Rust toolchain: moto (DynamoDB, Streams, SES v2,
# SQS emulator), cargo-lambda and cfn-lint, all from PyPI, and the local OpenID Provider's npm
# packages. Idempotent and quiet when done.
set -euo pipefail
cd "$(dirname "$0")/.."
need=0
python3 -c "import moto.server, flask" 2>/dev/null || need=1
command -v cargo-lambda >/dev/null 2>&1 || need=1
command -v cfn-lint >/dev/null 2>&1 || need=1
command -v sam >/dev/null 2>&1 || need=1
python3 -c "import schemathesis" 2>/dev/null || need=1
python3 -c "import joserfc" 2>/dev/null || need=1
if [ "$need" = 1 ]; then
  echo "setup: installing infra/requirements.txt from PyPI" >&2
  python3 -m pip install --quiet --disable-pip-version-check -r infra/requirements.txt
  hash -r
fi
command -v curl >/dev/null 2>&1 || { echo "setup: curl is required" >&2; exit 1; }
# The local OpenID Provider (infra/local/oidc: oidc-provider from npm), exactly as locked;
# reinstalled only when node_modules is missing or package-lock.json changed.
oidc=infra/local/oidc
node -e 'process.exit(+process.versions.node.split(".")[0] >= 18 ? 0 : 1)' 2>/dev/null && command -v npm >/dev/null 2>&1 \
  || { echo "setup: Node.js 18 or later with npm is required ($oidc)" >&2; exit 1; }
oidc_lock=$(sha256sum "$oidc/package-lock.json" | cut -d' ' -f1)
if [ ! -d "$oidc/node_modules/oidc-provider" ] || [ "$(cat "$oidc/node_modules/.lock.sha256" 2>/dev/null)" != "$oidc_lock" ]; then
  echo "setup: installing $oidc from npm (package-lock.json)" >&2
  npm ci --prefix "$oidc" --no-audit --no-fund --loglevel=error >/dev/null
  echo "$oidc_lock" >"$oidc/node_modules/.lock.sha256"
fi
# The release build cross-compiles for Lambda's arm64 (cargo-lambda links with zig from PyPI).
if ! rustup target list --installed 2>/dev/null | grep -q '^aarch64-unknown-linux-gnu$'; then
  rustup target add aarch64-unknown-linux-gnu >&2
fi
