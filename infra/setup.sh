#!/usr/bin/env bash
# Installs what Gatehouse needs beyond the Rust toolchain: moto (DynamoDB, Streams, SES v2,
# SQS emulator), cargo-lambda and cfn-lint, all from PyPI, the local OpenID Provider's npm
# packages, and for the browser tests Debian's Chromium, Playwright and axe-core (npm).
# Idempotent and quiet when done.
set -euo pipefail
cd "$(dirname "$0")/.."
need=0
python3 -c "import moto.server, flask" 2>/dev/null || need=1
command -v cargo-lambda >/dev/null 2>&1 || need=1
command -v cfn-lint >/dev/null 2>&1 || need=1
command -v sam >/dev/null 2>&1 || need=1
python3 -c "import schemathesis" 2>/dev/null || need=1
python3 -c "import joserfc" 2>/dev/null || need=1
python3 -c "import standardwebhooks" 2>/dev/null || need=1
python3 -c "import playwright.sync_api, pytest, minijinja" 2>/dev/null || need=1
if [ "$need" = 1 ]; then
  echo "setup: installing infra/requirements.txt from PyPI" >&2
  python3 -m pip install --quiet --disable-pip-version-check -r infra/requirements.txt
  hash -r
fi
command -v curl >/dev/null 2>&1 || { echo "setup: curl is required" >&2; exit 1; }
node -e 'process.exit(+process.versions.node.split(".")[0] >= 18 ? 0 : 1)' 2>/dev/null && command -v npm >/dev/null 2>&1 \
  || { echo "setup: Node.js 18 or later with npm is required (infra/local/oidc, tests/browser)" >&2; exit 1; }
# npm packages exactly as a folder's package-lock.json locks them, reinstalled only when
# node_modules lacks the named package or the lock changed.
npm_locked() { # folder, package
  local lock
  lock=$(sha256sum "$1/package-lock.json" | cut -d' ' -f1)
  if [ ! -d "$1/node_modules/$2" ] || [ "$(cat "$1/node_modules/.lock.sha256" 2>/dev/null)" != "$lock" ]; then
    echo "setup: installing $1 from npm (package-lock.json)" >&2
    npm ci --prefix "$1" --no-audit --no-fund --loglevel=error >/dev/null
    echo "$lock" >"$1/node_modules/.lock.sha256"
  fi
}
npm_locked infra/local/oidc oidc-provider # the local OpenID Provider
npm_locked tests/browser axe-core         # injected into pages by the browser tests
# Headless Chromium for the browser tests, from Debian (Playwright drives it through
# executable_path; its own browser download cannot work here), and the fonts of the screenshots.
if ! dpkg -s chromium fonts-liberation >/dev/null 2>&1; then
  echo "setup: installing chromium from Debian" >&2
  sudo=""
  [ "$(id -u)" = 0 ] || sudo=sudo
  apt_log=$(mktemp)
  if ! { $sudo apt-get update -qq && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-liberation; } >"$apt_log" 2>&1; then
    cat "$apt_log" >&2
    echo "setup: could not install chromium (tests/browser needs /usr/bin/chromium)" >&2
    exit 1
  fi
  rm -f "$apt_log"
fi
# The release build cross-compiles for Lambda's arm64 (cargo-lambda links with zig from PyPI).
if ! rustup target list --installed 2>/dev/null | grep -q '^aarch64-unknown-linux-gnu$'; then
  rustup target add aarch64-unknown-linux-gnu >&2
fi
