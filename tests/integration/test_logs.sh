# Log streaming (issue 6): StreamLogs over gRPC (ovrctl logs) and as NDJSON over REST, from two
# agents sharing one dockerd: tail per container, since, a service and a node filter, timestamps,
# colour, following both nodes at once (and through a redeploy), a slow reader that gets a drop
# marker while the agent's status still flows and another stream goes on, a client that leaves
# (the agents stop reading within about a second), and a node killed mid-stream (its end marker,
# the other node goes on).
. "$(dirname "$0")/lib.sh"

# Agents here use the project prefix ovrit-NODE (lib.sh): remove what they leave, even on failure.
use_docker ovrit-l1 ovrit-l2

# tick: numbered lines on stdout, every fifth also on stderr, about 12 lines a second.
cat >"$T/tick.yaml" <<'YAML'
services:
  tick:
    image: ovr-test/busybox:1
    init: true
    command: ["sh", "-c", "i=0; while :; do i=$$((i+1)); echo \"tick $$i\"; if [ $$((i % 5)) = 0 ]; then echo \"warn $$i\" >&2; fi; sleep 0.1; done"]
    stop_grace_period: 1s
YAML
# flood: about 15,000 lines a second, to outrun a reader that stops reading.
cat >"$T/flood.yaml" <<'YAML'
services:
  flood:
    image: ovr-test/busybox:1
    init: true
    command: ["sh", "-c", "while :; do seq 1 1000; sleep 0.05; done"]
    stop_grace_period: 1s
YAML

