#!/usr/bin/env bash
# Starts Gatehouse locally: moto (DynamoDB + Streams + SES v2 + SQS), the table, a demo portal
# and an admin token (written to .gatehouse/local.env), the functions (cargo lambda watch, several
# instances each, on 127.0.0.1:9002) behind an API Gateway-faithful front on
# http://127.0.0.1:9000 (routes, $default route and Lambda authorizer from template.yaml),
# and the stream pump + mailbox.
#   infra/local/up.sh            run in the foreground; Ctrl-C stops everything
#   infra/local/up.sh --detach   start in the background; stop with infra/local/down.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
detach=0
[ "${1:-}" = "--detach" ] && detach=1

state=.gatehouse
mkdir -p "$state/logs" "$state/pids"
bash infra/local/down.sh
rm -f "$state/local.env" "$state/checkpoints.json" "$state/checkpoints."*.json "$state/dlq.jsonl"

bash infra/setup.sh
echo "up: building the workspace" >&2
cargo build --workspace --bins --quiet

moto_port=${GATEHOUSE_MOTO_PORT:-4566}
export AWS_ENDPOINT_URL="http://127.0.0.1:$moto_port"
export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
export GATEHOUSE_TABLE=${GATEHOUSE_TABLE:-gatehouse} GATEHOUSE_SENDER=${GATEHOUSE_SENDER:-no-reply@gatehouse.local}
export GATEHOUSE_STATE_DIR="$state" RUST_LOG=${RUST_LOG:-info}

wait_for() { # url, expected-status-regex, what
  for _ in $(seq 1 600); do
    code=$(curl -s -o /dev/null -w '%{http_code}' "$1" || true)
    if [[ "$code" =~ $2 ]]; then return 0; fi
    sleep 0.2
  done
  echo "up: $3 did not come up; see $state/logs" >&2
  exit 1
}

stop() { bash infra/local/down.sh; }
trap 'stop; exit 1' ERR

setsid python3 infra/local/moto_server.py -H 127.0.0.1 -p "$moto_port" >"$state/logs/moto.log" 2>&1 &
echo $! >"$state/pids/moto"
wait_for "$AWS_ENDPOINT_URL/moto-api/" '^200$' "moto"

target/debug/gatehouse-ops bootstrap --env-file "$state/local.env" \
  --api http://127.0.0.1:9000/api --mailbox http://127.0.0.1:9001/mailbox

# The functions reach moto through a transparent proxy that tests can tell to inject faults
# (SES down, DynamoDB throttling); the pump and the ops tooling talk to moto directly.
proxy_port=${GATEHOUSE_PROXY_PORT:-4567}
setsid python3 infra/local/faultproxy.py --listen "$proxy_port" --upstream "$AWS_ENDPOINT_URL" >"$state/logs/faultproxy.log" 2>&1 &
echo $! >"$state/pids/faultproxy"
wait_for "http://127.0.0.1:$proxy_port/__faults" '^200$' "fault proxy"
sed -i "s|^AWS_ENDPOINT_URL=.*|AWS_ENDPOINT_URL=http://127.0.0.1:$proxy_port|" "$state/local.env"
echo "GATEHOUSE_FAULTS=http://127.0.0.1:$proxy_port/__faults" >>"$state/local.env"

# The functions get only what they need (no admin token). cargo lambda watch logs the
# environment it spawns functions with, so secrets are redacted on the way to the log. It runs
# up to GATEHOUSE_CONCURRENCY instances of each function, so requests really race.
lambda_port=${GATEHOUSE_LAMBDA_PORT:-9002}
lambda_url="http://127.0.0.1:$lambda_port"
concurrency=${GATEHOUSE_CONCURRENCY:-3}
# GATEHOUSE_LOCAL_RELEASE=1 runs the functions' release build (the benchmark's section 8;
# `cargo build --release --bins` first, or the first request of each function builds it).
profile_flag=""
[ "${GATEHOUSE_LOCAL_RELEASE:-0}" = 1 ] && profile_flag="--release"
echo "GATEHOUSE_LOCAL_PROFILE=${profile_flag:+release}${profile_flag:-debug}" >>"$state/local.env"
grep -v '^GATEHOUSE_ADMIN_TOKEN=' "$state/local.env" >"$state/functions.env"
# Webhook endpoints may be plain http on loopback locally (the test receivers).
echo 'GATEHOUSE_WEBHOOK_ALLOW_LOOPBACK_HTTP=1' >>"$state/functions.env"
# The webhook delivery queue (the sidecar creates it, named after its logical id so the IAM
# check maps it to the template's queue) a retry schedule of seconds, not hours, and the worker's periods in seconds.
{
  echo "GATEHOUSE_WEBHOOK_QUEUE_URL=http://127.0.0.1:$proxy_port/123456789012/WebhookDeliveryQueue"
  echo "GATEHOUSE_WEBHOOK_RETRY_SCHEDULE=${GATEHOUSE_WEBHOOK_RETRY_SCHEDULE:-1,1,2}"
  # An endpoint failing every delivery for 6 s (not 5 days) is disabled; a rotated-out
  # secret keeps signing for 4 s (not 24 h).
  echo "GATEHOUSE_WEBHOOK_DISABLE_AFTER_SECONDS=${GATEHOUSE_WEBHOOK_DISABLE_AFTER_SECONDS:-6}"
  echo "GATEHOUSE_WEBHOOK_ROTATION_OVERLAP_SECONDS=${GATEHOUSE_WEBHOOK_ROTATION_OVERLAP_SECONDS:-4}"
} >>"$state/functions.env"
setsid bash -c "cargo lambda watch $profile_flag --ignore-changes --invoke-address 127.0.0.1 --invoke-port $lambda_port --concurrency $concurrency --env-file '$state/functions.env' 2>&1 \
  | sed -u -E 's/([A-Z_]*(TOKEN|SECRET)[A-Z_]*)=(\"[^\"]*\"|[^ ]*)/\\1=<redacted>/g' >'$state/logs/functions.log'" </dev/null >/dev/null 2>&1 &
