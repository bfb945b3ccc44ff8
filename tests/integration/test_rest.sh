# The REST/JSON gateway (issue 3): the Nodes routes over HTTPS call the same handlers as gRPC, with
# the proto3 JSON mapping, bearer tokens, the grpc-gateway status mapping and the error body,
# plus body limits, unknown routes and methods, /healthz, /readyz and the OpenAPI document.
. "$(dirname "$0")/lib.sh"

start_server --rest-listen 127.0.0.1:0 || exit 1
check "the server logs the REST port" rest_port
URL=https://127.0.0.1:$REST_PORT
ADMIN=$(cat "$T/srv/admin.token")

# api METHOD PATH [curl args...]: the body goes to $T/body, headers to $T/headers; sets CODE.
api() {
	local method=$1 path=$2
	shift 2
	CODE=$(curl -sS --cacert "$T/srv/pki/ca.crt" --max-time 20 -o "$T/body" -D "$T/headers" \
		-w '%{http_code}' -X "$method" "$@" "$URL$path" 2>"$T/curl.err")
}
# admin METHOD PATH [curl args...]: api with the admin token.
admin() {
	local method=$1 path=$2
	shift 2
	api "$method" "$path" -H "Authorization: Bearer $ADMIN" "$@"
}
# jq_py EXPR: evaluates a Python expression over the JSON body in $T/body (bound to d).
jq_py() {
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' \
		"$T/body" "$1" 2>/dev/null
}
is_code() { [ "$CODE" = "$1" ]; }
body_has() { grep -q -- "$1" "$T/body"; }
# err_is STATUS GRPC_CODE: the status and the error body {"code", "message", "details": []}.
err_is() {
	[ "$CODE" = "$1" ] && [ "$(jq_py 'd["code"]')" = "$2" ] &&
		[ -n "$(jq_py 'd["message"]')" ] && [ "$(jq_py 'd["details"]')" = "[]" ]
}

check "enroll web-1" enroll web-1 role=web
start_agent web-1
check "web-1 shows connected" wait_state web-1 connected 60

# --- reads
admin GET /api/nodes
check "GET /api/nodes answers 200 with JSON" is_code 200
check "the content type is application/json" grep -qi '^content-type: application/json' "$T/headers"
check "GET /api/nodes lists web-1" test "$(jq_py '[n["name"] for n in d["nodes"]]')" = "['web-1']"
check "names are lowerCamelCase" body_has '"lastSeenUnixMs"'
check "int64 values are strings" test "$(jq_py 'type(d["nodes"][0]["lastSeenUnixMs"]).__name__')" = str
check "no snake_case names" sh -c "! grep -q last_seen_unix_ms '$T/body'"
admin GET '/api/nodes?selector=role%3Dweb&page_size=10'
check "query parameters bind by proto name (selector role=web)" \
	test "$(jq_py '[n["name"] for n in d["nodes"]]')" = "['web-1']"
admin GET '/api/nodes?selector=role%3Ddb&pageSize=10'
check "query parameters bind by lowerCamel name (selector role=db: none)" \
	test "$(jq_py 'len(d.get("nodes", []))')" = 0
admin GET '/api/nodes?colour=blue'
check "an unknown query parameter is 400 naming it" err_is 400 3
check "  ... and the message names it" body_has 'colour'
admin GET /api/nodes/web-1
check "GET /api/nodes/{name} answers 200" is_code 200
check "  ... with the node, connected" \
	test "$(jq_py 'd["name"] + " " + d["state"] + " " + d["labels"]["role"]')" = "web-1 NODE_STATE_CONNECTED web"
admin GET /api/nodes/nosuch
check "an unknown node is 404 with code 5" err_is 404 5
check "  ... and the message names it" body_has 'nosuch'

# --- writes
admin POST /api/nodes/tokens -d '{"name": "rest-1", "labels": {"role": "api"}}'
check "POST /api/nodes/tokens answers 200" is_code 200
token=$(jq_py 'd["token"]')
check "  ... with a token and an int64 expiry as string" \
	test "$(jq_py 'd["nodeName"] + " " + type(d["expiresUnixMs"]).__name__')" = "rest-1 str"
check "the REST join token enrolls an agent" "$BIN/ovr-agent" enroll --server "127.0.0.1:$SERVER_PORT" \
	--token "$token" --state-dir "$T/agents/rest-1" >>"$T/agent-rest-1.log" 2>&1
admin GET /api/nodes/rest-1
check "the enrolled node has the token's labels" test "$(jq_py 'd["labels"]["role"]')" = api
# The path names the node: a name in the body is overridden, not obeyed.
admin PUT /api/nodes/rest-1/labels -d '{"name": "web-1", "labels": {"tier": "gold", "role": "api"}}'
check "PUT /api/nodes/{name}/labels answers 200" is_code 200
check "  ... and returns the new labels" test "$(jq_py 'd["name"] + " " + d["labels"]["tier"]')" = "rest-1 gold"
admin GET /api/nodes/web-1
check "the path field overrides the body (web-1 untouched)" test "$(jq_py 'sorted(d["labels"])')" = "['role']"
admin PUT /api/nodes/rest-1/labels -d '{"labels": {"Bad Key": "x"}}'
check "an invalid label is 400 with code 3" err_is 400 3
admin POST /api/nodes/rest-1/revoke -d '{}'
check "POST /api/nodes/{name}/revoke answers 200" is_code 200
check "  ... and the node is revoked" test "$(jq_py 'd["state"]')" = NODE_STATE_REVOKED
check "ovrctl sees the revocation made over REST" test "$(node_state rest-1)" = revoked

