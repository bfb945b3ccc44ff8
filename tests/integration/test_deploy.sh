# Deploying to real agents with a real dockerd (issue 3): an app on two nodes, a redeploy that
# changes one service, named volume data across redeploy and rollback, rollback to version 1, a
# compose failure reported per node while the old version keeps running, a node that was offline
# catching up, a reconnect that restarts nothing, and removal with and without purging volumes.
. "$(dirname "$0")/lib.sh"


# Agents here use the project prefix ovrit-NODE (lib.sh): remove what they leave, even on failure.
use_docker ovrit-n1 ovrit-n2

stack() { # stack WEB_IMAGE_TAG > file
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
    command: ["httpd", "-f", "-p", "80", "-h", "/etc"]
    environment: [GREETING]
    ports: ["127.0.0.1::80"]
    stop_grace_period: 1s
    depends_on:
      store:
        condition: service_healthy
volumes:
  data:
YAML
}
stack 1 >"$T/v1.yaml"
stack 2 >"$T/v2.yaml"
stack nope-missing >"$T/bad.yaml"

# cid NODE SERVICE: the running container of the app's service on that node.
cid() { docker ps -q --no-trunc --filter "label=com.docker.compose.project=ovrit-$1-shop" \
	--filter "label=com.docker.compose.service=$2"; }
image_of() { docker inspect -f '{{.Config.Image}}' "$(cid "$1" "$2")" 2>/dev/null; }

succeeded() {
	wait_deployment "$1" 120 && [ "$DSTATE" = DEPLOYMENT_STATE_SUCCEEDED ] && return 0
	log "deployment $1 is $DSTATE: $(jq_py 'd.get("reason", "")')"
	return 1
}
node_field() { # node_field NODE EXPR over the node's entry n in GET /api/apps/shop
	api GET /api/apps/shop
	jq_py "[$2 for n in d['nodes'] if n['node'] == '$1'][0]"
}

start_server --rest-listen 127.0.0.1:0 || exit 1
rest_port
for n in n1 n2; do
	check "$n enrolls" enroll "$n" role=web
	start_agent "$n"
done
if wait_state n1 connected 60 && wait_state n2 connected 60; then
	ok "both agents connect"
else
	not_ok "both agents connect"
fi

# --- deploy version 1 to both nodes
body "$T/v1.yaml" 'name="shop"' 'targets={"selector": "role=web"}' 'deploy=True' 'message="first"' \
	'health={"minHealthyTimeMs": "1000", "autoRollbackDisabled": True}' # test_health.sh covers rollback
api POST /api/apps --data-binary "@$T/req.json"
check "creating the app with deploy answers 200" test "$CODE" = 200
DEP=$(jq_py 'd["deployment"]["id"]')
check "  ... with a deployment over both nodes" test "$(jq_py 'len(d["deployment"]["nodes"])')" = 2
t0=$(date +%s%N)
check "  ... which succeeds" succeeded "$DEP"
log "version 1 healthy on 2 nodes in $((($(date +%s%N) - t0) / 1000000)) ms"
for n in n1 n2; do
	check "$n runs web and store of version 1" \
		sh -c "[ -n '$(cid $n web)' ] && [ -n '$(cid $n store)' ] && [ '$(image_of $n web)' = ovr-test/busybox:1 ]"
done
check "GetApp shows both nodes at version 1, healthy" \
	test "$(node_field n1 'n["version"] + " " + n["phase"]') $(node_field n2 'n["version"]')" = "1 NODE_DEPLOYMENT_STATE_HEALTHY 1"
check "  ... with their containers" test "$(node_field n1 'len(n["containers"])')" = 2
api GET /api/apps/shop
check "  ... the app is healthy with version 1 as last-known-good" \
	test "$(jq_py 'd["status"] + " " + d["lastKnownGoodVersion"]')" = "APP_STATUS_HEALTHY 1"
check "the agent wrote compose.yaml byte for byte" \
	cmp -s "$T/v1.yaml" "$T/agents/n1/apps/shop/1/compose.yaml"

docker exec "$(cid n1 store)" sh -c 'echo precious > /data/marker'
store_before=$(cid n1 store)

# --- redeploy with a change to web only
body "$T/v2.yaml" 'message="web 2"'
api POST /api/apps/shop/deploy --data-binary "@$T/req.json"
DEP=$(jq_py 'd["deployment"]["id"]')
check "deploying version 2 succeeds" succeeded "$DEP"
check "  ... web runs image 2 on both nodes" \
	test "$(image_of n1 web) $(image_of n2 web)" = "ovr-test/busybox:2 ovr-test/busybox:2"
check "  ... store was not recreated" test "$(cid n1 store)" = "$store_before"
check "  ... the volume kept its data" \
	test "$(docker exec "$(cid n1 store)" cat /data/marker)" = precious

# --- roll back to version 1
api POST /api/apps/shop/rollback -d '{"toVersion": "1"}'
check "rollback to 1 creates version 3 of 1" \
	test "$(jq_py 'd["version"]["version"] + " " + d["version"]["rollbackOf"]')" = "3 1"
DEP=$(jq_py 'd["deployment"]["id"]')
check "  ... and succeeds" succeeded "$DEP"
check "  ... web runs image 1 again on both nodes" \
	test "$(image_of n1 web) $(image_of n2 web)" = "ovr-test/busybox:1 ovr-test/busybox:1"
