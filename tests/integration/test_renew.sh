# Node certificate renewal (ARCHITECTURE.md section 3): a node renews over its own mutual TLS with
# a key it makes itself; the live stream is untouched; the next connection uses the new
# certificate and that retires the old one; a renewal interrupted by a crash is finished at start.
. "$(dirname "$0")/lib.sh"

PROBE=$BIN/ovr-probe
serial_of() { ovrctl node get "$1" -o json | sed -n 's/.*"certSerial": "\(.*\)".*/\1/p'; }
cert_serial_file() { openssl x509 -in "$1" -noout -serial | cut -d= -f2 | tr 'A-F' 'a-f'; }

start_server || exit 1
check "enroll web-1" enroll web-1 role=web
start_agent web-1
check "web-1 connected" wait_state web-1 connected 60
s1=$(serial_of web-1)
cp -a "$T/agents/web-1" "$T/old-web-1"
key1=$(sha256sum <"$T/agents/web-1/node.key")

"$BIN/ovr-agent" renew --state-dir "$T/agents/web-1" >"$T/renew.log" 2>&1
check "ovr-agent renew succeeds" test $? -eq 0
s2=$(serial_of web-1)
check "the server records the new serial ($s1 -> $s2)" test -n "$s2" -a "$s2" != "$s1"
check "the node made a new key" test "$(sha256sum <"$T/agents/web-1/node.key")" != "$key1"
check "the stored certificate is the new one" test "$(cert_serial_file "$T/agents/web-1/node.crt")" = "$s2"
check "key files stay 0600" test "$(stat -c %a "$T/agents/web-1/node.key")" = 600
check "the live stream is untouched" test "$(node_state web-1)" = connected

# The next connection uses the new certificate, which retires the old one.
kill -9 "${AGENT_PID[web-1]}"
wait "${AGENT_PID[web-1]}" 2>/dev/null
start_agent web-1
check "web-1 reconnects with the renewed certificate" wait_state web-1 connected 60
sleep 1
check "the server retired the old serial" grep -q "uses its renewed certificate; revoked $s1" "$T/server.log"
out=$("$PROBE" hello-as "127.0.0.1:$SERVER_PORT" "$T/old-web-1" "$(sed -n 's/.*"node_id": "\(.*\)".*/\1/p' "$T/old-web-1/agent.json")")
check "the old certificate is refused afterwards ($out)" grep -q "STATUS UNAVAILABLE" <<<"$out"

# A renewal interrupted between writing the new pair and renaming it is finished at start.
"$BIN/ovr-agent" renew --state-dir "$T/agents/web-1" >>"$T/renew.log" 2>&1
s3=$(serial_of web-1)
kill -TERM "${AGENT_PID[web-1]}"
wait "${AGENT_PID[web-1]}" 2>/dev/null
d=$T/agents/web-1
mv "$d/node.key" "$d/node.next.key"
mv "$d/node.crt" "$d/node.next.crt"
cp "$T/old-web-1/node.key" "$d/node.key"
cp "$T/old-web-1/node.crt" "$d/node.crt"
start_agent web-1
check "an agent with an unfinished renewal connects" wait_state web-1 connected 60
check "it finished the renewal (new pair in place)" test "$(cert_serial_file "$d/node.crt")" = "$s3" -a ! -e "$d/node.next.key"

# A running agent renews on its own when the certificate is due (here at once: it renews when
# less than 59m59s of its 1h life remain).
stop_server TERM
start_server --node-cert-ttl 1h || exit 1
kill -TERM "${AGENT_PID[web-1]}"
wait "${AGENT_PID[web-1]}" 2>/dev/null
"$BIN/ovr-agent" renew --state-dir "$T/agents/web-1" >>"$T/renew.log" 2>&1
s4=$(serial_of web-1)
"$BIN/ovr-agent" run --state-dir "$T/agents/web-1" --renew-before 59m59s >>"$T/agent-auto.log" 2>&1 &
AGENT_PIDS+=($!)
for _ in $(seq 1 50); do
	grep -q "renewed the node certificate" "$T/agent-auto.log" && break
	sleep 0.2
done
check "a running agent renews when due" grep -q "renewed the node certificate" "$T/agent-auto.log"
check "the node stays connected while renewing" test "$(node_state web-1)" = connected
check "the server has a newer serial" test "$(serial_of web-1)" != "$s4"
finish
