# Rolling deployments with real agents and dockerd (issue 4): max_parallel=1 on three nodes moves
# one node at a time; a version whose healthcheck fails stops at the first node, and the automatic
# rollback restores that node while the nodes it never reached keep their containers untouched;
# max_failures tolerates failed nodes up to its count; --no-supersede refuses to replace a
# deployment in progress, and a plain deploy supersedes it.
. "$(dirname "$0")/lib.sh"


NODES="o1 o2 o3"
use_docker ovrit-o1 ovrit-o2 ovrit-o3

# stack TAG HEALTHCHECK [PORTS]: one busybox web service.
stack() {
	cat <<YAML
services:
  web:
    image: ovr-test/busybox:$1
    init: true
    command: ["httpd", "-f", "-p", "80", "-h", "/etc"]
    stop_grace_period: 1s
    healthcheck:
      test: $2
      interval: 1s
      timeout: 2s
      retries: 2
${3:-}
YAML
}
stack 1 '["CMD", "true"]' >"$T/good.yaml"
stack 2 '["CMD", "false"]' >"$T/unhealthy.yaml"
# All three agents share one engine: a fixed host port works on the first node only.
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
stack 1 '["CMD", "true"]' "    ports: [\"127.0.0.1:$PORT:80\"]" >"$T/port.yaml"

cid() { docker ps -q --no-trunc --filter "label=com.docker.compose.project=ovrit-$1-roll" \
	--filter "label=com.docker.compose.service=web"; }
image_of() { docker inspect -f '{{.Config.Image}}' "$(cid "$1")" 2>/dev/null; }
dep_json() { ovrctl deployment get "$1" -o json >"$T/dep.json" 2>"$T/dep.err"; }
dpy() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$T/dep.json" "$1" 2>/dev/null; }
# follow ID SECONDS: polls the deployment until it is over, recording the most nodes that were on
# their way at once (released, neither healthy nor failed) in MAX_INFLIGHT and the final state
# in DSTATE.
follow() {
	local i n
	MAX_INFLIGHT=0
	for i in $(seq 1 $(($2 * 4))); do
		dep_json "$1" || { sleep 0.25; continue; }
		n=$(dpy 'sum(1 for x in d.get("nodes", []) if x.get("state") in ("NODE_DEPLOYMENT_STATE_SENT", "NODE_DEPLOYMENT_STATE_APPLYING", "NODE_DEPLOYMENT_STATE_RUNNING"))')
		[ "${n:-0}" -gt "$MAX_INFLIGHT" ] && MAX_INFLIGHT=$n
		DSTATE=$(dpy 'd["state"]')
		[ "$DSTATE" != DEPLOYMENT_STATE_IN_PROGRESS ] && return 0
		sleep 0.25
	done
	return 1
}
node_state_in() { dpy "[x.get('state', '') for x in d['nodes'] if x['node'] == '$1'][0]"; }
node_msg_in() { dpy "[x.get('message', '') for x in d['nodes'] if x['node'] == '$1'][0]"; }
deploy_id() { sed -n 's/.*(deployment \([0-9a-f]\{16\}\) started).*/\1/p' "$1" | head -1; }

start_server --rest-listen 127.0.0.1:0 || exit 1
for n in $NODES; do
	enroll "$n" role=roll
	start_agent "$n"
done
for n in $NODES; do wait_state "$n" connected 30 || not_ok "agent $n connects"; done

# --- a good rolling deploy: one node at a time, in name order
ovrctl app create roll -f "$T/good.yaml" --selector role=roll --strategy rolling \
	--max-parallel 1 --min-healthy-time 2s --healthy-deadline 90s --deploy >"$T/out" 2>&1
check "app create --strategy rolling --deploy starts a deployment" test -n "$(deploy_id "$T/out")"
DEP=$(deploy_id "$T/out")
follow "$DEP" 150
check "a rolling deploy to three nodes succeeds" test "$DSTATE" = DEPLOYMENT_STATE_SUCCEEDED
check "  ... never more than one node at a time (saw $MAX_INFLIGHT)" test "$MAX_INFLIGHT" -le 1
grep "deployment $DEP: node " "$T/server.log" | sed 's/.*node \(o[0-9]\).*/\1/' | tr '\n' ' ' >"$T/order"
check "  ... in name order ($(cat "$T/order"))" test "$(cat "$T/order")" = "o1 o2 o3 "
ovrctl app get roll >"$T/get" 2>&1
check "app get shows the rollout" grep -q 'rollout rolling, 1 node(s) at a time' "$T/get"
for n in $NODES; do eval "BEFORE_$n=$(cid $n)"; done

