# Operator API tokens (issue 6): ovrctl token create/ls/revoke and the Tokens REST routes; each
# role used on both transports; a revoked or expired token refused at once on both; values never
# listed, logged or stored; the last active admin token cannot be revoked, even by two
# revocations racing. No agents, no docker.
. "$(dirname "$0")/lib.sh"

start_server --rest-listen 127.0.0.1:0 || exit 1
check "the server logs the REST port" rest_port
psql_dev() {
	su postgres -s /bin/sh -c "psql -qAt -h '$T/srv/postgres/run' -d overseer -c \"$1\"" 2>&1
}

# run ARGS...: ovrctl (admin token unless TOKEN_OVERRIDE) with stdout in $T/out, stderr in $T/err,
# the exit code in RC.
run() {
	ovrctl "$@" >"$T/out" 2>"$T/err" </dev/null
	RC=$?
}
# as TOKEN ARGS...: run with another token.
as() {
	local tok=$1
	shift
	TOKEN_OVERRIDE=$tok run "$@"
}
# rest_as TOKEN METHOD PATH [curl args]: api with another token.
rest_as() {
	local tok=$1
	shift
	TOKEN_OVERRIDE=$tok api "$@"
}
rc_is() { [ "$RC" = "$1" ]; }
err_has() { grep -q -- "$1" "$T/err"; }
# fails_with TEXT: exit 1 with TEXT on stderr.
fails_with() { rc_is 1 && err_has "$1"; }
# lacks FILE TEXT: FILE does not contain TEXT (any case).
lacks() { ! grep -qi -- "$2" "$1"; }
# invalid FIELD: the last REST answer is 400, code 3, naming FIELD.
invalid() { err_is 400 3 && grep -q -- "$1" "$T/body"; }
# err_is STATUS GRPC_CODE: the REST status and the error body's code.
err_is() { [ "$CODE" = "$1" ] && [ "$(jq_py 'd["code"]')" = "$2" ]; }
is_token() { [[ $1 =~ ^ovrt_[0-9a-f]{16}_[0-9a-f]{40}$ ]]; }
# field NAME KEY: a field of token NAME in "ovrctl token ls -o json" (admin token in $ADMIN).
field() {
	TOKEN_OVERRIDE=$ADMIN ovrctl token ls -o json 2>/dev/null | python3 -c '
import json, sys
for t in json.load(sys.stdin).get("tokens", []):
    if t["name"] == sys.argv[1]:
        print(t.get(sys.argv[2], ""))' "$1" "$2"
}
ADMIN=$(cat "$T/srv/admin.token")
printf 'services:\n  web:\n    image: ovr-test/busybox:1\n' >"$T/compose.yaml"

# --- create
run token create tk-viewer --role viewer
VIEWER=$(cat "$T/out")
check "token create exits 0" rc_is 0
check "  ... prints only the value on stdout, in the ovrt_<id>_<secret> form" is_token "$VIEWER"
check "  ... and a hint on stderr that it is shown once" err_has "shown this once"
run token create tk-deployer --role deployer --ttl 30d
DEPLOYER=$(cat "$T/out")
check "a deployer token with --ttl 30d" is_token "$DEPLOYER"
run token create tk-admin2 --role admin
ADMIN2=$(cat "$T/out")
check "a second admin token" is_token "$ADMIN2"
run token create tk-unused --role viewer
check "a token nobody uses" rc_is 0
check "every token gets its own value" test "$(printf '%s\n' "$VIEWER" "$DEPLOYER" "$ADMIN2" | sort -u | wc -l)" = 3

exp=$(field tk-deployer expiresUnixMs)
now=$(($(date +%s) * 1000))
check "--ttl 30d expires in 30 days (within a minute)" \
	test $((exp - now - 30 * 86400000)) -lt 60000 -a $((exp - now - 30 * 86400000)) -gt -60000