# --- authentication: the gRPC hook, so the same messages and roles
api GET /api/nodes
check "no bearer token is 401 with code 16" err_is 401 16
check "  ... with WWW-Authenticate: Bearer" grep -qi '^www-authenticate: bearer' "$T/headers"
api GET /api/nodes -H "Authorization: Bearer ovrt_0000000000000000_00000000000000000000000000000000000000000000"
check "a forged bearer token is 401 with code 16" err_is 401 16
api GET /api/nodes -H "Authorization: Bearer not-a-token"
check "a malformed bearer token is 401" is_code 401
api POST /api/nodes/tokens -d '{"name": "x-1"}'
check "a write without a token is 401 too" err_is 401 16

# --- malformed and oversized input
admin POST /api/nodes/tokens -d '{"name": "bad-1",'
check "malformed JSON is 400 with code 3" err_is 400 3
check "  ... naming the position" body_has 'line 1 column'
admin POST /api/nodes/tokens -d '{"nme": "bad-1"}'
check "an unknown field is 400" err_is 400 3
check "  ... naming the field" body_has '\\"nme\\": unknown field'
admin POST /api/nodes/tokens -d '{"name": "bad-1", "ttlMs": "soon"}'
check "a wrongly typed field is 400" err_is 400 3
check "  ... naming it" body_has 'ttl'
admin POST /api/nodes/tokens -d '["name"]'
check "a body that is not an object is 400" err_is 400 3
head -c $((4 * 1024 * 1024 + 1)) /dev/zero | tr '\0' ' ' >"$T/big.json"
admin POST /api/nodes/tokens --data-binary "@$T/big.json"
check "a body over 4 MiB is refused with 413 and code 8" err_is 413 8
admin POST /api/nodes/tokens -H 'Transfer-Encoding: chunked' --data-binary "@$T/big.json"
check "a chunked body over 4 MiB is refused with 413 too" err_is 413 8
head -c $((4 * 1024 * 1024 - 64)) /dev/zero | tr '\0' ' ' >"$T/near.json"
printf '{"name": "big-1"}' >>"$T/near.json"
admin POST /api/nodes/tokens --data-binary "@$T/near.json"
check "a body just under 4 MiB is accepted" is_code 200
admin GET /api/nodes/web-1
check "the server keeps serving after oversized bodies" is_code 200

# --- routes
admin GET /api/nope
check "an unknown route is 404 with code 5" err_is 404 5
admin GET '/api/n%FFpe'
check "an unknown route that is not UTF-8 is still a JSON 404" err_is 404 5
admin GET '/api/nodes?%FF=1'
check "a query parameter name that is not UTF-8 is a JSON 400" err_is 400 3
admin GET /api/nodes/web-1/extra
check "extra path segments are 404" is_code 404
admin DELETE /api/nodes
check "a wrong method on a known path is 405" is_code 405
check "  ... with Allow: GET" grep -qi '^allow: GET' "$T/headers"
admin GET /api/nodes/tokens
check "GET /api/nodes/tokens is GetNode of a node named tokens (404)" err_is 404 5
admin GET /api/audit
check "GET /api/audit answers the audit log" is_code 200
admin GET /api/deployments/d1/watch
check "a streaming method that is available answers as unary ones do before streaming (404)" \
	err_is 404 5

# --- unauthenticated endpoints
api GET /healthz
check "/healthz is 200 without a token" is_code 200
check "  ... with status ok" test "$(jq_py 'd["status"]')" = ok
api GET /readyz
check "/readyz is 200 while the database answers" is_code 200
api POST /healthz
check "/healthz refuses POST with 405" is_code 405
api GET /api/openapi.json
check "/api/openapi.json is 200 without a token" is_code 200
check "  ... and parses as JSON" python3 -m json.tool "$T/body" /dev/null
check "  ... lists /api/apps and /api/nodes" \
	test "$(jq_py '"/api/apps" in d["paths"] and "/api/nodes" in d["paths"]')" = True
check "  ... names operations by RPC" test "$(jq_py 'd["paths"]["/api/nodes"]["get"]["operationId"]')" = ListNodes
check "  ... declares int64 as string format int64" \
	test "$(jq_py 'd["components"]["schemas"]["overseer.v1.Node"]["properties"]["lastSeenUnixMs"]["format"]')" = int64
check "  ... and never AgentService" sh -c "! grep -q Enroll '$T/body'"

# With PostgreSQL gone, /readyz says so and /healthz still answers.
bindir=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
su postgres -s /bin/sh -c "$bindir/pg_ctl stop -m fast -D '$T/srv/postgres'" >/dev/null 2>&1
api GET /readyz
check "/readyz is 503 with code 14 once the database is down" err_is 503 14
api GET /healthz
check "/healthz is still 200" is_code 200

# Graceful stop: the server exits 0.
kill -TERM "$SERVER_PID"
wait "$SERVER_PID"
check "the server exits 0 on SIGTERM with REST running" test $? -eq 0
SERVER_PID=""
finish
