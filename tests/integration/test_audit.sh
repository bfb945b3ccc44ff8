# The audit log (issue 6): every mutating call, on gRPC and REST alike, makes exactly one event
# with the right actor, target and outcome, in the same transaction as its change; a refused call
# is recorded as denied; no secret value reaches it; the table refuses edits, and an edit made
# around that breaks `ovrctl audit verify` at that event. No agents or Docker needed.
. "$(dirname "$0")/lib.sh"

PLANT="ovr-audit-planted-$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n')"
psql_dev() { su postgres -s /bin/sh -c "psql -qAt -h '$T/srv/postgres/run' -d overseer -c \"$1\"" 2>&1; }
events() { psql_dev "SELECT count(*) FROM audit_events"; }
# last_event: "actor|action|target|outcome" of the newest event.
last_event() { psql_dev "SELECT actor || '|' || action || '|' || target || '|' || outcome FROM audit_events ORDER BY seq DESC LIMIT 1"; }
printf 'services:\n  web:\n    image: ovr-test/busybox:1\n' >"$T/c.yaml"

start_server --rest-listen 127.0.0.1:0 || exit 1
rest_port

# --- each mutating call: one event, right actor, target and outcome
n0=$(events)
ovrctl app create au-shop -f "$T/c.yaml" >/dev/null 2>&1
check "app create (gRPC) writes one event" test "$(events)" = $((n0 + 1))
check "  ... naming admin, the RPC, the app and ok" \
	test "$(last_event)" = "admin|overseer.v1.Apps/CreateApp|app/au-shop|ok"
body "$T/c.yaml" 'message="from rest"'
api POST /api/apps/au-shop/deploy --data-binary "@$T/req.json"
check "a deploy over REST writes one event" test "$(events)" = $((n0 + 2))
check "  ... the same way" test "$(last_event)" = "admin|overseer.v1.Apps/DeployApp|app/au-shop|ok"
ovrctl deploy au-shop -f "$T/c.yaml" --request-id retry-1 >/dev/null 2>&1
ovrctl deploy au-shop -f "$T/c.yaml" --request-id retry-1 >/dev/null 2>&1
check "a retried deploy (same request id) is one event per call" test "$(events)" = $((n0 + 4))
check "  ... the event carries the request id" \
	test "$(psql_dev "SELECT count(*) FROM audit_events WHERE request_id = 'retry-1'")" = 2
ovrctl deploy au-nope -f "$T/c.yaml" >/dev/null 2>&1
check "a failing call is recorded with its code" \
	test "$(last_event)" = "admin|overseer.v1.Apps/DeployApp|app/au-nope|NOT_FOUND"
ovrctl app ls >/dev/null 2>&1
api GET /api/apps/au-shop
check "reads write no event" test "$(events)" = $((n0 + 5))

# --- secrets: the value never reaches the log
printf '%s' "$PLANT" | ovrctl secret set au-key >/dev/null 2>&1
check "secret set is recorded" test "$(last_event)" = "admin|overseer.v1.Secrets/PutSecret|secret/au-key|ok"
api PUT /api/secrets/au-key -d "{\"value\": \"$(printf '%s' "$PLANT" | base64 -w0)\"}"
ovrctl audit ls -o json >"$T/audit.json" 2>&1
check "audit ls lists the events" grep -q 'PutSecret' "$T/audit.json"
check "  ... and no secret value, in any form" \
	sh -c "! grep -qF -- '$PLANT' '$T/audit.json' && ! grep -qF -- '$(printf '%s' "$PLANT" | base64 -w0)' '$T/audit.json'"
check "  ... nor in the table" test "$(psql_dev "SELECT count(*) FROM audit_events WHERE summary LIKE '%$PLANT%'")" = 0
ovrctl audit ls --target app/au-shop >"$T/out" 2>&1
check "audit ls --target filters" sh -c "grep -q DeployApp '$T/out' && ! grep -q PutSecret '$T/out'"

# --- a refused call is recorded, with who tried
VIEWER=$(ovrctl token create au-viewer --role viewer 2>/dev/null)
check "a viewer token is created" test -n "$VIEWER"
TOKEN_OVERRIDE=$VIEWER ovrctl deploy au-shop -f "$T/c.yaml" >"$T/out" 2>&1
check "the viewer is refused a deploy (gRPC)" test $? -ne 0
check "  ... and the refusal is in the log with its actor" \
	test "$(last_event)" = "au-viewer|overseer.v1.Apps/DeployApp|app/au-shop|denied"
TOKEN_OVERRIDE=$VIEWER api POST /api/apps/au-shop/deploy --data-binary "@$T/req.json"
check "  ... and over REST (403)" test "$CODE" = 403
check "  ... recorded the same way" \
	test "$(last_event)" = "au-viewer|overseer.v1.Apps/DeployApp|app/au-shop|denied"
ovrctl audit ls --actor au-viewer >"$T/out" 2>&1
check "audit ls --actor finds both refusals" test "$(grep -c denied "$T/out")" = 2

# --- tamper evidence
ovrctl audit verify >"$T/out" 2>&1
check "audit verify passes on the untouched log" test $? -eq 0
check "  ... saying how many events it checked" grep -q 'events checked' "$T/out"
psql_dev "UPDATE audit_events SET actor = 'mallory' WHERE seq = 3" >"$T/out"
check "the table refuses an edit" grep -q 'append-only' "$T/out"
psql_dev "SET session_replication_role = replica; UPDATE audit_events SET actor = 'mallory' WHERE seq = 3" >/dev/null
ovrctl audit verify >"$T/out" 2>&1
check "an edit made around that fails audit verify (exit 1)" test $? -eq 1
check "  ... at that event" grep -q 'BROKEN at event 3' "$T/out"
api POST /api/audit/verify -d '{}'
check "VerifyChain over REST says the same" test "$(jq_py 'd["firstBrokenSeq"]')" = 3

finish
