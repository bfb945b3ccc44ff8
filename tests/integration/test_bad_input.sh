# Bad input gets a clear error and changes nothing (issue 2): wrong, expired and used join
# tokens; a certificate from another CA; no certificate on Connect; a hello claiming another
# node; missing and wrong bearer tokens; malformed and oversized messages; a key file that others
# can read; a config file error.
. "$(dirname "$0")/lib.sh"

PROBE=$BIN/ovr-probe
start_server || exit 1
S=127.0.0.1:$SERVER_PORT
psql_dev() {
	su postgres -s /bin/sh -c "psql -qAt -h '$T/srv/postgres/run' -d overseer -c \"$1\"" 2>&1
}
nodes() { ovrctl node ls -o json | grep -c '"name"'; }

check "enroll web-1" enroll web-1
start_agent web-1
check "web-1 connected" wait_state web-1 connected 60
check "enroll db-1" enroll db-1

# --- join tokens
before=$(nodes)
token=$(ovrctl node token create --name wrong-1 2>/dev/null)
forged=${token%-*}-0000000000000000000000000000000000000000
"$BIN/ovr-agent" enroll --server "$S" --token "$forged" --state-dir "$T/agents/forged" >"$T/forged.log" 2>&1
check "a join token with a wrong secret is refused" grep -q "join token is not valid" "$T/forged.log"
token=$(ovrctl node token create --name expired-1 2>/dev/null)
id=$(echo "$token" | cut -d- -f4)
psql_dev "UPDATE join_tokens SET expires_at = now() - interval '1 second' WHERE id = '$id'" >/dev/null
"$BIN/ovr-agent" enroll --server "$S" --token "$token" --state-dir "$T/agents/expired" >"$T/expired.log" 2>&1
check "an expired join token is refused" grep -q "has expired" "$T/expired.log"
"$BIN/ovr-agent" enroll --server "$S" --token "OVRJT-1-nonsense" --state-dir "$T/agents/junk" >"$T/junk.log" 2>&1
check "a malformed join token is refused before any connection" grep -q "not a join token" "$T/junk.log"
check "no node was created by refused tokens" test "$(nodes)" -eq "$before"
check "refused enrollments stored nothing" test ! -e "$T/agents/forged/agent.json" -a ! -e "$T/agents/expired/agent.json"

# --- a second server: another CA
mkdir -p "$T/other"
chmod 755 "$T/other"
"$BIN/ovr-server" --dev --data-dir "$T/other" --grpc-listen 127.0.0.1:0 >"$T/other.log" 2>&1 &
OTHER_PID=$!
for i in $(seq 1 300); do grep -q "serving gRPC" "$T/other.log" && break; sleep 0.1; done
OTHER_PORT=$(grep 'serving gRPC' "$T/other.log" | sed 's/.*(port \([0-9]*\)).*/\1/')
otoken=$(OVR_SERVER=127.0.0.1:$OTHER_PORT OVR_CA_FILE=$T/other/pki/ca.crt OVR_TOKEN=$(cat "$T/other/admin.token") \
	"$BIN/ovrctl" node token create --name foreign-1 2>/dev/null)
check "enroll foreign-1 with the other server" \
	"$BIN/ovr-agent" enroll --server "127.0.0.1:$OTHER_PORT" --token "$otoken" --state-dir "$T/agents/foreign" >/dev/null 2>&1
"$BIN/ovr-agent" enroll --server "$S" --token "$otoken" --state-dir "$T/agents/foreign2" >"$T/foreign-token.log" 2>&1
check "a join token of another CA does not pin this server" grep -qi "fingerprint\|pin\|match" "$T/foreign-token.log"
kill -TERM "$OTHER_PID"
wait "$OTHER_PID" 2>/dev/null
# The foreign node trusts our CA but presents the other CA's certificate.
cp "$T/srv/pki/ca.crt" "$T/agents/foreign/ca.crt"
"$BIN/ovr-agent" run --state-dir "$T/agents/foreign" --server "$S" >"$T/foreign.log" 2>&1 &
AGENT_PIDS+=($!)
check "a certificate from another CA is refused; the agent says so" \
	wait_for 60 grep -q "certificate was rejected" "$T/foreign.log"
check "the foreign node never shows up" test -z "$(node_state foreign-1)"

