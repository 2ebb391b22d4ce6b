#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs what it needs, lints the SAM template,
# builds the release functions with `sam build` (as the README deploys; zip budget), runs the
# unit tests, the local-pump and local-front tests and the browser harness's self-test, then
# starts the local stack and runs the integration tests and the browser tests' stack helpers
# against it through the front on :9000, and ends with a second `sam build` that must come whole
# from SAM's cache. Stops the stack on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .gatehouse
log=.gatehouse/test-output.log
: >"$log"
bash infra/setup.sh

# `sam validate --lint` is cfn-lint (every rule, region us-east-1) after SAM's own checks, so
# cfn-lint is not run a second time on its own.
echo "== sam validate --lint (offline; cfn-lint)"
SAM_CLI_TELEMETRY=0 AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=x sam validate --lint --region us-east-1

# `sam build` as the README deploys (samconfig.toml: cached, parallel), its log in $1.
sam_build() {
  SAM_CLI_TELEMETRY=0 sam build >"$1" 2>&1 || { tail -n 60 "$1"; echo "sam build failed ($1)" >&2; exit 1; }
  echo "$(grep -c '^Cache is invalid' "$1") functions built, $(grep -c '^Valid cache found' "$1") from SAM's cache"
}

echo "== sam build: the release build of every function (arm64), checked as sam deploy uploads it"
sam_build .gatehouse/sam-build.log
python3 infra/check_sam_build.py

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy (workspace lints, warnings are errors)"
cargo clippy --workspace --all-targets -- -D warnings

echo "== no import circle among the modules of shared/src (and a pure domain)"
cargo test -q -p gatehouse --test module_graph

echo "== unit tests"
cargo test --workspace --exclude gatehouse-tests 2>&1 | tee -a "$log"

echo "== OpenAPI document vs the template and the \$default route's table; how sam build builds"
python3 -m unittest tests/contract/test_openapi.py tests/contract/test_deploy.py 2>&1 | tee -a "$log"

echo "== stream pump and mailbox tests (moto), and moto_server.py's patches"
python3 -m unittest infra/local/test_sidecar.py infra/local/test_moto_server.py 2>&1 | tee -a "$log"

echo "== the local front (API Gateway's events, routing, responses and authorizer)"
python3 -m unittest infra/local/test_front.py 2>&1 | tee -a "$log"
echo "== the local OpenID Provider (oidc-provider: discovery, PKCE flow, faulty ID tokens; about 2 s)"
python3 -m unittest infra/local/oidc/test_provider.py 2>&1 | tee -a "$log"
echo "== webhook signatures verified by the standardwebhooks library (PyPI)"
python3 -m unittest tests/webhooks/test_signature.py 2>&1 | tee -a "$log"
echo "== IAM check and template contract tests"
python3 -m unittest infra/local/test_iam_check.py tests/contract/test_template.py 2>&1 | tee -a "$log"

echo "== browser harness and the pages' design system (headless Chromium, axe-core; no stack needed)"
python3 -m pytest tests/browser/test_harness.py tests/browser/test_design_system.py -q 2>&1 | tee -a "$log"

echo "== integration tests against the local stack"
trap 'bash infra/local/down.sh' EXIT
bash infra/local/up.sh --detach
cargo test -p gatehouse-tests --tests 2>&1 | tee -a "$log"
echo "== webhook delivery end to end (loopback receiver, standardwebhooks verification)"
python3 -m unittest tests/webhooks/test_delivery.py 2>&1 | tee -a "$log"
echo "== the browser tests' stack helpers against the local stack"
GATEHOUSE_REQUIRE_STACK=1 python3 -m pytest tests/browser/test_stack.py -q 2>&1 | tee -a "$log"
echo "== the developer pages in the browser against the local stack (journeys, CSRF, no JavaScript, axe)"
GATEHOUSE_REQUIRE_STACK=1 python3 -m pytest tests/browser/test_pages.py -q 2>&1 | tee -a "$log"
echo "== the admin console in the browser against the local stack (tabs by role and name, counts, dialogs, CSRF, expiry, axe)"
GATEHOUSE_REQUIRE_STACK=1 python3 -m pytest tests/browser/test_console.py -q 2>&1 | tee -a "$log"
echo "== single sign-on through the developer pages in the browser (Sign in with, the local provider's form, axe)"
GATEHOUSE_REQUIRE_STACK=1 python3 -m pytest tests/browser/test_sso_pages.py -q 2>&1 | tee -a "$log"

echo "== cargo lambda invoke with every sample event"
bash infra/local/invoke_samples.sh

echo "== API fuzzing from openapi.yaml (schemathesis): no 5xx, every response as documented"
FUZZ_EXAMPLES=${FUZZ_EXAMPLES:-5} bash infra/local/fuzz_api.sh 2>&1 | tee .gatehouse/fuzz.log | tail -15

echo "== no password, token or token hash in the logs of the whole run"
secret_re='gh[asikrv]_[A-Za-z0-9_.-]{20,}|whsec_[A-Za-z0-9+/=]{20,}|[$]argon2id[$]|correct horse battery staple|temporary-password-123|TOKEN_SECRET=[^<]'
if grep -rEn "$secret_re" .gatehouse/logs/; then
  echo "secrets found in the logs above" >&2
  exit 1
fi
# The link-token secret lives in (moto's) Secrets Manager; no function may log it.
token_secret=$(set -a; . .gatehouse/local.env; set +a; python3 -c '
import os, boto3
sm = boto3.client("secretsmanager", endpoint_url="http://127.0.0.1:" + os.environ.get("GATEHOUSE_MOTO_PORT", "4566"))
print(sm.get_secret_value(SecretId=os.environ["GATEHOUSE_TOKEN_SECRET_ARN"])["SecretString"])')
# grep: 0 found, 1 not found, 2 an error (the secret may start with "-": hence -e).
found=0
[ -n "$token_secret" ] && { grep -rqF -e "$token_secret" .gatehouse/logs/ || found=$?; }
if [ "$found" != 1 ]; then
  echo "the token secret could not be read or searched for, or it appears in the logs" >&2
  exit 1
fi
echo "logs are clean"

echo "== every AWS call of every function during this run is allowed by its IAM policy (template.yaml)"
(set -a; . .gatehouse/local.env; set +a; python3 infra/local/iam_check.py --calls "${GATEHOUSE_FAULTS%/__faults}/__calls")

echo "== sam build after the whole run: every function comes from SAM's cache"
bash infra/local/down.sh
trap - EXIT
sam_build .gatehouse/sam-build-again.log
if grep -q '^Cache is invalid' .gatehouse/sam-build-again.log || ! grep -q '^Valid cache found' .gatehouse/sam-build-again.log; then
  echo "the run changed what sam build hashes: CodeUri infra/sam must hold only build inputs" >&2
  exit 1
fi

# One closing line for the whole suite.
passed=$(grep -oE 'test result: ok\. [0-9]+ passed' "$log" | awk '{s+=$4} END {print s+0}')
py=$(grep -oE '^Ran [0-9]+ tests' "$log" | awk '{s+=$2} END {print s+0}')
pt=$(grep -oE '^[0-9]+ passed' "$log" | awk '{s+=$1} END {print s+0}')
echo "$((passed + py + pt)) passed, 0 failed"
