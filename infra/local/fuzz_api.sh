#!/usr/bin/env bash
# Fuzzes the running local stack from openapi.yaml with schemathesis: no 5xx, and every
# response must match the document (status, content type, schema). Bounded: a few examples per
# operation (FUZZ_EXAMPLES, default 15). Run after `infra/local/up.sh --detach`.
set -euo pipefail
cd "$(dirname "$0")/../.."
set -a; . .gatehouse/local.env; set +a
python3 -c "import schemathesis" 2>/dev/null || python3 -m pip install --quiet --disable-pip-version-check 'schemathesis==4.32.5'
# Only the stateless checks that this document makes promises about; operations are run with
# the admin token (admin routes) — session routes answer 401 problems, which the document lists.
# Bodies that are not UTF-8 are left out (infra/local/fuzz_hooks.py says why).
export SCHEMATHESIS_HOOKS=infra.local.fuzz_hooks PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
exec schemathesis run openapi.yaml \
  --url "http://127.0.0.1:9000" \
  --header "Authorization: Bearer $GATEHOUSE_ADMIN_TOKEN" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance \
  --max-examples "${FUZZ_EXAMPLES:-15}" \
  --phases examples,coverage,fuzzing \
  --generation-deterministic \
  --generation-codec utf-8 \
  --request-timeout 30 \
  --continue-on-failure
