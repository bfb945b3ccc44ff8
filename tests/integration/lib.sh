# Shared helpers for the integration tests: a private ovr-server --dev (its own PostgreSQL),
# enrolled agents, checks that print TAP-like lines, and cleanup that runs even on failure.
# Every address used is on loopback.
set -uo pipefail

BIN=${OVR_BIN_DIR:?OVR_BIN_DIR must point at the build bin directory}
SRC=${OVR_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
T=$(mktemp -d /tmp/ovr-it.XXXXXX)
# PostgreSQL runs as the postgres user: it must be able to reach the data directories.
chmod 755 "$T"
SERVER_PID=""
SERVER_PORT=0
AGENT_PIDS=()
FAILED=0
PASSED=0

log() { printf '# %s\n' "$*"; }
ok() { PASSED=$((PASSED + 1)); printf 'ok - %s\n' "$*"; }
not_ok() { FAILED=$((FAILED + 1)); printf 'not ok - %s\n' "$*"; }
check() { # check "description" command...
	local desc=$1
	shift
	if "$@"; then ok "$desc"; else not_ok "$desc"; fi
}

# Runs ovrctl against the test server with the admin token.
ovrctl() {
	OVR_SERVER=127.0.0.1:$SERVER_PORT OVR_CA_FILE=$T/srv/pki/ca.crt \
		OVR_TOKEN=${TOKEN_OVERRIDE-$(cat "$T/srv/admin.token" 2>/dev/null)} "$BIN/ovrctl" "$@"
}

# start_server [extra flags]: starts (or restarts, on the same port) the server.
start_server() {
	mkdir -p "$T/srv"
	chmod 755 "$T/srv"
	"$BIN/ovr-server" --dev --data-dir "$T/srv" --grpc-listen "127.0.0.1:$SERVER_PORT" \
		--heartbeat-interval 2s "$@" >>"$T/server.log" 2>&1 &
	SERVER_PID=$!
	local i
	for i in $(seq 1 300); do
		if grep -q "serving gRPC" "$T/server.log" 2>/dev/null &&
			[ "$(grep -c 'serving gRPC' "$T/server.log")" -gt "${SERVER_STARTS:-0}" ]; then
			SERVER_STARTS=$(grep -c 'serving gRPC' "$T/server.log")
			SERVER_PORT=$(grep 'serving gRPC' "$T/server.log" | tail -1 | sed 's/.*(port \([0-9]*\)).*/\1/')
			return 0
		fi
		if ! kill -0 "$SERVER_PID" 2>/dev/null; then
			log "server exited during start:"
			tail -20 "$T/server.log" | sed 's/^/#   /'
			return 1
		fi
		sleep 0.1
	done
	log "server did not start in 30 s"
	return 1
}

# stop_server [SIGNAL]: TERM by default (graceful); waits for the process.
stop_server() {
	local sig=${1:-TERM}
	[ -n "$SERVER_PID" ] || return 0
	kill "-$sig" "$SERVER_PID" 2>/dev/null
	wait "$SERVER_PID" 2>/dev/null
	SERVER_PID=""
}

# enroll NAME [label...]: join token + ovr-agent enroll into $T/agents/NAME.
enroll() {
	local name=$1
	shift
	local args=() l
	for l in "$@"; do args+=(--label "$l"); done
	local token
	token=$(ovrctl node token create --name "$name" "${args[@]}" 2>/dev/null) || return 1
	"$BIN/ovr-agent" enroll --server "127.0.0.1:$SERVER_PORT" --token "$token" \
		--state-dir "$T/agents/$name" >>"$T/agent-$name.log" 2>&1
}

# start_agent NAME: runs the agent in the background; its pid in AGENT_PID[NAME].
declare -A AGENT_PID
start_agent() {
	local name=$1
	"$BIN/ovr-agent" run --state-dir "$T/agents/$name" --project-prefix "ovrit-$name" \
		>>"$T/agent-$name.log" 2>&1 &
	AGENT_PID[$name]=$!
	AGENT_PIDS+=($!)
}

# node_state NAME: connected, disconnected, revoked (or empty).
node_state() {
	ovrctl node get "$1" -o json 2>/dev/null | sed -n 's/.*"state": "NODE_STATE_\([A-Z]*\)".*/\1/p' |
		tr 'A-Z' 'a-z'
}

# wait_state NAME STATE SECONDS: polls until the node has STATE; prints elapsed ms in WAITED_MS.
wait_state() {
	local name=$1 want=$2 secs=$3 start now
	start=$(date +%s%N)
	while :; do
		[ "$(node_state "$name")" = "$want" ] && break
		now=$(date +%s%N)
		if [ $(((now - start) / 1000000)) -gt $((secs * 1000)) ]; then
			WAITED_MS=$(((now - start) / 1000000))
			return 1
		fi
		sleep 0.2
	done
	now=$(date +%s%N)
	WAITED_MS=$(((now - start) / 1000000))
	return 0
}

# wait_for SECONDS COMMAND...: runs COMMAND every 0.2 s until it succeeds (0) or SECONDS pass (1).
# Deadlines are generous on purpose: a loaded machine is slow, and speed is for tests/bench.
wait_for() {
	local deadline=$(($(date +%s) + $1))
	shift
	until "$@"; do
		[ "$(date +%s)" -ge "$deadline" ] && return 1
		sleep 0.2
	done
	return 0
}

cleanup() {
	local pid
	for pid in "${AGENT_PIDS[@]}"; do
		kill -CONT "$pid" 2>/dev/null
		kill -TERM "$pid" 2>/dev/null
	done
	stop_server TERM
	for pid in "${AGENT_PIDS[@]}"; do wait "$pid" 2>/dev/null; done
	# A server killed with -9 leaves its PostgreSQL behind: stop it here.
	if [ -f "$T/srv/postgres/postmaster.pid" ]; then
		local bindir
		bindir=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
		su postgres -s /bin/sh -c "$bindir/pg_ctl stop -m immediate -D '$T/srv/postgres'" >/dev/null 2>&1
	fi
	if [ "$FAILED" -ne 0 ] || [ -n "${OVR_KEEP_LOGS:-}" ]; then
		log "server log (last 40 lines):"
		tail -40 "$T/server.log" 2>/dev/null | sed 's/^/#   /'
	fi
	rm -rf "$T"
}
trap cleanup EXIT

finish() {
	printf '%d passed, %d failed\n' "$PASSED" "$FAILED"
	[ "$FAILED" -eq 0 ]
}

# The REST gateway listens on a free loopback port unless a test says otherwise (never 0.0.0.0).
export OVR_REST_LISTEN=${OVR_REST_LISTEN:-127.0.0.1:0}

# rest_port: sets REST_PORT from the server's last "serving REST on ... (port N)" line.
rest_port() {
	REST_PORT=$(grep 'serving REST' "$T/server.log" | tail -1 | sed 's/.*(port \([0-9]*\)).*/\1/')
	[ -n "$REST_PORT" ] && [ "$REST_PORT" -gt 0 ]
}

# ---- REST helpers (after start_server): api, jq_py, body ----

# api METHOD PATH [curl args]: calls the REST gateway with the admin token (or $TOKEN_OVERRIDE);
# the status in CODE, the body in $T/body.
api() {
	local method=$1 path=$2
	shift 2
	[ -n "${REST_PORT:-}" ] || rest_port
	CODE=$(curl -sS --cacert "$T/srv/pki/ca.crt" --max-time 20 -o "$T/body" -D "$T/headers" \
		-w '%{http_code}' -X "$method" \
		-H "Authorization: Bearer ${TOKEN_OVERRIDE-$(cat "$T/srv/admin.token")}" "$@" \
		"https://127.0.0.1:$REST_PORT$path" 2>"$T/curl.err")
}
# jq_py EXPR: a Python expression over the last body as d.
jq_py() {
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' \
		"$T/body" "$1" 2>/dev/null
}
# wait_deployment ID SECONDS: polls GET /api/deployments/ID until it is no longer in progress;
# its state in DSTATE, the body in $T/body. 1 if SECONDS pass first.
wait_deployment() {
	local id=$1 secs=$2 i
	for i in $(seq 1 $((secs * 4))); do
		api GET "/api/deployments/$id"
		DSTATE=$(jq_py 'd["state"]')
		[ "$DSTATE" != DEPLOYMENT_STATE_IN_PROGRESS ] && return 0
		sleep 0.25
	done
	return 1
}
# ndj FILE EXPR: a Python expression over FILE's lines (NDJSON, a REST stream) parsed as JSON,
# the list bound to L;
# prints BAD if a line is not JSON.
ndj() {
	python3 - "$1" "$2" 2>/dev/null <<'PY'
import json, sys
try:
    L = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8").read().split("\n") if l]
except ValueError:
    print("BAD")
    sys.exit(0)
print(eval(sys.argv[2]))
PY
}
# body FILE KEY=PYEXPR...: a JSON object with composeYaml read from FILE ("" for none) and the
# other fields as Python expressions, into $T/req.json.
body() {
	python3 - "$@" >"$T/req.json" <<'PY'
import json, sys
d = {}
if sys.argv[1]:
    d["composeYaml"] = open(sys.argv[1], encoding="utf-8").read()
for kv in sys.argv[2:]:
    k, v = kv.split("=", 1)
    d[k] = eval(v)
print(json.dumps(d))
PY
}

# use_docker PREFIX...: starts dockerd if none runs, builds the local test images, removes what
# agents with these project prefixes left (now and when the test exits, even on failure).
use_docker() {
	bash "$SRC/scripts/start-dockerd" >"$T/dockerd.out" 2>&1 || { cat "$T/dockerd.out"; exit 1; }
	bash "$SRC/scripts/make-test-image" >"$T/image.out" 2>&1 || { cat "$T/image.out"; exit 1; }
	DOCKER_PREFIXES=("$@")
	docker_cleanup_prefix "${DOCKER_PREFIXES[@]}"
	# Agents first: one still reconciling would bring back what was just removed.
	trap 'cleanup; docker_cleanup_prefix "${DOCKER_PREFIXES[@]}"' EXIT
}

# docker_cleanup_prefix PREFIX...: removes the containers, networks and volumes whose names start
# with PREFIX- (what agents running with --project-prefix PREFIX made).
docker_cleanup_prefix() {
	local ids p
	for p in "$@"; do
		ids=$(docker ps -aq --filter "label=com.docker.compose.project" --filter "name=$p-")
		[ -n "$ids" ] && docker rm -f $ids >/dev/null 2>&1
		ids=$(docker network ls -q --filter "name=$p-")
		[ -n "$ids" ] && docker network rm $ids >/dev/null 2>&1
		ids=$(docker volume ls -q --filter "name=$p-")
		[ -n "$ids" ] && docker volume rm $ids >/dev/null 2>&1
	done
	return 0
}
