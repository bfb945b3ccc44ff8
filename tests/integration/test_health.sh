# The health gate and automatic rollback with real agents and dockerd (issue 4): a good deploy
# becomes last-known-good; a deploy whose healthcheck never passes is rolled back on every node,
# stack-wide, keeping named volumes; a crash-looping container fails with its exit code; no
# rollback without a last-known-good version or with auto-rollback off; an offline node fails
# the deployment at the deadline.
# Deadlines here are generous: CI machines are slow and a loaded compose v1 takes seconds per apply.
. "$(dirname "$0")/lib.sh"


use_docker ovrit-h1 ovrit-h2

# stack TAG WEB_HEALTHCHECK_COMMAND [WEB_COMMAND]
stack() {
	local cmd=${3:-}
	[ -n "$cmd" ] || cmd='["httpd", "-f", "-p", "80", "-h", "/etc"]'
	cat <<YAML
services:
  store:
    image: ovr-test/busybox:1
    init: true
    command: ["sh", "-c", "echo boot >> /data/boots; exec sleep 86400"]
    volumes: ["data:/data"]
    stop_grace_period: 1s
    healthcheck:
      test: ["CMD", "test", "-f", "/data/boots"]
      interval: 1s
      timeout: 2s
      retries: 5
  web:
    image: ovr-test/busybox:$1
    init: true
    command: $cmd
    restart: always
    stop_grace_period: 1s
    healthcheck:
      test: $2
      interval: 1s
      timeout: 2s
      retries: 2
volumes:
  data:
YAML
}
stack 1 '["CMD", "true"]' >"$T/good.yaml"
stack 2 '["CMD", "false"]' >"$T/unhealthy.yaml"
stack 2 '["CMD", "true"]' '["sh", "-c", "sleep 1; exit 3"]' >"$T/crash.yaml"

cid() { docker ps -q --no-trunc --filter "label=com.docker.compose.project=ovrit-$1-$2" \
	--filter "label=com.docker.compose.service=$3"; }
image_of() { docker inspect -f '{{.Config.Image}}' "$(cid "$1" "$2" "$3")" 2>/dev/null; }
deploy() { # FILE MESSAGE -> DEP
	body "$1" "message=\"$2\""
	api POST /api/apps/shop/deploy --data-binary "@$T/req.json"
	DEP=$(jq_py 'd["deployment"]["id"]')
}
versions_story() { # "N:kind:rollback_of ..." newest first
	api GET /api/apps/shop/versions
	jq_py '" ".join(v["version"] + ":" + v["kind"][16:].lower() + ":" + v.get("rollbackOf", "0") for v in d["versions"])'
}
# rollback_of_body: the automatic rollback's deployment id, from the failed deployment's reason.
rollback_of_body() { sed -n 's/.*deployment \([0-9a-f]\{16\}\)).*/\1/p' "$T/body" | head -1; }

start_server --rest-listen 127.0.0.1:0 || exit 1
rest_port
for n in h1 h2; do
	enroll "$n" role=hc
	start_agent "$n"
done
if wait_state h1 connected 60 && wait_state h2 connected 60; then ok "two agents connect"; else not_ok "two agents connect"; fi

# --- a good deploy becomes last-known-good, after the health window
body "$T/good.yaml" 'name="shop"' 'targets={"selector": "role=hc"}' 'deploy=True' \
	'health={"minHealthyTimeMs": "3000", "healthyDeadlineMs": "90000"}'
api POST /api/apps --data-binary "@$T/req.json"
DEP=$(jq_py 'd["deployment"]["id"]')
t0=$(date +%s%N)
wait_deployment "$DEP" 120
took=$((($(date +%s%N) - t0) / 1000000))
check "a good deploy succeeds" test "$DSTATE" = DEPLOYMENT_STATE_SUCCEEDED
check "  ... not before the 3 s health window ($took ms)" test "$took" -ge 3000
api GET /api/apps/shop
check "  ... and version 1 is last-known-good" test "$(jq_py 'd["lastKnownGoodVersion"]')" = 1
docker exec "$(cid h1 shop store)" sh -c 'echo precious > /data/marker'

# --- a healthcheck that never passes: rolled back on every node, stack-wide
deploy "$T/unhealthy.yaml" "web 2, unhealthy"
wait_deployment "$DEP" 120
check "a deploy whose healthcheck fails is rolled back" test "$DSTATE" = DEPLOYMENT_STATE_ROLLED_BACK
check "  ... the reason names the node and the unhealthy service" \
	sh -c "grep -q 'node h[12]: ' '$T/body' && grep -qi 'unhealthy' '$T/body'"
