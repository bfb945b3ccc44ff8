# Enrollment and connected agents (issue 2): three agents enroll and connect, a killed and a
# frozen agent show disconnected within 15 s, revocation closes the stream and refuses
# reconnects, a used token is refused, and after a server restart every agent comes back.
. "$(dirname "$0")/lib.sh"

start_server || exit 1
for n in web-1 web-2 db-1; do
	role=web
	[ "$n" = db-1 ] && role=db
	check "enroll $n" enroll "$n" "role=$role"
	start_agent "$n"
done
for n in web-1 web-2 db-1; do
	check "$n shows connected" wait_state "$n" connected 15
done
check "node ls lists three connected nodes" \
	test "$(ovrctl node ls | grep -c ' connected ')" -eq 3
check "selector role=web lists two nodes" \
	test "$(ovrctl node ls --selector role=web -o json | grep -c '"name"')" -eq 2
ovrctl node ls -o json >"$T/ls.json"
check "node ls -o json uses the proto3 JSON mapping" \
	grep -q '"lastSeenUnixMs": "[0-9]*"' "$T/ls.json"
check "the hello's versions are recorded" grep -q '"agentVersion": "' "$T/ls.json"

# A used join token is refused and creates no node.
token=$(ovrctl node token create --name reuse-1 2>/dev/null)
"$BIN/ovr-agent" enroll --server "127.0.0.1:$SERVER_PORT" --token "$token" --state-dir "$T/agents/reuse-a" >/dev/null 2>&1
"$BIN/ovr-agent" enroll --server "127.0.0.1:$SERVER_PORT" --token "$token" --state-dir "$T/agents/reuse-b" >"$T/reuse.log" 2>&1
rc=$?
check "a reused join token is refused" test "$rc" -ne 0
check "the refusal says the token was used" grep -q "already been used" "$T/reuse.log"
check "the refused enrollment stored nothing" test ! -e "$T/agents/reuse-b/agent.json"
check "only one node exists for that token" test "$(ovrctl node ls | grep -c reuse-1)" -eq 1

# Killed agent.
kill -9 "${AGENT_PID[web-2]}"
wait "${AGENT_PID[web-2]}" 2>/dev/null
if wait_state web-2 disconnected 15; then
	ok "killed agent shows disconnected (${WAITED_MS} ms)"
else
	not_ok "killed agent shows disconnected within 15 s"
fi
# Frozen agent: keepalive notices it.
kill -STOP "${AGENT_PID[db-1]}"
if wait_state db-1 disconnected 15; then
	ok "frozen agent shows disconnected (${WAITED_MS} ms)"
else
	not_ok "frozen agent shows disconnected within 15 s"
fi
kill -CONT "${AGENT_PID[db-1]}"
check "a thawed agent reconnects on its own" wait_state db-1 connected 60
start_agent web-2
check "a restarted agent reconnects" wait_state web-2 connected 60

# Revocation closes the live stream and refuses reconnects.
quiet() { "$@" >/dev/null 2>&1; }
check "revoke web-1" quiet ovrctl node revoke web-1
check "web-1 shows revoked" test "$(node_state web-1)" = revoked
sleep 1
check "the agent was told at once" grep -q "node revoked" "$T/agent-web-1.log"
sleep 4
check "its reconnects are refused at the handshake" \
	grep -q "certificate was rejected" "$T/agent-web-1.log"
check "the server refused the revoked certificate" grep -q "refused a revoked certificate" "$T/server.log"
check "web-1 stays revoked" test "$(node_state web-1)" = revoked

# Server restart: every agent is back without anyone touching it.
stop_server TERM
check "a stopping server ends agent streams with UNAVAILABLE so they reconnect" \
	grep -q "server shutting down" "$T/agent-db-1.log"
check "the server stopped cleanly" grep -q "devpg: PostgreSQL stopped" "$T/server.log"
start_server || exit 1
for n in web-2 db-1; do
	if wait_state "$n" connected 40; then
		ok "$n is back after a server restart (${WAITED_MS} ms)"
	else
		not_ok "$n is back after a server restart"
	fi
done
check "the revoked node stays out after the restart" test "$(node_state web-1)" = revoked
finish