check "no --ttl: no expiry" test -z "$(field tk-viewer expiresUnixMs)"
check "the creator is recorded (the admin token's name)" test "$(field tk-viewer createdBy)" = admin

# --- refused creations
run token create tk-viewer --role admin
check "a duplicate name is refused (exit 1)" rc_is 1
check "  ... as ALREADY_EXISTS naming it" err_has "token 'tk-viewer' already exists"
api POST /api/tokens -d '{"name": "tk-viewer", "role": "ROLE_VIEWER"}'
check "  ... and over REST 409 with code 6" err_is 409 6
run token create Bad_Name --role viewer
check "an invalid name is refused naming the field" fails_with "^ovrctl: name: "
run token create tk-x
check "a missing --role is a usage error (exit 2)" rc_is 2
run token create tk-x --role root
check "an unknown --role is a usage error (exit 2)" rc_is 2
api POST /api/tokens -d '{"name": "tk-x"}'
check "no role over REST is 400 naming role" invalid 'role:'
run token create tk-x --role viewer --ttl 30s
check "a ttl under 1m is refused naming ttl" fails_with "ttl: "
run token create tk-x --role viewer --ttl 3651d
check "a ttl over 10 years is refused" fails_with "ttl: "
api POST /api/tokens -d '{"name": "tk-x", "role": "ROLE_VIEWER", "ttlMs": "-1"}'
check "a negative ttl over REST is 400" err_is 400 3
check "nothing was created by the refused calls" test -z "$(field tk-x name)"

# --- REST create and list
api POST /api/tokens -d '{"name": "tk-rest", "role": "ROLE_DEPLOYER", "ttlMs": "3600000"}'
check "POST /api/tokens answers 200" test "$CODE" = 200
REST_TOKEN=$(jq_py 'd["secret"]')
check "  ... with the value once" is_token "$REST_TOKEN"
check "  ... and the token's metadata" test "$(jq_py 'd["token"]["name"] + " " + d["token"]["role"]')" = "tk-rest ROLE_DEPLOYER"
api GET /api/tokens
check "GET /api/tokens lists every token by name" \
	test "$(jq_py '" ".join(t["name"] for t in d["tokens"])')" = "admin tk-admin2 tk-deployer tk-rest tk-unused tk-viewer"
check "  ... with no value" lacks "$T/body" '"secret"'

# --- list: no values, no hashes
run token ls
check "token ls exits 0" rc_is 0
check "  ... with a header" grep -q '^NAME  *ROLE  *CREATED BY  *CREATED  *EXPIRES  *LAST USED  *STATE' "$T/out"
check "  ... and a row per token with its role" \
	test "$(awk 'NR>1 {print $1 "=" $2}' "$T/out" | tr '\n' ' ')" = "admin=admin tk-admin2=admin tk-deployer=deployer tk-rest=deployer tk-unused=viewer tk-viewer=viewer "
