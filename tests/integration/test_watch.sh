# Watching deployments (issue 4): WatchDeployment over gRPC (ovrctl deployment watch) and as
# NDJSON over REST: a finished deployment, an unknown id, one that is superseded, a client that
# leaves mid-watch, one in progress that an agent then carries out, ovrctl deployment get, and a
# server that stops with watches open.
. "$(dirname "$0")/lib.sh"


# Agents here use the project prefix ovrit-NODE (lib.sh): remove what they leave, even on failure.
# The nodes are w1 and w2, so this cleanup never touches another test's ovrit-n1, ovrit-h1, ...
use_docker ovrit-w1

cat >"$T/app.yaml" <<'YAML'
services:
  web:
    image: ovr-test/busybox:1
    init: true
    command: ["sleep", "86400"]
    stop_grace_period: 1s
YAML

# run ARGS...: ovrctl with stdout in $T/out, stderr in $T/err and the exit code in RC.
run() {
	ovrctl "$@" >"$T/out" 2>"$T/err" </dev/null
	RC=$?
}
rc_is() { [ "$RC" = "$1" ]; }
# watch_rest ID FILE SECONDS: GET /api/deployments/ID/watch, unbuffered; the body in FILE, the
# headers in FILE.h; returns curl's exit code (28: it gave up after SECONDS).
watch_rest() {
	curl -sS -N --cacert "$T/srv/pki/ca.crt" --max-time "$3" -D "$2.h" -o "$2" \
		-H "Authorization: Bearer $(cat "$T/srv/admin.token")" \
		"https://127.0.0.1:$REST_PORT/api/deployments/$1/watch" 2>"$2.err"
}
status_is() { grep -q "^HTTP/1.1 $2" "$1.h"; }
# wait_log PATTERN SECONDS: until the server log has a line matching PATTERN.
wait_log() {
	local i
	for i in $(seq 1 $(($2 * 10))); do
		grep -qE "$1" "$T/server.log" && return 0
		sleep 0.1
	done
	return 1
}
ms_since() { echo $((($(date +%s%N) - $1) / 1000000)); }

start_server --rest-listen 127.0.0.1:0 --log-level debug || exit 1
rest_port

# --- a deployment that is already over
body "$T/app.yaml" 'name="solo"' 'deploy=True'
api POST /api/apps --data-binary "@$T/req.json"
DONE=$(jq_py 'd["deployment"]["id"]')
check "an app targeting no node has a deployment that succeeded at once" \
	test "$(jq_py 'd["deployment"]["state"]')" = DEPLOYMENT_STATE_SUCCEEDED
watch_rest "$DONE" "$T/w1" 10
CURL_RC=$?
check "REST: watching it answers 200 and ends by itself" \
	sh -c "[ $CURL_RC = 0 ] && grep -q '^HTTP/1.1 200' '$T/w1.h'"
check "  ... as application/x-ndjson" grep -qi '^content-type: application/x-ndjson' "$T/w1.h"
check "  ... every line is a JSON object" \
	test "$(ndj "$T/w1" 'all(isinstance(x, dict) for x in L)')" = True
check "  ... the full deployment, then done" \
	test "$(ndj "$T/w1" '[(x["deployment"]["id"], x.get("node", ""), x.get("done", False)) for x in L]')" = \
	"[('$DONE', '', False), ('$DONE', '', True)]"
check "  ... with its state and reason" \
	test "$(ndj "$T/w1" 'L[-1]["deployment"]["state"] + "/" + L[-1]["deployment"]["reason"]')" = \
	"DEPLOYMENT_STATE_SUCCEEDED/no node is targeted"
run deployment watch "$DONE"
check "gRPC: ovrctl deployment watch of a succeeded deployment exits 0" rc_is 0
check "  ... saying so" grep -q "^deployment $DONE succeeded" "$T/out"
run deployment get "$DONE"
check "ovrctl deployment get shows it" \
	sh -c "[ $RC = 0 ] && grep -q '^ID  *APP  *VERSION  *KIND  *STATE  *ACTOR  *STARTED  *FINISHED  *REASON' '$T/out' && grep -q '^$DONE  *solo  *1  *deploy  *succeeded  *admin .* no node is targeted' '$T/out'"
check "  ... and that no node takes part" grep -q '^no node takes part' "$T/out"
run deployment get "$DONE" -o json
check "  ... -o json prints the message" \
	test "$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["id"], d["state"])' "$T/out")" = \
	"$DONE DEPLOYMENT_STATE_SUCCEEDED"

# --- unknown and invalid ids
watch_rest nope "$T/w2" 10
check "REST: an unknown id is 404 with code 5, naming it" \
	sh -c "grep -q '^HTTP/1.1 404' '$T/w2.h' && [ \"\$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d[\"code\"], d[\"message\"])' '$T/w2')\" = \"5 deployment 'nope' not found\" ]"