echo $! >"$state/pids/functions"

# API Gateway: every route of template.yaml on :9000, the demo portal as the protected API's
# portal (the ProtectedPortalId parameter, as `sam deploy --parameter-overrides` would set it).
portal_id=$(sed -n 's/^GATEHOUSE_PORTAL_ID=//p' "$state/local.env")
overrides="ProtectedPortalId=$portal_id ${GATEHOUSE_PARAMETER_OVERRIDES:-}"
setsid python3 infra/local/front.py --port 9000 --lambda-url "$lambda_url" --allow-clock-offset \
  --parameter-overrides "$overrides" >"$state/logs/front.log" 2>&1 </dev/null &
echo $! >"$state/pids/front"
{
  echo "GATEHOUSE_LAMBDA_URL=$lambda_url"
  echo "GATEHOUSE_AUTHORIZER_CACHE_TTL_SECONDS=$(python3 infra/local/front.py --parameter-overrides "$overrides" --authorizer-ttl 'GET /example/orders')"
} >>"$state/local.env"

# Warm every function once (the first call starts its process).
wait_for "http://127.0.0.1:9000/api/nowhere" '^404$' "the front and the \$default route"
wait_for "http://127.0.0.1:9000/api/portals/00000000-0000-0000-0000-000000000000" '^401$' "portals"
wait_for "http://127.0.0.1:9000/api/approvals" '^401$' "approvals"
wait_for "http://127.0.0.1:9000/api/portals/00000000-0000-0000-0000-000000000000/invites" '^401$' "invites"
wait_for "http://127.0.0.1:9000/api/portals/00000000-0000-0000-0000-000000000000/me" '^401$' "sessions"
curl -s -o /dev/null -X POST -H 'content-type: application/json' -d '{}' \
  "http://127.0.0.1:9000/api/portals/00000000-0000-0000-0000-000000000000/verify-email" || true
wait_for "http://127.0.0.1:9000/api/portals/00000000-0000-0000-0000-000000000000/teams" '^401$' "teams"
wait_for "http://127.0.0.1:9000/api/portals/00000000-0000-0000-0000-000000000000/applications" '^401$' "applications"
wait_for "http://127.0.0.1:9000/example/orders" '^401$' "the example route"
curl -s -o /dev/null -H 'x-api-key: ghk_warm' "http://127.0.0.1:9000/example/orders" || true
curl -s -o /dev/null -X POST -H 'content-type: application/json' -d '{}' \
  "http://127.0.0.1:9000/api/portals/00000000-0000-0000-0000-000000000000/register" || true
curl -s -o /dev/null -X POST -d '{"Records": []}' "$lambda_url/2015-03-31/functions/stream-consumer/invocations" || true

# Single sign-on: the local OpenID Provider (oidc-provider, infra/local/oidc) on loopback, with
# a fresh admin key (its admin API and client registration; not given to the functions).
oidc_port=${GATEHOUSE_OIDC_PORT:-9400}
oidc_key=$(openssl rand -hex 32)
GATEHOUSE_OIDC_PORT=$oidc_port GATEHOUSE_OIDC_ADMIN_KEY=$oidc_key setsid node infra/local/oidc/provider.mjs \
  >"$state/logs/oidc.log" 2>&1 </dev/null &
echo $! >"$state/pids/oidc"
wait_for "http://127.0.0.1:$oidc_port/.well-known/openid-configuration" '^200$' "the OpenID Provider"
{
  echo "GATEHOUSE_OIDC_ISSUER=http://127.0.0.1:$oidc_port"
  echo "GATEHOUSE_OIDC_ADMIN_KEY=$oidc_key"
} >>"$state/local.env"
wait_for "http://127.0.0.1:9000/api/portals/00000000-0000-0000-0000-000000000000/identity-providers" '^401$' "sso"

setsid python3 infra/local/sidecar.py --state-dir "$state" --invoke-url "$lambda_url" \
  --fanout-functions webhook-fanout --sqs-queue WebhookDeliveryQueue >"$state/logs/sidecar.log" 2>&1 &
echo $! >"$state/pids/sidecar"
wait_for "http://127.0.0.1:9001/healthz" '^200$' "mailbox"
trap - ERR

echo "Gatehouse is up: API http://127.0.0.1:9000/api, mailbox http://127.0.0.1:9001/mailbox" >&2
echo "Settings in $state/local.env (source it: set -a; . $state/local.env; set +a)" >&2
grep -vE "TOKEN|SECRET|_KEY=" "$state/local.env" >&2
if [ "$detach" = 1 ]; then exit 0; fi
trap 'echo; echo "up: stopping" >&2; stop; exit 0' INT TERM
while sleep 1; do
  for f in "$state"/pids/*; do
    kill -0 "$(cat "$f")" 2>/dev/null || { echo "up: $(basename "$f") exited; see $state/logs" >&2; stop; exit 1; }
  done
done