check "  ... the volume still has its data" \
	test "$(docker exec "$(cid n1 store)" cat /data/marker)" = precious
check "GetApp shows version 3 on both nodes" \
	test "$(node_field n1 'n["version"]') $(node_field n2 'n["version"]')" = "3 3"

# --- a compose failure: the image does not exist
web_before=$(cid n1 web)
body "$T/bad.yaml" 'message="broken image"'
api POST /api/apps/shop/deploy --data-binary "@$T/req.json"
DEP=$(jq_py 'd["deployment"]["id"]')
wait_deployment "$DEP" 180
check "a deploy with a missing image fails" test "$DSTATE" = DEPLOYMENT_STATE_FAILED
check "  ... naming the node and compose's message" \
	sh -c "grep -q 'node n[12]: ' '$T/body' && grep -qi 'nope-missing' '$T/body'"
check "  ... and the nodes keep running version 3" \
	test "$(node_field n1 'n["version"]') $(image_of n1 web)" = "3 ovr-test/busybox:1"
check "  ... untouched" test "$(cid n1 web)" = "$web_before"
# The deployment fails on the first node's failure; the other may report its own a moment later.
n1_failed() { [ "$(node_field n1 'n["phase"]')" = NODE_DEPLOYMENT_STATE_FAILED ]; }
check "  ... GetApp shows the node failed with the message" wait_for 30 n1_failed
api GET /api/apps/shop
check "  ... and the app failed" test "$(jq_py 'd["status"]')" = APP_STATUS_FAILED

# --- a node that is offline catches up when it returns
kill -TERM "${AGENT_PID[n2]}"
wait "${AGENT_PID[n2]}" 2>/dev/null
wait_state n2 disconnected 20
body "$T/v1.yaml" 'replaceEnvironment=True' 'environment={"GREETING": "hi"}' 'message="greeting"'
api POST /api/apps/shop/deploy --data-binary "@$T/req.json"
DEP=$(jq_py 'd["deployment"]["id"]')
node_states() { # "n1=STATE n2=STATE" of deployment $DEP
	api GET "/api/deployments/$DEP"
	jq_py '" ".join(n["node"] + "=" + n["state"][22:] for n in d["nodes"])'
}
for _ in $(seq 1 240); do
	case $(node_states) in n1=HEALTHY*|n1=FAILED*) break ;; esac
	sleep 0.25
done
check "with n2 offline, n1 finishes and n2 stays pending" test "$(node_states)" = "n1=HEALTHY n2=PENDING"
check "  ... and the deployment waits (in progress)" \
	test "$(jq_py 'd["state"]')" = DEPLOYMENT_STATE_IN_PROGRESS
start_agent n2
check "  ... and succeeds once n2 is back" succeeded "$DEP"
check "  ... n2's web has the new environment" \
	sh -c "docker inspect -f '{{.Config.Env}}' '$(cid n2 web)' | grep -q GREETING=hi"

# --- a reconnect restarts nothing
web1=$(cid n1 web)
started1=$(docker inspect -f '{{.State.StartedAt}}' "$web1")
kill -TERM "${AGENT_PID[n1]}"
wait "${AGENT_PID[n1]}" 2>/dev/null
start_agent n1
wait_state n1 connected 60
for _ in $(seq 1 120); do # until the agent has looked at its Sync
	grep -q "app=shop version=5 already runs" "$T/agent-n1.log" && break
	sleep 0.25
done
check "after an agent restart the containers are the same, not restarted" \
	test "$(cid n1 web) $(docker inspect -f '{{.State.StartedAt}}' "$web1" 2>/dev/null)" = "$web1 $started1"
check "  ... and the agent says so" grep -q "app=shop version=5 already runs" "$T/agent-n1.log"

# --- delete keeps the volume; purge removes it
api DELETE /api/apps/shop
DEP=$(jq_py 'd["deployment"]["id"]')
check "deleting the app answers a removal on both nodes" \
	test "$CODE $(jq_py 'len(d["deployment"]["nodes"])')" = "200 2"
check "  ... which succeeds" succeeded "$DEP"
check "  ... its containers are gone" test -z "$(cid n1 web)$(cid n2 store)"
check "  ... its named volume is kept" sh -c 'docker volume inspect ovrit-n1-shop_data >/dev/null' 
stack 1 >"$T/p.yaml"
body "$T/p.yaml" 'name="purged"' 'targets={"nodes": ["n1"]}' 'deploy=True' \
	'health={"minHealthyTimeMs": "1000"}'
api POST /api/apps --data-binary "@$T/req.json"
check "another app on n1 only succeeds" succeeded "$(jq_py 'd["deployment"]["id"]')"
check "  ... with its volume" sh -c 'docker volume inspect ovrit-n1-purged_data >/dev/null' 
api DELETE /api/apps/purged -d '{"purgeVolumes": true}'
check "deleting it with purge_volumes succeeds" succeeded "$(jq_py 'd["deployment"]["id"]')"
check "  ... and removes its volume" sh -c '! docker volume inspect ovrit-n1-purged_data >/dev/null 2>&1'
check "no agent crashed" sh -c "kill -0 ${AGENT_PID[n1]} && kill -0 ${AGENT_PID[n2]}"
finish