check "  ... as an ordinary JSON error" grep -qi '^content-type: application/json' "$T/w2.h"
run deployment watch nope
check "gRPC: ovrctl deployment watch of an unknown id exits 1 (NOT_FOUND) naming it" \
	sh -c "[ $RC = 1 ] && grep -q \"^ovrctl: deployment 'nope' not found\" '$T/err'"
run deployment get nope
check "ovrctl deployment get of an unknown id exits 1" \
	sh -c "[ $RC = 1 ] && grep -q \"deployment 'nope' not found\" '$T/err'"
watch_rest "$(printf 'x%.0s' $(seq 1 65))" "$T/w3" 10
check "REST: an id over 64 bytes is 400 with code 3" \
	sh -c "grep -q '^HTTP/1.1 400' '$T/w3.h' && grep -q '\"code\":3' '$T/w3'"
run deployment watch
check "ovrctl deployment watch without an id is a usage error" rc_is 2
curl -sS --cacert "$T/srv/pki/ca.crt" --max-time 10 -D "$T/w4.h" -o "$T/w4" \
	"https://127.0.0.1:$REST_PORT/api/deployments/$DONE/watch" 2>/dev/null
check "REST: watching without a token is 401 with code 16, as for unary routes" \
	sh -c "grep -q '^HTTP/1.1 401' '$T/w4.h' && grep -qi '^www-authenticate: Bearer' '$T/w4.h' && grep -q '\"code\":16' '$T/w4'"

# --- a deployment in progress that is superseded: enroll w1, but no agent yet
check "enroll w1 (its agent does not run yet)" enroll w1
body "$T/app.yaml" 'name="shop"' 'targets={"nodes": ["w1"]}' 'deploy=True'
api POST /api/apps --data-binary "@$T/req.json"
A=$(jq_py 'd["deployment"]["id"]')
check "an app on w1 has a deployment in progress" \
	test "$(jq_py 'd["deployment"]["state"]')" = DEPLOYMENT_STATE_IN_PROGRESS
ovrctl deployment watch "$A" --timeout 60s >"$T/wa.out" 2>"$T/wa.err" </dev/null &
WA=$!
watch_rest "$A" "$T/wa" 60 &
WR=$!
sleep 2
check "both watches stay open while it is in progress" sh -c "kill -0 $WA && kill -0 $WR"
check "  ... REST sent the deployment so far, pending on w1" \
	test "$(ndj "$T/wa" '[(x["deployment"]["state"], [n["node"] + " " + n["state"] for n in x["deployment"]["nodes"]]) for x in L]')" = \
	"[('DEPLOYMENT_STATE_IN_PROGRESS', ['w1 NODE_DEPLOYMENT_STATE_PENDING'])]"
check "  ... ovrctl shows it" grep -q "\] deployment $A (app shop, version 1): in progress" "$T/wa.out"
t0=$(date +%s%N)
api POST /api/apps/shop/deploy -d '{"message": "again"}'
B=$(jq_py 'd["deployment"]["id"]')
wait $WA
RCA=$?
wait $WR
RCR=$?
log "the watches of the superseded deployment ended $(ms_since "$t0") ms after the deploy"
check "a new deploy supersedes it: ovrctl deployment watch exits 1" test "$RCA" = 1
check "  ... naming the state" grep -q "^ovrctl: deployment $A superseded" "$T/wa.err"
check "  ... the REST watch ends too, cleanly" test "$RCR" = 0
check "  ... its last line is done, superseded" \
	test "$(ndj "$T/wa" 'str(L[-1].get("done")) + " " + L[-1]["deployment"]["state"]')" = \
	"True DEPLOYMENT_STATE_SUPERSEDED"
check "  ... and every line is JSON" test "$(ndj "$T/wa" 'len(L) >= 2')" = True

# --- clients that leave mid-watch
watch_rest "$B" "$T/wd" 2
CURL_RC=$?
check "REST: a client that gives up after 2 s (curl --max-time 2) had the first event" \
	sh -c "[ $CURL_RC = 28 ] && [ \"\$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())[\"deployment\"][\"id\"])' '$T/wd')\" = '$B' ]"
check "  ... the server ends that watch within a second" \
	wait_log "deployment watch closed deployment=$B by=admin \(cancelled\)" 2
api GET "/api/deployments/$B"
check "  ... and goes on serving" test "$CODE" = 200
run deployment watch "$B" --timeout 2s
check "gRPC: ovrctl deployment watch --timeout 2s of a pending deployment exits 1" \
	sh -c "[ $RC = 1 ] && grep -q \"^ovrctl: deployment $B is still in progress after 2s\" '$T/err'"