run token ls -o json
check "token ls -o json parses" python3 -m json.tool "$T/out" /dev/null
leak=0
# (The bootstrap admin token is in the server log: the first start prints it once, by design.)
for v in "$VIEWER" "$DEPLOYER" "$ADMIN2" "$REST_TOKEN"; do
	secret=${v##*_}
	for f in "$T/out" "$T/server.log"; do grep -q "$secret" "$f" && leak=1; done
	# The database holds the secret's SHA-256, never the secret.
	hash=$(printf '%s' "$secret" | sha256sum | cut -c1-64)
	[ "$(psql_dev "SELECT count(*) FROM api_tokens WHERE encode(secret_hash, 'hex') = '$hash'")" = 1 ] || leak=1
	[ "$(psql_dev "SELECT count(*) FROM api_tokens t WHERE strpos(t::text, '$secret') > 0")" = 0 ] || leak=1
done
check "no value in token ls, the server log or the database (only its SHA-256)" test $leak = 0
check "token ls -o json carries no hash field" lacks "$T/out" hash

# --- each role, on both transports
as "$VIEWER" node ls
check "viewer: ovrctl node ls works" rc_is 0
rest_as "$VIEWER" GET /api/apps
check "viewer: GET /api/apps is 200" test "$CODE" = 200
as "$VIEWER" app create tk-app -f "$T/compose.yaml"
check "viewer: app create is refused (exit 1)" rc_is 1
check "  ... as PERMISSION_DENIED naming role and requirement" \
	err_has "token 'tk-viewer' has role viewer; overseer.v1.Apps/CreateApp requires deployer"
as "$DEPLOYER" app create tk-app -f "$T/compose.yaml"
check "deployer: app create works" rc_is 0
as "$VIEWER" deploy tk-app
check "viewer: deploy over gRPC is refused with PERMISSION_DENIED" \
	fails_with "has role viewer; overseer.v1.Apps/DeployApp requires deployer"
rest_as "$VIEWER" POST /api/apps/tk-app/deploy -d '{}'
check "viewer: deploy over REST is 403 with code 7" err_is 403 7
as "$VIEWER" versions tk-app
check "viewer: still reads the app's versions" rc_is 0
check "  ... and no version 2 was made" test "$(awk 'NR>1' "$T/out" | wc -l)" = 1
as "$DEPLOYER" deploy tk-app
check "deployer: deploy over gRPC works" rc_is 0
rest_as "$DEPLOYER" POST /api/apps/tk-app/deploy -d '{}'
check "deployer: deploy over REST works" test "$CODE" = 200
as "$DEPLOYER" secret ls
check "deployer: secret ls is refused (secret metadata is admin's)" \
	fails_with "requires admin"
as "$DEPLOYER" token ls
check "deployer: token ls is refused" rc_is 1
rest_as "$DEPLOYER" POST /api/tokens -d '{"name": "tk-escalate", "role": "ROLE_ADMIN"}'
check "deployer: cannot create tokens over REST (403)" err_is 403 7
as "$DEPLOYER" app rm tk-app --yes
check "deployer: app rm is refused (deleting apps is admin's)" \
	fails_with "DeleteApp requires admin"
as "$ADMIN2" token create tk-made-by-admin2 --role viewer
check "a created admin token creates tokens" rc_is 0
check "  ... recorded as their creator" test "$(field tk-made-by-admin2 createdBy)" = tk-admin2
rest_as "$REST_TOKEN" GET /api/apps/tk-app
check "the token created over REST works on REST" test "$CODE" = 200
as "$REST_TOKEN" app get tk-app
check "  ... and on gRPC" rc_is 0

# --- last used: recorded, at most once a minute
used=$(field tk-viewer lastUsedUnixMs)
check "a used token shows when it was last used" test -n "$used"
check "an unused token shows none" test -z "$(field tk-unused lastUsedUnixMs)"
as "$VIEWER" node ls
check "another use within the minute does not write again" test "$(field tk-viewer lastUsedUnixMs)" = "$used"
psql_dev "UPDATE api_tokens SET last_used_at = now() - interval '2 minutes' WHERE name = 'tk-viewer'" >/dev/null
old=$(field tk-viewer lastUsedUnixMs)
as "$VIEWER" node ls
check "a use after a minute updates it" test "$(field tk-viewer lastUsedUnixMs)" -gt "$old"

# --- revoke: refused at once on both transports
run token revoke tk-viewer
check "token revoke exits 0" rc_is 0
check "  ... and shows the token revoked" grep -q '^tk-viewer .* revoked *$' "$T/out"
as "$VIEWER" node ls
check "the revoked token is refused at once on gRPC" \
	fails_with "bearer token 'tk-viewer' has been revoked"
rest_as "$VIEWER" GET /api/nodes
check "  ... and on REST (401, code 16)" err_is 401 16
run token revoke tk-viewer
check "revoking it again changes nothing (exit 0)" rc_is 0
run token revoke tk-nosuch
check "revoking an unknown token is NOT_FOUND" fails_with "token 'tk-nosuch' not found"
api POST /api/tokens/tk-nosuch/revoke -d '{}'
check "  ... 404 over REST" err_is 404 5
api POST /api/tokens/tk-rest/revoke -d '{}'
check "POST /api/tokens/{name}/revoke answers 200" test "$CODE" = 200
check "  ... with the revocation time" test "$(jq_py 'int(d["revokedUnixMs"]) > 0')" = True
rest_as "$REST_TOKEN" GET /api/apps
check "  ... and the token is refused at once on REST" err_is 401 16
as "$REST_TOKEN" app ls
check "  ... and on gRPC" rc_is 1
run token create tk-viewer --role viewer
check "a revoked token's name stays taken" err_has "already exists"

# --- expiry: refused at once on both transports
run token create tk-short --role deployer --ttl 1m
SHORT=$(cat "$T/out")
as "$SHORT" app ls
check "a token with a 1m ttl works before it expires" rc_is 0
psql_dev "UPDATE api_tokens SET expires_at = now() - interval '1 second' WHERE name = 'tk-short'" >/dev/null
as "$SHORT" app ls
check "an expired token is refused on gRPC" \
	fails_with "bearer token 'tk-short' has expired"
rest_as "$SHORT" GET /api/apps
check "  ... and on REST (401, code 16)" err_is 401 16
run token ls
check "token ls shows it expired" grep -q '^tk-short .* expired *$' "$T/out"

# --- the last active admin token
run token revoke admin
check "an admin token may be revoked while another admin is active" rc_is 0
run token ls
check "the revoked bootstrap token is refused from then on" \
	fails_with "'admin' has been revoked"
ADMIN=$ADMIN2
as "$ADMIN2" token revoke tk-admin2
check "revoking the last active admin token is refused (exit 1)" rc_is 1
check "  ... as FAILED_PRECONDITION with a clear message" err_has "is the last active admin token"
rest_as "$ADMIN2" POST /api/tokens/tk-admin2/revoke -d '{}'
check "  ... and over REST (400, code 9)" err_is 400 9
as "$ADMIN2" token ls
check "  ... and that admin still works" rc_is 0
# An expired admin does not count as an active one.
as "$ADMIN2" token create tk-admin-old --role admin --ttl 1m
psql_dev "UPDATE api_tokens SET expires_at = now() - interval '1 second' WHERE name = 'tk-admin-old'" >/dev/null
as "$ADMIN2" token revoke tk-admin2
check "an expired admin token does not count as another admin" err_has "is the last active admin token"

# Two admins revoking each other at the same moment: one of them stays, every time.
lockout=0
for round in 1 2 3 4 5; do
	other=$(TOKEN_OVERRIDE=$ADMIN ovrctl token create "tk-race-$round" --role admin 2>/dev/null)
	mine=$(psql_dev "SELECT name FROM api_tokens WHERE role = 'admin' AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now()) AND name <> 'tk-race-$round'")
	TOKEN_OVERRIDE=$ADMIN ovrctl token revoke "tk-race-$round" >/dev/null 2>&1 &
	a=$!
	TOKEN_OVERRIDE=$other ovrctl token revoke "$mine" >/dev/null 2>&1 &
	b=$!
	wait $a
	ra=$?
	wait $b
	rb=$?
	active=$(psql_dev "SELECT count(*) FROM api_tokens WHERE role = 'admin' AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())")
	# Exactly one revocation wins; the other is refused (last admin, or its token revoked).
	[ "$active" = 1 ] && [ $((ra + rb)) = 1 ] || lockout=1
	[ "$rb" = 0 ] && ADMIN=$other
	log "round $round: revoke tk-race-$round exit $ra, revoke $mine exit $rb, active admins $active"
done
check "racing revocations never leave zero active admin tokens (5 rounds)" test $lockout = 0
TOKEN_OVERRIDE=$ADMIN run token ls
check "the remaining admin token works" rc_is 0

finish
