# The role table walk (issue 6): every method of proto/overseer/v1, called with an empty request
# under each role (viewer, deployer, admin) and without a token, on gRPC (ovr-probe empty) and,
# where it has a route, on REST (routes read from /api/openapi.json). A role below the one the
# issue's rules require is refused with PERMISSION_DENIED / 403 (code 7) naming the requirement;
# a role at or above it is never refused (any other answer is fine: 400, 404, ...). Methods not
# available yet answer UNIMPLEMENTED before any check and are skipped. No agents, no docker.
. "$(dirname "$0")/lib.sh"

PROBE=$BIN/ovr-probe
start_server --rest-listen 127.0.0.1:0 || exit 1
check "the server logs the REST port" rest_port
ADMIN=$(cat "$T/srv/admin.token")
declare -A TOK=([admin]=$ADMIN)
for role in viewer deployer; do
	TOK[$role]=$(ovrctl token create "rb-$role" --role "$role" 2>/dev/null)
done
check "a viewer and a deployer token" test -n "${TOK[viewer]}" -a -n "${TOK[deployer]}"
declare -A RANK=([viewer]=1 [deployer]=2 [admin]=3)

# The plan: one line per method of the .proto files, "PATH REQUIRED VERB ROUTE" (VERB and ROUTE
# "-" without a REST route). REQUIRED follows the issue's rules, written here independently of
# the server's method table:
#   viewer reads everything but secret metadata and the audit log; deployer can also create,
#   deploy and roll back apps (and change their settings) and read logs; admin does everything,
#   including nodes, tokens, secrets, audit and deleting apps.
api GET /api/openapi.json
cp "$T/body" "$T/openapi.json"
python3 - "$SRC/proto/overseer/v1" "$T/openapi.json" >"$T/plan" <<'PY'
import glob, json, re, sys

def required(svc, rpc):
    if svc == "AgentService":
        return "public" if rpc == "Enroll" else "node"
    if svc in ("Secrets", "Audit", "Tokens"):
        return "admin"
    if svc == "Nodes":
        return "viewer" if rpc.startswith(("List", "Get")) else "admin"
    if svc == "Apps":
        if rpc in ("CreateApp", "UpdateApp", "DeployApp", "RollbackApp", "StreamLogs"):
            return "deployer"
        if rpc == "DeleteApp":
            return "admin"
        if rpc.startswith(("Get", "List", "Diff", "Watch", "Lint")):
            return "viewer"
    return "unclassified"

routes = {}
doc = json.load(open(sys.argv[2]))
for path, item in doc["paths"].items():
    for verb, op in item.items():
        summary = op.get("summary", "")
        if summary.startswith("gRPC "):
            routes["/" + summary[5:]] = (verb.upper(), path)
for proto in sorted(glob.glob(sys.argv[1] + "/*.proto")):
    svc = None
    for line in open(proto):
        m = re.match(r"\s*service\s+(\w+)", line)
        if m:
            svc = m.group(1)
        m = re.match(r"\s*rpc\s+(\w+)\s*\(", line)
        if m and svc:
            path = "/overseer.v1.%s/%s" % (svc, m.group(1))
            verb, route = routes.pop(path, ("-", "-"))
            print(path, required(svc, m.group(1)), verb, route)
for path in routes:  # a REST route for a method no .proto declares
    print(path, "unclassified", *routes[path])
PY
n_methods=$(wc -l <"$T/plan")
log "$n_methods methods in proto/overseer/v1"
check "the .proto files declare methods" test "$n_methods" -gt 30
check "every method is classified by the issue's rules (and every REST route is a .proto method)" \
	sh -c "! grep -q unclassified '$T/plan'"
check "every method but AgentService's has a REST route" \
	sh -c "! grep -v '^/overseer.v1.AgentService/' '$T/plan' | grep -q ' - -\$'"