check "  ... and the server ends that watch too" \
	sh -c "sleep 1; [ \$(grep -cE 'deployment watch closed deployment=$B by=admin \(cancelled\)' '$T/server.log') -ge 2 ]"

# --- the agent carries the deployment out while it is watched
ovrctl deployment watch "$B" --timeout 150s >"$T/wb.out" 2>"$T/wb.err" </dev/null &
WB=$!
watch_rest "$B" "$T/wb" 150 &
WR=$!
sleep 1
start_agent w1
t0=$(date +%s%N)
wait $WB
RCB=$?
wait $WR
RCR=$?
log "the deployment ended $(ms_since "$t0") ms after the agent started"
check "when w1's agent runs it, ovrctl deployment watch exits 0" test "$RCB" = 0
check "  ... showing w1's transitions, a line each" \
	sh -c "[ \$(grep -c '^\[[0-9ms]*\] w1 ' '$T/wb.out') -ge 2 ] && grep -q '^\[[0-9ms]*\] w1 healthy' '$T/wb.out'"
check "  ... and the success" grep -q "^deployment $B succeeded: app shop version 2 on 1 node" "$T/wb.out"
check "REST: the stream ends cleanly" test "$RCR" = 0
check "  ... every line is JSON" test "$(ndj "$T/wb" 'all(isinstance(x, dict) for x in L)')" = True
check "  ... first the deployment as it was" \
	test "$(ndj "$T/wb" 'L[0].get("node", "") + "|" + L[0]["deployment"]["state"]')" = "|DEPLOYMENT_STATE_IN_PROGRESS"
check "  ... then events for w1, each with w1's new state" \
	test "$(ndj "$T/wb" 'len([x for x in L if x.get("node") == "w1"]) >= 2 and all(n["node"] != "w1" or n["state"] != "NODE_DEPLOYMENT_STATE_PENDING" for x in L[1:] if x.get("node") == "w1" for n in x["deployment"]["nodes"])')" = True
check "  ... only w1 or the whole deployment" \
	test "$(ndj "$T/wb" 'sorted(set(x.get("node", "") for x in L))')" = "['', 'w1']"
check "  ... the last is done: succeeded, w1 healthy" \
	test "$(ndj "$T/wb" 'str(L[-1].get("done")) + " " + L[-1]["deployment"]["state"] + " " + L[-1]["deployment"]["nodes"][0]["state"]')" = \
	"True DEPLOYMENT_STATE_SUCCEEDED NODE_DEPLOYMENT_STATE_HEALTHY"
check "  ... and only the last is done" test "$(ndj "$T/wb" '[bool(x.get("done")) for x in L].count(True)')" = 1
check "the app runs on w1" \
	test -n "$(docker ps -q --filter label=com.docker.compose.project=ovrit-w1-shop)"
run deployment get "$B"
check "ovrctl deployment get lists w1, healthy" \
	sh -c "grep -q '^NODE  *STATE  *MESSAGE  *UPDATED' '$T/out' && grep -q '^w1  *healthy ' '$T/out'"

# --- a server that stops with watches open
check "enroll w2 (no agent)" enroll w2
body "$T/app.yaml" 'name="later"' 'targets={"nodes": ["w2"]}' 'deploy=True'
api POST /api/apps --data-binary "@$T/req.json"
C=$(jq_py 'd["deployment"]["id"]')
watch_rest "$C" "$T/wc" 60 &
WR=$!
ovrctl deployment watch "$C" --timeout 5s >"$T/wc.out" 2>"$T/wc.err" </dev/null &
WC=$!
sleep 1.5
t0=$(date +%s%N)
stop_server TERM
STOP_MS=$(ms_since "$t0")
log "the server stopped in $STOP_MS ms with 2 watches open"
check "SIGTERM stops the server promptly with watches open" test "$STOP_MS" -lt 8000
wait $WR
RCR=$?
check "  ... the REST watch ends cleanly" test "$RCR" = 0
check "  ... with an error line: 14, server shutting down" \
	test "$(ndj "$T/wc" 'str(L[-1]["error"]["code"]) + " " + L[-1]["error"]["message"]')" = \
	"14 server shutting down"
check "  ... after the deployment as it was" \
	test "$(ndj "$T/wc" 'len(L) == 2 and L[0]["deployment"]["id"]')" = "$C"
wait $WC
check "  ... ovrctl keeps trying, then gives up at its --timeout (exit 1)" test $? = 1
check "the server log has no error" sh -c "! grep -qE 'Z error |AddressSanitizer|LeakSanitizer|runtime error' '$T/server.log'"
check "  ... and no warning about watches" sh -c "! grep -E 'Z warn ' '$T/server.log' | grep -qi watch"

finish
