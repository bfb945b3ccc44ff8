# The agent follows container changes through the Engine API's /events (issue 4): with the server's
# heartbeat at its 60 s maximum, a container killed with `docker kill` shows as failed and exited
# in `ovrctl app get` within seconds and with no heartbeat in between (the agent logs both at
# debug level), so the report came from the die event; a container started again and a
# healthcheck that passes or starts failing are reported on their events too, the unhealthy one
# with the health check's own output in the reason; and the agent still stops promptly.
. "$(dirname "$0")/lib.sh"


# The agent here uses the project prefix ovrit-ev1 (lib.sh): remove what it leaves, even on failure.
use_docker ovrit-ev1

# web's healthcheck fails, printing the reason, once /tmp/sick exists; job has no restart policy.
cat >"$T/pulse.yaml" <<'YAML'
services:
  web:
    image: ovr-test/busybox:1
    init: true
    command: ["httpd", "-f", "-p", "80", "-h", "/etc"]
    stop_grace_period: 1s
    healthcheck:
      test: ["CMD", "sh", "-c", "if [ -f /tmp/sick ]; then echo \"sick: $$(cat /tmp/sick)\"; exit 1; fi"]
      interval: 1s
      timeout: 2s
      retries: 1
  job:
    image: ovr-test/busybox:1
    init: true
    command: ["sleep", "86400"]
    stop_grace_period: 1s
YAML

cid() { docker ps -aq --no-trunc --filter "label=com.docker.compose.project=ovrit-ev1-pulse" \
	--filter "label=com.docker.compose.service=$1"; }
# node_json EXPR: a Python expression over n, node ev1's entry in `ovrctl app get pulse -o json`.
node_json() {
	ovrctl app get pulse -o json >"$T/app.json" 2>"$T/app.err" || return 1
	python3 - "$T/app.json" "$1" <<'PY' 2>/dev/null
import json, sys
d = json.load(open(sys.argv[1]))
for n in d.get("nodes", []):
    if n.get("node") == "ev1":
        print(eval(sys.argv[2]))
PY
}
heartbeats() { grep -c 'heartbeat sent' "$T/agent-ev1.log"; }
# wait_node SECONDS EXPR WANT: polls until node_json EXPR prints WANT; the time taken in TOOK_MS.
wait_node() {
	local secs=$1 expr=$2 want=$3 t0 got
	t0=$(date +%s%N)
	while :; do
		got=$(node_json "$expr")
		TOOK_MS=$((($(date +%s%N) - t0) / 1000000))
		[ "$got" = "$want" ] && return 0
		if [ "$TOOK_MS" -gt $((secs * 1000)) ]; then
			log "after $TOOK_MS ms: '$got', not '$want'; message: $(node_json 'n.get("message", "")')"
			return 1
		fi
		sleep 0.2
	done
}

# Heartbeats every 60 s (the most the server allows): nothing below waits that long.
start_server --rest-listen 127.0.0.1:0 --heartbeat-interval 60s || exit 1
rest_port
check "ev1 enrolls" enroll ev1
OVR_LOG_LEVEL=debug start_agent ev1
if wait_state ev1 connected 60; then ok "the agent connects"; else not_ok "the agent connects"; fi
check "  ... and watches container events" \
	sh -c "sleep 1; grep -q 'container events: watching projects ovrit-ev1-\*' '$T/agent-ev1.log'"

# --- the healthcheck's first pass is reported when it happens, not at the next heartbeat
body "$T/pulse.yaml" 'name="pulse"' 'targets={"nodes": ["ev1"]}' 'deploy=True' \
	'health={"minHealthyTimeMs": "1000", "healthyDeadlineMs": "50000"}'
api POST /api/apps --data-binary "@$T/req.json"
check "the app is created and deployed" test "$CODE" = 200
DEP=$(jq_py 'd["deployment"]["id"]')
t0=$(date +%s%N)
while [ $(($(date +%s%N) - t0)) -lt 120000000000 ]; do
	api GET "/api/deployments/$DEP"
	[ "$(jq_py 'd["state"]')" != DEPLOYMENT_STATE_IN_PROGRESS ] && break
	sleep 0.25
done
took=$((($(date +%s%N) - t0) / 1000000))
check "the deployment succeeds ($took ms)" test "$(jq_py 'd["state"]')" = DEPLOYMENT_STATE_SUCCEEDED
check "  ... the agent asked for a report on the health_status event" \
	grep -q 'container event action=health_status: healthy container=ovrit-ev1-pulse[-_]web.*report requested' \
	"$T/agent-ev1.log"

# --- docker kill: failed with the exit code within seconds, no heartbeat needed. Should the
# agent's heartbeat (every 60 s) fall in that window, the kill is tried once more.
for attempt in 1 2; do
	HB=$(heartbeats)
	docker kill "$(cid job)" >/dev/null
	if wait_node 20 'n["phase"]' NODE_DEPLOYMENT_STATE_FAILED; then
		ok "a killed container fails the node in $TOOK_MS ms"
	else
		not_ok "a killed container fails the node within 20 s"
	fi
	[ "$(heartbeats)" = "$HB" ] && break
	log "a heartbeat fell in those $TOOK_MS ms: once more"
	docker start "$(cid job)" >/dev/null
	wait_node 20 'n["phase"]' NODE_DEPLOYMENT_STATE_HEALTHY
done
check "  ... with no heartbeat in between: the report came from the event" \
	test "$(heartbeats)" = "$HB"
check "  ... saying which and how it exited" \
	test "$(node_json 'n["message"]')" = "service job (container $(docker inspect -f '{{.Name}}' "$(cid job)" | cut -c2-)) exited with code 137"
check "  ... and app get shows the container as exited" \
	test "$(node_json '[c["state"] + " " + str(c.get("exitCode", 0)) for c in n["containers"] if c["service"] == "job"][0]')" = "exited 137"
check "  ... after a die event" \
	grep -q 'container event action=die container=ovrit-ev1-pulse[-_]job' "$T/agent-ev1.log"

# --- started again: healthy within seconds
docker start "$(cid job)" >/dev/null
if wait_node 20 'n["phase"]' NODE_DEPLOYMENT_STATE_HEALTHY; then
	ok "started again, the node is healthy in $TOOK_MS ms"
else
	not_ok "started again, the node is healthy within 20 s"
fi

# --- a healthcheck that starts failing: the reason carries its output
docker exec "$(cid web)" sh -c 'echo disk full > /tmp/sick'
if wait_node 20 'n["phase"]' NODE_DEPLOYMENT_STATE_FAILED; then
	ok "an unhealthy container fails the node in $TOOK_MS ms"
else
	not_ok "an unhealthy container fails the node within 20 s"
fi
MSG=$(node_json 'n["message"]')
check "  ... with the health check's exit code and output in the reason" \
	test "$MSG" = "service web (container $(docker inspect -f '{{.Name}}' "$(cid web)" | cut -c2-)) is unhealthy: last health check (exit 1): sick: disk full"
[ "$MSG" = "${MSG#*disk full}" ] && log "message: $MSG"
check "  ... after the health_status event" \
	grep -q 'container event action=health_status: unhealthy container=ovrit-ev1-pulse[-_]web' \
	"$T/agent-ev1.log"

# --- the watcher does not hold the agent back when it stops
t0=$(date +%s%N)
kill -TERM "${AGENT_PID[ev1]}"
wait "${AGENT_PID[ev1]}" 2>/dev/null
took=$((($(date +%s%N) - t0) / 1000000))
check "the agent stops in $took ms" test "$took" -lt 5000
check "  ... cleanly" grep -q 'stopped' "$T/agent-ev1.log"
finish