check "  ... and the automatic rollback" grep -q 'rolled back automatically to version 1' "$T/body"
RB=$(rollback_of_body)
wait_deployment "$RB" 120
check "  ... which succeeds" test "$DSTATE" = DEPLOYMENT_STATE_SUCCEEDED
check "  ... of kind auto_rollback" test "$(jq_py 'd["kind"]')" = DEPLOYMENT_KIND_AUTO_ROLLBACK
check "the history shows 2 failed and 3 an auto_rollback of 1" \
	test "$(versions_story)" = "3:auto_rollback:1 2:deploy:0 1:deploy:0"
check "both nodes run version 1's web again" \
	test "$(image_of h1 shop web) $(image_of h2 shop web)" = "ovr-test/busybox:1 ovr-test/busybox:1"
check "  ... and the volume kept its data" \
	test "$(docker exec "$(cid h1 shop store)" cat /data/marker)" = precious
api GET /api/apps/shop
check "GET /api/apps/shop tells the same story: healthy at 3, last-known-good 3" \
	test "$(jq_py 'd["status"] + " " + d["currentVersion"] + " " + d["lastKnownGoodVersion"]')" = "APP_STATUS_HEALTHY 3 3"

# --- a crash loop fails with the exit code
deploy "$T/crash.yaml" "web crashes"
wait_deployment "$DEP" 120
check "a crash-looping container fails the deployment" test "$DSTATE" = DEPLOYMENT_STATE_ROLLED_BACK
check "  ... with its exit code in the reason" grep -q 'code 3\|restarted' "$T/body"
wait_deployment "$(rollback_of_body)" 120
check "  ... and is rolled back to 3 as version 5" test "$(versions_story | cut -d' ' -f1)" = "5:auto_rollback:3"

# --- auto-rollback off: the app just fails
api PATCH /api/apps/shop -d '{"health": {"minHealthyTimeMs": "3000", "healthyDeadlineMs": "90000", "autoRollbackDisabled": true}}'
check "auto-rollback can be turned off" test "$CODE" = 200
deploy "$T/unhealthy.yaml" "no rollback"
wait_deployment "$DEP" 120
check "  ... then a failing deploy stays failed" test "$DSTATE" = DEPLOYMENT_STATE_FAILED
check "  ... saying why" grep -q 'automatic rollback is off' "$T/body"
check "  ... and creates no version" test "$(versions_story | cut -d' ' -f1)" = "6:deploy:0"
api GET /api/apps/shop
check "  ... the app shows failed" test "$(jq_py 'd["status"]')" = APP_STATUS_FAILED

# --- no last-known-good: nothing to roll back to
body "$T/unhealthy.yaml" 'name="fresh"' 'targets={"nodes": ["h1"]}' 'deploy=True' \
	'health={"minHealthyTimeMs": "1000", "healthyDeadlineMs": "60000"}'
api POST /api/apps --data-binary "@$T/req.json"
wait_deployment "$(jq_py 'd["deployment"]["id"]')" 120
check "a first deploy that fails stays failed" test "$DSTATE" = DEPLOYMENT_STATE_FAILED
check "  ... with no last-known-good to roll back to" grep -q 'no last-known-good' "$T/body"

# --- an offline node fails the deployment at the deadline
kill -TERM "${AGENT_PID[h2]}"
wait "${AGENT_PID[h2]}" 2>/dev/null
api PATCH /api/apps/shop -d '{"health": {"minHealthyTimeMs": "1000", "healthyDeadlineMs": "20000"}}'
deploy "$T/good.yaml" "h2 is away"
wait_deployment "$DEP" 90
check "with a node offline the deployment fails at its 20 s deadline" \
	sh -c "[ '$DSTATE' = DEPLOYMENT_STATE_ROLLED_BACK ] || [ '$DSTATE' = DEPLOYMENT_STATE_FAILED ]"
check "  ... h2 failed as the node that never applied it" \
	test "$(jq_py '[n["message"] for n in d["nodes"] if n["node"] == "h2"][0]')" = \
	"not healthy within the 20s deadline (pending: the node has not applied it)"
check "no agent crashed" kill -0 "${AGENT_PID[h1]}"
finish
