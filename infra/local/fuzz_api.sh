#!/usr/bin/env bash
# Fuzzes the running local stack from openapi.yaml with schemathesis: no 5xx, and every
# response must match the document (status, content type, schema). Bounded: a few examples per
# operation (FUZZ_EXAMPLES, default 15). Run after `infra/local/up.sh --detach`.
#
# Every operation runs against a portal this script creates, with the credential its `security`
# names (infra/local/schemathesis.toml): admin routes with the admin token, session routes with
# the session of an approved developer of that portal this script creates (invited, accepted,
# signed in), so they are fuzzed past authentication. One JSON body in four is sent as bytes that are not UTF-8
# (infra/local/fuzz_hooks.py).
set -euo pipefail
cd "$(dirname "$0")/../.."
set -a; . .gatehouse/local.env; set +a
python3 -c "import schemathesis" 2>/dev/null || python3 -m pip install --quiet --disable-pip-version-check 'schemathesis==4.32.5'

# The fuzzing portal and developer (invited by link, accepts, signs in), as shell assignments.
creds=$(python3 - <<'EOF'
import json, os, re, secrets, shlex, time, urllib.request

http = urllib.request.build_opener(urllib.request.ProxyHandler({}))
api, admin = os.environ["GATEHOUSE_API"], os.environ["GATEHOUSE_ADMIN_TOKEN"]

def call(method, path, body=None, token=None):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(f"{api}{path}", data=json.dumps(body).encode() if body is not None else None,
                                 method=method, headers=headers)
    with http.open(req, timeout=60) as resp:
        return json.loads(resp.read() or b"null")

email = f"fuzz-{secrets.token_hex(6)}@example.com"
password = f"fuzz {secrets.token_urlsafe(18)}"
portal = call("POST", "/portals", {"name": "Fuzzing"}, admin)["id"]
call("POST", f"/portals/{portal}/developers/invites", {"emails": [email]}, admin)
token = None
for _ in range(300):
    mails = json.loads(http.open(os.environ["GATEHOUSE_MAILBOX"], timeout=30).read())
    for mail in mails:
        link = re.search(r"token=([A-Za-z0-9_.-]+)", mail.get("body", ""))
        if email in mail.get("to", []) and link:
            token = link.group(1)
    if token:
        break
    time.sleep(0.2)
if not token:
    raise SystemExit("fuzz: the invite mail never arrived")
call("POST", f"/portals/{portal}/invites/accept", {"token": token, "password": password, "name": "Fuzz Developer"})
signed_in = call("POST", f"/portals/{portal}/login", {"login": email, "password": password})
decoy = call("POST", f"/portals/{portal}/register", {"email": f"decoy-{secrets.token_hex(6)}@example.com",
                                                     "password": password, "name": "Decoy Developer"})["id"]
for key, value in [("GATEHOUSE_FUZZ_PORTAL_ID", portal), ("GATEHOUSE_FUZZ_LOGIN", email), ("GATEHOUSE_FUZZ_PASSWORD", password),
                   ("GATEHOUSE_FUZZ_SESSION", signed_in["token"]), ("GATEHOUSE_FUZZ_DEVELOPER_ID", signed_in["developer"]["id"]),
                   ("GATEHOUSE_FUZZ_DECOY_ID", decoy)]:
    print(f"export {key}={shlex.quote(value)}")
EOF
)
eval "$creds"

# Only the stateless checks that this document makes promises about.
export SCHEMATHESIS_HOOKS=infra.local.fuzz_hooks PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
exec schemathesis --config-file infra/local/schemathesis.toml run openapi.yaml \
  --url "http://127.0.0.1:9000" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance \
  --max-examples "${FUZZ_EXAMPLES:-15}" \
  --phases examples,coverage,fuzzing \
  --generation-deterministic \
  --request-timeout 30 \
  --continue-on-failure