# --- identity on Connect
out=$("$PROBE" connect-nocert "$S" "$T/srv/pki/ca.crt" "$(cat "$T/agents/db-1/agent.json" | sed -n 's/.*"node_id": "\(.*\)".*/\1/p')")
check "Connect without a certificate is UNAUTHENTICATED ($out)" grep -q "STATUS UNAUTHENTICATED" <<<"$out"
web1_id=$(sed -n 's/.*"node_id": "\(.*\)".*/\1/p' "$T/agents/web-1/agent.json")
db1_id=$(sed -n 's/.*"node_id": "\(.*\)".*/\1/p' "$T/agents/db-1/agent.json")
out=$("$PROBE" hello-as "$S" "$T/agents/db-1" "$web1_id")
check "a hello claiming another node is PERMISSION_DENIED ($out)" grep -q "STATUS PERMISSION_DENIED" <<<"$out"
check "the impersonated node is still connected" test "$(node_state web-1)" = connected

# --- bearer tokens
out=$(TOKEN_OVERRIDE= ovrctl node ls 2>&1)
check "a missing bearer token is refused and the message says so" grep -q "missing bearer token" <<<"$out"
out=$(TOKEN_OVERRIDE=ovrt_0123456789abcdef_0123456789abcdef0123456789abcdef01234567 ovrctl node ls 2>&1)
check "a wrong bearer token is refused and the message says so" grep -q "bearer token is not valid" <<<"$out"
TOKEN_OVERRIDE=bogus ovrctl node ls >/dev/null 2>&1
check "ovrctl exits 1 when refused" test $? -eq 1
out=$("$PROBE" raw "$S" "$T/srv/pki/ca.crt" /overseer.v1.Nodes/ListNodes 16)
check "an unauthenticated raw call is UNAUTHENTICATED or INVALID_ARGUMENT ($out)" grep -Eq "STATUS (UNAUTHENTICATED|INVALID_ARGUMENT)" <<<"$out"

# --- malformed and oversized messages
ADMIN=$(cat "$T/srv/admin.token")
out=$("$PROBE" raw "$S" "$T/srv/pki/ca.crt" /overseer.v1.Nodes/ListNodes 64 "$ADMIN")
check "a malformed message is INVALID_ARGUMENT ($out)" grep -q "STATUS INVALID_ARGUMENT" <<<"$out"
out=$("$PROBE" big "$S" "$T/srv/pki/ca.crt" "$ADMIN" $((5 * 1024 * 1024)))
check "a 5 MiB message is RESOURCE_EXHAUSTED ($out)" grep -q "STATUS RESOURCE_EXHAUSTED" <<<"$out"
out=$("$PROBE" big "$S" "$T/srv/pki/ca.crt" "$ADMIN" 300)
check "a bad selector is INVALID_ARGUMENT naming the field ($out)" grep -q "STATUS INVALID_ARGUMENT selector" <<<"$out"
out=$("$PROBE" raw "$S" "$T/srv/pki/ca.crt" /overseer.v1.Nope/Nothing 4 "$ADMIN")
check "an unknown method is UNIMPLEMENTED ($out)" grep -q "STATUS UNIMPLEMENTED" <<<"$out"
quiet() { "$@" >/dev/null 2>&1; }
check "the server keeps serving everyone else" quiet ovrctl node ls -o json
check "web-1 stayed connected throughout" test "$(node_state web-1)" = connected

# --- key files that others can read are refused at start
stop_server TERM
chmod 644 "$T/srv/pki/ca.key"
"$BIN/ovr-server" --dev --data-dir "$T/srv" --grpc-listen 127.0.0.1:0 >"$T/perm.log" 2>&1
rc=$?
check "the server refuses a world-readable CA key (exit $rc)" test "$rc" -eq 1
check "the message names the file and the fix" grep -q "ca.key.*chmod 600" "$T/perm.log"
chmod 600 "$T/srv/pki/ca.key"
chmod 644 "$T/agents/web-1/node.key"
"$BIN/ovr-agent" run --state-dir "$T/agents/web-1" >"$T/agent-perm.log" 2>&1
check "the agent refuses a world-readable key" grep -q "node.key.*chmod 600" "$T/agent-perm.log"

# --- configuration errors name file:line
printf 'grpc_listen: 127.0.0.1:7443\nworkers: lots\n' >"$T/bad.yaml"
"$BIN/ovr-server" --config "$T/bad.yaml" --check-config >"$T/cfg.out" 2>&1
rc=$?
check "a bad config file fails --check-config (exit $rc)" test "$rc" -ne 0
check "the error is file:line: message" grep -q "bad.yaml:2: " "$T/cfg.out"
printf 'grpc_listen: 127.0.0.1:7443\n' >"$T/good.yaml"
"$BIN/ovr-server" --config "$T/good.yaml" --dev --check-config >"$T/cfg.out" 2>&1
check "--check-config prints the effective config with sources" grep -q "good.yaml:1" "$T/cfg.out"
finish