# ---- REST
SKIPPED=()
# rest_call TOKEN VERB ROUTE: the route with each {field} filled (a number for {version}).
rest_call() {
	local tok=$1 verb=$2 route=$3 path
	path=$(sed -e 's/{version}/1/g' -e 's/{[a-z_]*}/rb-x/g' <<<"$route")
	local args=()
	[ "$verb" = GET ] || [ "$verb" = DELETE ] || args=(-H 'Content-Type: application/json' -d '{}')
	TOKEN_OVERRIDE=$tok api "$verb" "$path" "${args[@]}"
}
body_code() { jq_py 'd["code"]'; }
# rest_denied REQUIRED: the last answer is 403, code 7, naming the role required.
rest_denied() { [ "$CODE" = 403 ] && [ "$(body_code)" = 7 ] && grep -q "requires $1" "$T/body"; }
# grpc_denied "CODE message" REQUIRED / grpc_allowed "CODE message": how a gRPC call ended.
grpc_denied() { [ "${1%% *}" = PERMISSION_DENIED ] && [[ $1 == *"requires $2"* ]]; }
grpc_allowed() {
	case "${1%% *}" in
	PERMISSION_DENIED | UNAUTHENTICATED | "") return 1 ;;
	esac
	return 0
}
while read -r path req verb route; do
	[ "$route" = - ] && continue
	case $req in public | node | unclassified) continue ;; esac
	rest_call "$ADMIN" "$verb" "$route"
	if [ "$CODE" = 501 ]; then
		SKIPPED+=("REST $path")
		log "skip REST $verb $route ($path): not available yet (501)"
		continue
	fi
	rest_call "" "$verb" "$route"
	check "REST $verb $route without a token: 401 code 16" test "$CODE $(body_code)" = "401 16"
	for role in viewer deployer admin; do
		rest_call "${TOK[$role]}" "$verb" "$route"
		if [ "${RANK[$role]}" -lt "${RANK[$req]}" ]; then
			check "REST $verb $route as $role (needs $req): 403 code 7 naming $req" \
				rest_denied "$req"
		else
			check "REST $verb $route as $role (needs $req): not refused (HTTP $CODE)" \
				test "$CODE" != 403 -a "$CODE" != 401
		fi
	done
done <"$T/plan"

# ---- gRPC: every method, empty request, one connection per role
S=127.0.0.1:$SERVER_PORT
mapfile -t METHODS < <(awk '{print $1}' "$T/plan")
for who in none viewer deployer admin; do
	tok=-
	[ "$who" = none ] || tok=${TOK[$who]}
	"$PROBE" empty "$S" "$T/srv/pki/ca.crt" "$tok" "${METHODS[@]}" >"$T/grpc-$who" 2>&1
done
check "ovr-probe answered every method for every role" \
	test "$(cat "$T"/grpc-* | grep -c ' STATUS ')" = $((4 * n_methods))
# status WHO PATH: "CODE message" of the call.
status() { grep "^$2 STATUS " "$T/grpc-$1" | head -1 | cut -d' ' -f3-; }
while read -r path req verb route; do
	if [ "$(status admin "$path" | cut -d' ' -f1)" = UNIMPLEMENTED ]; then
		SKIPPED+=("gRPC $path")
		log "skip gRPC $path: not available yet (UNIMPLEMENTED)"
		continue
	fi
	case $req in
	unclassified) continue ;;
	public)
		# Its credential is the join token inside the request: a bearer token changes nothing.
		for who in none viewer deployer admin; do
			s=$(status "$who" "$path")
			check "gRPC $path ($who): judged on the join token alone ($s)" \
				test "$s" = "$(status none "$path")" -a "${s%% *}" != PERMISSION_DENIED
		done
		check "gRPC $path: an empty request is refused for its join token" \
			grep -q "^$path STATUS [A-Z_]* .*join token" "$T/grpc-none"
		continue
		;;
	node)
		for who in none viewer deployer admin; do
			s=$(status "$who" "$path")
			check "gRPC $path ($who): a bearer token never stands in for a node certificate" \
				test "${s%% *}" = UNAUTHENTICATED
		done
		continue
		;;
	esac
	s=$(status none "$path")
	check "gRPC $path without a token: UNAUTHENTICATED" test "${s%% *}" = UNAUTHENTICATED
	for role in viewer deployer admin; do
		s=$(status "$role" "$path")
		if [ "${RANK[$role]}" -lt "${RANK[$req]}" ]; then
			check "gRPC $path as $role (needs $req): PERMISSION_DENIED naming $req" \
				grpc_denied "$s" "$req"
		else
			check "gRPC $path as $role (needs $req): not refused (${s%% *})" \
				grpc_allowed "$s"
		fi
	done
done <"$T/plan"

log "skipped (not available yet): ${#SKIPPED[@]}${SKIPPED[*]:+: ${SKIPPED[*]}}"
finish