# --- a version whose healthcheck fails stops at the first node and is rolled back there only
ovrctl deploy roll -f "$T/unhealthy.yaml" -m "web 2, unhealthy" >"$T/out" 2>&1
DEP=$(deploy_id "$T/out")
follow "$DEP" 150
check "an unhealthy rolling deploy is rolled back" test "$DSTATE" = DEPLOYMENT_STATE_ROLLED_BACK
check "  ... o1 failed" test "$(node_state_in o1)" = NODE_DEPLOYMENT_STATE_FAILED
check "  ... o2 and o3 were never reached" sh -c "[ '$(node_state_in o2)' = NODE_DEPLOYMENT_STATE_PENDING ] && [ '$(node_state_in o3)' = NODE_DEPLOYMENT_STATE_PENDING ]"
msg_has() { node_msg_in "$1" | grep -q "$2"; }
check "  ... and say so" msg_has o3 'not updated: the deployment failed'

RB=$(sed -n 's/.*rolled back automatically to version 1 (version 3, deployment \([0-9a-f]\{16\}\)).*/\1/p' "$T/dep.json" | head -1)
check "  ... the reason names the automatic rollback" test -n "$RB"
follow "$RB" 150
check "the automatic rollback succeeds on every node" test "$DSTATE" = DEPLOYMENT_STATE_SUCCEEDED
check "  ... o1 runs the last-known-good image again" test "$(image_of o1)" = ovr-test/busybox:1
check "  ... o2 and o3 kept their containers" sh -c "[ '$(cid o2)' = '$BEFORE_o2' ] && [ '$(cid o3)' = '$BEFORE_o3' ]"
ovrctl versions roll -o json >"$T/v.json"
check "versions: 3 auto_rollback of 1, 2 deploy, 1 deploy" test "$(python3 -c '
import json,sys
d = json.load(open(sys.argv[1]))
print(" ".join("%s:%s:%s" % (v["version"], v["kind"][16:].lower(), v.get("rollbackOf", "0")) for v in d["versions"]))' "$T/v.json")" = "3:auto_rollback:1 2:deploy:0 1:deploy:0"
api GET /api/apps/roll
check "GET /api/apps/roll agrees: version 3, last-known-good 3" \
	test "$(jq_py 'd["currentVersion"] + ":" + d["lastKnownGoodVersion"]')" = "3:3"

# --- --no-supersede refuses while a deployment is in progress; a plain deploy supersedes it
ovrctl app update roll --min-healthy-time 20s >/dev/null 2>&1
ovrctl deploy roll --env STEP=a >"$T/out" 2>&1
SLOW=$(deploy_id "$T/out")
ovrctl deploy roll --env STEP=b --no-supersede >"$T/out" 2>&1
rc=$?
check "deploy --no-supersede while one is in progress fails (exit $rc)" test "$rc" -eq 1
check "  ... naming the deployment in progress" grep -q "deployment $SLOW of app 'roll' (version 4) is in progress" "$T/out"
ovrctl versions roll -o json >"$T/v.json"
check "  ... and makes no version" test "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["versions"][0]["version"])' "$T/v.json")" = 4
# From here on three nodes at a time: the rest is about counting, not order.
ovrctl app update roll --min-healthy-time 2s --max-parallel 3 >/dev/null 2>&1
ovrctl deploy roll --env STEP=c >"$T/out" 2>&1
NEW=$(deploy_id "$T/out")
dep_json "$SLOW"
check "a plain deploy supersedes it" sh -c "[ '$(dpy 'd["state"]')' = DEPLOYMENT_STATE_SUPERSEDED ] && grep -q 'superseded by deployment $NEW' '$T/dep.json'"
follow "$NEW" 150
check "  ... and the new one succeeds" test "$DSTATE" = DEPLOYMENT_STATE_SUCCEEDED

# --- max_failures: the three agents share one engine, so a fixed host port works on one node
# only; two failed nodes are tolerated with max_failures 2, not with 1
ovrctl app update roll --max-failures 2 >/dev/null 2>&1
ovrctl deploy roll -f "$T/port.yaml" -m "fixed port" >"$T/out" 2>&1
DEP=$(deploy_id "$T/out")
follow "$DEP" 150
check "with max_failures 2, two failed nodes still succeed" test "$DSTATE" = DEPLOYMENT_STATE_SUCCEEDED
check "  ... the reason counts them" grep -q '2 of 3 nodes failed, within max_failures 2' "$T/dep.json"
check "  ... one node serves on the fixed port" test "$(dpy 'sum(1 for x in d["nodes"] if x["state"] == "NODE_DEPLOYMENT_STATE_HEALTHY")')" = 1
ovrctl app update roll --max-failures 1 >/dev/null 2>&1
ovrctl deploy roll --env STEP=d -m "fixed port, stricter" >"$T/out" 2>&1
DEP=$(deploy_id "$T/out")
follow "$DEP" 150
check "with max_failures 1, the second failed node fails the deployment" \
	test "$DSTATE" = DEPLOYMENT_STATE_ROLLED_BACK
check "  ... the reason says how many failed" grep -q '(2 nodes failed; max_failures is 1)' "$T/dep.json"

finish