# ovrctl_bg ARGS...: ovrctl in place of the subshell `&` makes, so $! is ovrctl itself.
ovrctl_bg() {
	OVR_SERVER=127.0.0.1:$SERVER_PORT OVR_CA_FILE=$T/srv/pki/ca.crt \
		OVR_TOKEN=$(cat "$T/srv/admin.token") exec "$BIN/ovrctl" "$@"
}
# stop_bg PID...: Ctrl-C for background ovrctls; the last one's exit code in BG_RC (one still
# running 5 s later is killed: 137). No watchdog subshell: a killed one runs the EXIT trap.
stop_bg() {
	local pid i
	kill -INT "$@" 2>/dev/null
	for pid in "$@"; do
		for i in $(seq 1 50); do
			[ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" = Z ] && break
			[ -e "/proc/$pid" ] || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null
		wait "$pid"
		BG_RC=$?
	done
}
# run ARGS...: ovrctl with stdout in $T/out, stderr in $T/err and the exit code in RC.
run() {
	ovrctl "$@" >"$T/out" 2>"$T/err" </dev/null
	RC=$?
}
# create_app NAME FILE NODES: created and deployed on NODES (a Python list), healthy after 1 s.
create_app() {
	body "$2" "name=\"$1\"" "targets={\"nodes\": $3}" 'deploy=True' \
		'health={"minHealthyTimeMs": "1000", "healthyDeadlineMs": "90000"}'
	api POST /api/apps --data-binary "@$T/req.json"
	[ "$CODE" = 200 ] || { log "create $1: HTTP $CODE $(cat "$T/body")"; return 1; }
	wait_deployment "$(jq_py 'd["deployment"]["id"]')" 120 && [ "$DSTATE" = DEPLOYMENT_STATE_SUCCEEDED ]
}
ms_now() { echo $(($(date +%s%N) / 1000000)); }
cancels() { grep -c 'log request [0-9a-f]* cancelled' "$T/agent-$1.log"; }
heartbeats() { grep -c 'heartbeat sent' "$T/agent-$1.log"; }
# wait_cancels SECONDS WANT1 WANT2 T0: until agents l1 and l2 logged that many cancels; TOOK_MS
# counts from T0 (ms).
wait_cancels() {
	local t0=$4
	while [ "$(cancels l1)" -lt "$2" ] || [ "$(cancels l2)" -lt "$3" ]; do
		TOOK_MS=$(($(ms_now) - t0))
		[ "$TOOK_MS" -gt $(($1 * 1000)) ] && return 1
		sleep 0.05
	done
	TOOK_MS=$(($(ms_now) - t0))
}
# count FILE PATTERN: matching lines (0 when none).
count() { grep -cE "$2" "$1" 2>/dev/null || true; }

start_server --rest-listen 127.0.0.1:0 --log-level debug || exit 1
rest_port
for n in l1 l2; do
	check "$n enrolls" enroll "$n"
	OVR_LOG_LEVEL=debug start_agent "$n"
done
for n in l1 l2; do
	if wait_state "$n" connected 60; then ok "$n connects"; else not_ok "$n connects"; fi
done
check "app tick runs on l1 and l2" create_app tick "$T/tick.yaml" '["l1", "l2"]'
sleep 2 # a few lines in every container

# --- tail, without follow: N lines per container, then the call ends by itself
run logs tick --tail 3
check "ovrctl logs --tail 3 exits 0 by itself" test "$RC" = 0
check "  ... 3 lines from l1's container" test "$(count "$T/out" '^l1/tick +\| (tick|warn) [0-9]+$')" = 3
check "  ... and 3 from l2's" test "$(count "$T/out" '^l2/tick +\| (tick|warn) [0-9]+$')" = 3
check "  ... and nothing else" test "$(wc -l <"$T/out")" = 6
run logs tick --tail 4 -o json
check "-o json prints one LogLine per line" test "$(ndj "$T/out" 'len(L)')" = 8
check "  ... tagged node, service, container and stream" \
	test "$(ndj "$T/out" 'sorted(set((x["node"], x["service"], x["container"].split("_")[0].split("-tick")[0], x["stream"] in ("stdout", "stderr"), int(x["unixMs"]) > 0) for x in L))')" = \
	"[('l1', 'tick', 'ovrit-l1', True, True), ('l2', 'tick', 'ovrit-l2', True, True)]"
check "  ... stderr lines are marked so" \
	test "$(ndj "$T/out" 'all((x["stream"] == "stderr") == x["line"].startswith("warn") for x in L)')" = True
run logs tick tick --node l2 --tail 2
check "a service and --node: only l2's lines" \
	sh -c "[ $RC = 0 ] && [ \"\$(grep -c '^l2/tick' '$T/out')\" = 2 ] && ! grep -q '^l1' '$T/out'"
run logs tick nope --tail 2
check "a service the app does not have: the node says so, exit 0" \
	sh -c "[ $RC = 0 ] && grep -q 'node l1: no container of app tick service nope on this node' '$T/out'"
run logs tick --tail 1 --timestamps
check "--timestamps: each line starts with the engine's time" \
	test "$(count "$T/out" '^l[12]/tick +\| 20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z (tick|warn) ')" = 2
run logs nope
check "an unknown app: exit 1 with NOT_FOUND's message" \
	sh -c "[ $RC = 1 ] && grep -q \"app 'nope' not found\" '$T/err'"
run logs tick --node l9
check "a node the app does not use: exit 1" \
	sh -c "[ $RC = 1 ] && grep -q 'node l9: app tick neither targets nor runs on it' '$T/err'"
run logs tick --since yesterday
check "--since that is neither a duration nor a time: usage error (2)" test "$RC" = 2

# --- since: a time, and a duration
sleep 1
SINCE=$(ms_now)
sleep 2
run logs tick -o json --since "$(date -u -d "@$((SINCE / 1000)).$((SINCE % 1000))" +%Y-%m-%dT%H:%M:%S.%3NZ)"
check "--since TIME: only lines from then on (at least 10 per node)" \
	test "$(ndj "$T/out" 'all(int(x["unixMs"]) >= '"$SINCE"' for x in L) and min(sum(1 for x in L if x["node"] == n) for n in ("l1", "l2")) >= 10')" = True
N_SINCE=$(ndj "$T/out" 'len(L)')
run logs tick -o json
check "  ... which is fewer than all of them" test "$(ndj "$T/out" 'len(L)')" -gt "$N_SINCE"
run logs tick -o json --since 1s
N1=$(ndj "$T/out" 'len(L)')
run logs tick -o json --since 8s
check "--since 1s gives fewer lines than --since 8s (and some)" \
	sh -c "[ '$N1' -gt 0 ] && [ '$N1' -lt '$(ndj "$T/out" 'len(L)')' ]"

# --- REST: NDJSON, query parameters bound to the request
api GET "/api/apps/tick/logs?tail=2&node=l1"
check "REST: GET /api/apps/tick/logs?tail=2&node=l1 answers 200 NDJSON" \
	sh -c "[ '$CODE' = 200 ] && grep -qi '^content-type: application/x-ndjson' '$T/headers'"
check "  ... two lines of l1's" test "$(ndj "$T/body" '[x["node"] for x in L]')" = "['l1', 'l1']"
api GET "/api/apps/tick/logs?tail=1&since_unix_ms=$SINCE&timestamps=1"
check "REST: since_unix_ms and timestamps" \
	test "$(ndj "$T/body" 'len(L) == 2 and all(int(x["unixMs"]) >= '"$SINCE"' and x["line"][:2] == "20" for x in L)')" = True
api GET "/api/apps/nope/logs"
check "REST: an unknown app is 404" test "$CODE" = 404
api GET "/api/apps/tick/logs?tail=-1"
check "REST: a negative tail is 400" test "$CODE" = 400

# --- colour on a terminal only, and never with NO_COLOR
if command -v script >/dev/null 2>&1; then
	OVRCTL_ENV="OVR_SERVER=127.0.0.1:$SERVER_PORT OVR_CA_FILE=$T/srv/pki/ca.crt OVR_TOKEN=$(cat "$T/srv/admin.token")"
	script -qec "env $OVRCTL_ENV $BIN/ovrctl logs tick --tail 1" /dev/null >"$T/tty.out" 2>&1
	check "on a terminal the prefixes are coloured" grep -q $'\033\\[[0-9]*m' "$T/tty.out"
	script -qec "env NO_COLOR=1 $OVRCTL_ENV $BIN/ovrctl logs tick --tail 1" /dev/null >"$T/tty.out" 2>&1
	check "  ... but not with NO_COLOR" sh -c "grep -q 'l1/tick' '$T/tty.out' && ! grep -q \$(printf '\\033') '$T/tty.out'"
fi
check "not coloured into a file" sh -c "! grep -q \$(printf '\\033') '$T/out'"

# --- follow from both nodes at once
ovrctl_bg logs tick -f --tail 1 >"$T/follow.out" 2>"$T/follow.err" &
FOLLOW=$!
sleep 3
L1A=$(count "$T/follow.out" '^l1/tick')
L2A=$(count "$T/follow.out" '^l2/tick')
sleep 2
check "-f: lines keep coming from l1 ($L1A, then $(count "$T/follow.out" '^l1/tick'))" \
	test "$(count "$T/follow.out" '^l1/tick')" -gt "$((L1A + 5))"
check "  ... and from l2 at the same time" test "$(count "$T/follow.out" '^l2/tick')" -gt "$((L2A + 5))"
check "  ... in order per node" sh -c "grep '^l1/tick.*| tick' '$T/follow.out' | awk '{print \$NF}' | sort -nc"
check "  ... without repeating any" sh -c "! grep '^l1/tick.*| tick' '$T/follow.out' | sort | uniq -d | grep -q ."

# --- a redeploy while following: the new containers' lines follow the old ones'
sed 's/tick \$\$i/tock $$i/' "$T/tick.yaml" >"$T/tock.yaml"
run deploy tick -f "$T/tock.yaml" --wait --timeout 2m
check "tick is redeployed while being followed" test "$RC" = 0
if wait_for 15 sh -c "grep -q '^l1/tick.*| tock' '$T/follow.out' && grep -q '^l2/tick.*| tock' '$T/follow.out'"; then
	ok "  ... and the new containers' lines follow on both nodes"
else
	not_ok "  ... and the new containers' lines follow on both nodes"
fi

# --- a client that leaves: both agents stop reading within about a second
C1=$(cancels l1)
C2=$(cancels l2)
T0=$(ms_now)
stop_bg "$FOLLOW"
check "Ctrl-C ends ovrctl logs -f with exit 0" test "$BG_RC" = 0
if wait_cancels 5 $((C1 + 1)) $((C2 + 1)) "$T0"; then
	check "  ... and both agents stopped reading ($TOOK_MS ms)" test "$TOOK_MS" -le 1500
else
	not_ok "  ... and both agents stopped reading within 5 s"
fi
C1=$(cancels l1)
C2=$(cancels l2)
curl -sS -N --cacert "$T/srv/pki/ca.crt" --max-time 2 -o "$T/rest-follow.out" \
	-H "Authorization: Bearer $(cat "$T/srv/admin.token")" \
	"https://127.0.0.1:$REST_PORT/api/apps/tick/logs?follow=1&tail=1" 2>/dev/null
T0=$(ms_now)
check "REST: a followed stream sends lines as they come" \
	test "$(ndj "$T/rest-follow.out" 'len(L) >= 10 and {x["node"] for x in L} == {"l1", "l2"}')" = True
if wait_cancels 5 $((C1 + 1)) $((C2 + 1)) "$T0"; then
	check "  ... and when curl leaves, both agents stop reading ($TOOK_MS ms)" test "$TOOK_MS" -le 1500
else
	not_ok "  ... and when curl leaves, both agents stop reading within 5 s"
fi

# --- a slow reader: lines are dropped and counted; the agent and other streams go on
check "app flood runs on l1" create_app flood "$T/flood.yaml" '["l1"]'
ovrctl_bg logs tick -f --tail 1 >"$T/other.out" 2>&1 &
OTHER=$!
ovrctl_bg logs flood -f --tail 1 >"$T/slow.out" 2>"$T/slow.err" &
SLOW=$!
wait_for 10 test -s "$T/slow.out"
kill -STOP "$SLOW"
HB=$(heartbeats l1)
O1=$(count "$T/other.out" '^l1/tick')
# Shorter than the server's keepalive (5 s ping, 5 s timeout), which ends a frozen client.
sleep 3.5
check "while a reader is stopped, l1 stays connected" test "$(node_state l1)" = connected
check "  ... its agent still sends heartbeats ($HB, then $(heartbeats l1))" test "$(heartbeats l1)" -gt "$HB"
ovrctl node get l1 -o json >"$T/node.json" 2>/dev/null
check "  ... and the server still hears from it" \
	python3 -c "import json,sys,time; d=json.load(open('$T/node.json')); sys.exit(0 if time.time()*1000 - int(d['lastSeenUnixMs']) < 5000 else 1)"
check "  ... and another stream of the same node goes on ($O1, then $(count "$T/other.out" '^l1/tick'))" \
	test "$(count "$T/other.out" '^l1/tick')" -gt "$((O1 + 20))"
kill -CONT "$SLOW"
sleep 2
stop_bg "$OTHER" "$SLOW"
check "the slow reader ends with exit 0" test "$BG_RC" = 0
DROPPED=$(sed -n 's/^… \([0-9]*\) lines dropped$/\1/p' "$T/slow.out" | head -1)
check "  ... and sees where lines were dropped (… $DROPPED lines dropped)" test "${DROPPED:-0}" -gt 0
check "  ... then the lines after the gap" \
	sh -c "sed -n '/lines dropped/,\$p' '$T/slow.out' | grep -q '^l1/flood'"
api DELETE /api/apps/flood -d '{}'
check "app flood is removed" test "$CODE" = 200

# --- a node killed mid-stream: its marker, and the other node goes on
ovrctl_bg logs tick -f --tail 1 >"$T/kill.out" 2>"$T/kill.err" &
FOLLOW=$!
wait_for 10 sh -c "grep -q '^l1/tick' '$T/kill.out' && grep -q '^l2/tick' '$T/kill.out'"
kill -9 "${AGENT_PID[l2]}"
wait "${AGENT_PID[l2]}" 2>/dev/null
if wait_for 15 grep -q 'node l2 disconnected: its logs end here' "$T/kill.out"; then
	ok "killing l2's agent ends l2's part with a marker"
else
	not_ok "killing l2's agent ends l2's part with a marker"
fi
sleep 2
check "  ... while l1's lines go on after it" \
	sh -c "sed -n '/node l2 disconnected/,\$p' '$T/kill.out' | grep -c '^l1/tick' | awk '{exit !(\$1 >= 10)}'"
check "  ... and the stream stays open" kill -0 "$FOLLOW"
stop_bg "$FOLLOW"
wait_state l2 disconnected 30
run logs tick --tail 2
check "a node that is not connected: a marker, the others' lines, exit 0" \
	sh -c "[ $RC = 0 ] && grep -q 'node l2 is not connected: no logs from it' '$T/out' && [ \"\$(grep -c '^l1/tick' '$T/out')\" = 2 ]"

finish
