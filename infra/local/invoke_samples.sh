#!/usr/bin/env bash
# Invokes every function with each of its sample events (functions/*/events/*.json) through
# `cargo lambda invoke` against the running local stack, and checks each answers: HTTP
# functions with a status below 500, the stream consumer with a batch response, the
# authorizer with a decision. Run after `infra/local/up.sh --detach`.
set -euo pipefail
cd "$(dirname "$0")/../.."
set -a; . .gatehouse/local.env; set +a
lambda_port=${GATEHOUSE_LAMBDA_URL##*:}  # cargo lambda watch, behind the front
fail=0; count=0
for ev in functions/*/events/*.json; do
  fn=$(basename "$(dirname "$(dirname "$ev")")")
  out=$(cargo lambda invoke "$fn" --invoke-address 127.0.0.1 --invoke-port "$lambda_port" --data-file "$ev" 2>&1) || { echo "FAIL $ev: $out"; fail=1; continue; }
  if ! python3 -c '
import json, sys
r = json.loads(sys.argv[1])
ok = ("statusCode" in r and r["statusCode"] < 500) or "batchItemFailures" in r or "isAuthorized" in r
sys.exit(0 if ok else 1)' "$out"; then
    echo "FAIL $ev: $out"; fail=1; continue
  fi
  count=$((count + 1))
  echo "ok   $fn $(basename "$ev")"
done
echo "$count sample events answered"
exit $fail
