# The Apps service over REST, with no agents: create, get, list, immutable
# versions byte for byte, deploy with expected_version and request_id, concurrent deploys, rollback,
# diff, soft delete.
. "$(dirname "$0")/lib.sh"

FIX=$SRC/../shared/fixtures/compose
start_server --rest-listen 127.0.0.1:0 || exit 1
check "the server logs the REST port" rest_port

is_code() { [ "$CODE" = "$1" ]; }
body_has() { grep -q -- "$1" "$T/body"; }
err_is() { [ "$CODE" = "$1" ] && [ "$(jq_py 'd["code"]')" = "$2" ]; }
versions() { api GET /api/apps/shop/versions && jq_py '[int(v["version"]) for v in d["versions"]]'; }

cp "$FIX/three-tier.yaml" "$T/v1.yaml"
sed 's#shop/backend:1.4.2#shop/backend:1.5.0#' "$T/v1.yaml" >"$T/v2.yaml"

# --- create
body "$T/v1.yaml" 'name="shop"' 'targets={"nodes": ["web-1"], "selector": "role=web"}' \
	'environment={"TAG": "1", "MODE": "prod"}' 'message="first"' 'deploy=True'
api POST /api/apps --data-binary "@$T/req.json"
check "POST /api/apps creates the app (200)" is_code 200
check "  ... at version 1, current 1" \
	test "$(jq_py 'd["version"]["version"] + " " + d["app"]["currentVersion"]')" = "1 1"
check "  ... authored by the admin token, kind deploy" \
	test "$(jq_py 'd["version"]["author"] + " " + d["version"]["kind"]')" = "admin DEPLOYMENT_KIND_DEPLOY"
check "  ... with a SHA-256 content hash" \
	test "$(jq_py 'len(d["version"]["contentHash"])')" = 64
check "  ... and a deployment that ends at once: no node is enrolled" \
	test "$(jq_py 'd["deployment"]["state"] + " " + d["deployment"]["reason"]')" = "DEPLOYMENT_STATE_SUCCEEDED no node is targeted"
api POST /api/apps --data-binary "@$T/req.json"
check "creating it again is 409 ALREADY_EXISTS" err_is 409 6
body "$T/v1.yaml" 'name="../x"'
api POST /api/apps --data-binary "@$T/req.json"
check "an app named ../x is refused (400)" err_is 400 3
body "$T/v1.yaml" 'name="a;rm -rf"'
api POST /api/apps --data-binary "@$T/req.json"
check "an app named 'a;rm -rf' is refused (400)" err_is 400 3
body "$T/v1.yaml" 'name="envbad"' 'environment={"1X": "y"}'
api POST /api/apps --data-binary "@$T/req.json"
check "a bad environment name is 400 naming environment" sh -c "[ $CODE = 400 ] && grep -q environment '$T/body'"
printf 'services:\n  web:\n    ports: ["80"]\n' >"$T/noimage.yaml"
body "$T/noimage.yaml" 'name="broken"'
api POST /api/apps --data-binary "@$T/req.json"
check "a compose file without image is 400" err_is 400 3
check "  ... naming the line" body_has 'line [0-9]'
api GET /api/apps/broken
check "  ... and creates no app" err_is 404 5

# --- read
api GET /api/apps/shop
check "GET /api/apps/{name} answers 200" is_code 200
check "  ... with its targets" \
	test "$(jq_py 'd["targets"]["nodes"][0] + " " + d["targets"]["selector"]')" = "web-1 role=web"
api GET /api/apps
check "GET /api/apps lists shop" test "$(jq_py '[a["name"] for a in d["apps"]]')" = "['shop']"
api GET /api/apps/nosuch
check "an unknown app is 404 naming it" sh -c "[ $CODE = 404 ] && grep -q nosuch '$T/body'"

# --- deploy
body "$T/v2.yaml" 'message="backend 1.5.0"'
api POST /api/apps/shop/deploy --data-binary "@$T/req.json"
check "deploy with a new compose file creates version 2" test "$(jq_py 'd["version"]["version"]')" = 2
body "" 'replaceEnvironment=True' 'environment={"TAG": "3"}'
api POST /api/apps/shop/deploy --data-binary "@$T/req.json"
check "deploy with a new environment creates version 3" test "$(jq_py 'd["version"]["version"]')" = 3
check "  ... with that environment only" test "$(jq_py 'd["version"]["environment"]')" = "{'TAG': '3'}"
check "versions are listed newest first" test "$(versions)" = "[3, 2, 1]"
check "  ... without their compose files" test "$(jq_py 'any(v.get("composeYaml") for v in d["versions"])')" = False
api GET '/api/apps/shop/versions?page_size=2'
check "a page of 2 has a next page token" \
	test "$(jq_py '[int(v["version"]) for v in d["versions"]]') $(jq_py 'd["nextPageToken"]')" = "[3, 2] 2"
api GET '/api/apps/shop/versions?page_size=2&page_token=2'
check "  ... and the next page holds version 1" test "$(jq_py '[int(v["version"]) for v in d["versions"]]')" = "[1]"
api GET /api/apps/shop/versions/2
check "GetVersion answers 200" is_code 200
jq_py 'd["composeYaml"]' >/dev/null && python3 -c 'import json,sys; sys.stdout.write(json.load(open(sys.argv[1]))["composeYaml"])' "$T/body" >"$T/got2.yaml"
check "  ... with the compose file byte for byte" cmp -s "$T/got2.yaml" "$T/v2.yaml"
api GET /api/apps/shop/versions/1
python3 -c 'import json,sys; sys.stdout.write(json.load(open(sys.argv[1]))["composeYaml"])' "$T/body" >"$T/got1.yaml"
check "version 1 still holds the original file" cmp -s "$T/got1.yaml" "$T/v1.yaml"
api GET /api/apps/shop/versions/3
h3=$(jq_py 'd["contentHash"]')
api GET /api/apps/shop/versions/99
check "an unknown version is 404 naming app and version" \
	sh -c "[ $CODE = 404 ] && grep -q shop '$T/body' && grep -q 99 '$T/body'"

body "$T/noimage.yaml"
api POST /api/apps/shop/deploy --data-binary "@$T/req.json"
check "deploying an invalid compose file is 400 naming the line" \
	sh -c "[ $CODE = 400 ] && grep -q 'line [0-9]' '$T/body'"
check "  ... and creates no version" test "$(versions)" = "[3, 2, 1]"

body "" 'expectedVersion="2"'
api POST /api/apps/shop/deploy --data-binary "@$T/req.json"
check "expected_version 2 while at 3 is 409 ABORTED" err_is 409 10
check "  ... with the message naming both" body_has 'expected version 2 but the app is at 3'
body "" 'expectedVersion="3"' 'requestId="retry-1"'
api POST /api/apps/shop/deploy --data-binary "@$T/req.json"
check "expected_version 3 deploys version 4" test "$(jq_py 'd["version"]["version"]')" = 4
check "  ... with the same content hash as 3 (same closure)" test "$(jq_py 'd["version"]["contentHash"]')" = "$h3"
api POST /api/apps/shop/deploy --data-binary "@$T/req.json"
check "the same request_id again returns version 4" test "$(jq_py 'd["version"]["version"]')" = 4
check "  ... and creates no version" test "$(versions)" = "[4, 3, 2, 1]"

# --- concurrent deploys: each gets its own number
body "" 'message="concurrent"'
pids=()
for i in 1 2 3 4 5; do
	curl -sS --cacert "$T/srv/pki/ca.crt" --max-time 20 -H "Authorization: Bearer $(cat "$T/srv/admin.token")" \
		-X POST --data-binary "@$T/req.json" "https://127.0.0.1:$REST_PORT/api/apps/shop/deploy" >"$T/c$i.json" 2>/dev/null &
	pids+=($!)
done
wait "${pids[@]}" # not a bare wait: the server is a background job too
got=$(for i in 1 2 3 4 5; do python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["version"]["version"])' "$T/c$i.json"; done | sort -n | tr '\n' ' ')
check "5 concurrent deploys get versions 5 to 9 ($got)" test "$got" = "5 6 7 8 9 "
api GET /api/apps/shop
check "  ... and the app is at 9" test "$(jq_py 'd["currentVersion"]')" = 9

# --- rollback
body "" 'toVersion="1"' 'message="back to 1"'
api POST /api/apps/shop/rollback --data-binary "@$T/req.json"
check "rollback to 1 creates version 10" test "$(jq_py 'd["version"]["version"]')" = 10
check "  ... with rollbackOf 1 and kind rollback" \
	test "$(jq_py 'd["version"]["rollbackOf"] + " " + d["version"]["kind"]')" = "1 DEPLOYMENT_KIND_ROLLBACK"
api GET /api/apps/shop/versions/10
python3 -c 'import json,sys; sys.stdout.write(json.load(open(sys.argv[1]))["composeYaml"])' "$T/body" >"$T/got10.yaml"
check "  ... holding version 1's compose file" cmp -s "$T/got10.yaml" "$T/v1.yaml"
check "  ... and version 1's environment" test "$(jq_py 'sorted(d["environment"].items())')" = "[('MODE', 'prod'), ('TAG', '1')]"
api POST /api/apps/shop/rollback -d '{}'
check "a rollback without to_version goes to the previous version (11 of 9)" \
	test "$(jq_py 'd["version"]["version"] + " " + d["version"]["rollbackOf"]')" = "11 9"
api POST /api/apps/shop/rollback -d '{"toVersion": "11"}'
check "rolling back to the current version is 400" err_is 400 3
api POST /api/apps/shop/rollback -d '{"toVersion": "-1"}'
check "rolling back to a negative version is 400" err_is 400 3

# --- diff
api GET '/api/apps/shop/diff?from_version=1&to_version=2'
check "DiffVersions answers 200" is_code 200
jq_py 'd["diff"]' >"$T/diff.txt"
check "  ... showing the changed image line" \
	sh -c "grep -q '^-    image: shop/backend:1.4.2' '$T/diff.txt' && grep -q '^+    image: shop/backend:1.5.0' '$T/diff.txt'"
check "  ... in a hunk" grep -q '^@@ -' "$T/diff.txt"
api GET '/api/apps/shop/diff?from_version=2&to_version=3'
jq_py 'd["diff"]' >"$T/diff.txt"
check "the environment change shows as lines" \
	sh -c "grep -q '^-MODE=prod' '$T/diff.txt' && grep -q '^+TAG=3' '$T/diff.txt'"
api GET '/api/apps/shop/diff?from_version=3&to_version=4'
check "versions with the same closure have an empty diff" test "$(jq_py 'd.get("diff", "")')" = ""

# --- delete
api DELETE /api/apps/shop -d '{"requestId": "del-1"}'
check "DELETE /api/apps/{name} answers 200" is_code 200
removal=$(jq_py 'd["deployment"]["id"]')
api DELETE /api/apps/shop -d '{"requestId": "del-1"}'
check "  ... a retry with the same request_id answers the same removal" \
	test "$CODE $(jq_py 'd["deployment"]["id"]')" = "200 $removal"
api DELETE /api/apps/shop -d '{"requestId": "del-2"}'
check "  ... another delete is 404" err_is 404 5
api GET /api/apps/shop
check "a deleted app is 404" err_is 404 5
api GET /api/apps/shop/versions
check "  ... and so are its versions" err_is 404 5
body "" 'message="x"'
api POST /api/apps/shop/deploy --data-binary "@$T/req.json"
check "  ... and deploying it" err_is 404 5
api GET /api/apps
check "  ... and it is not listed" test "$(jq_py 'len(d.get("apps", []))')" = 0
body "$T/v1.yaml" 'name="shop"'
api POST /api/apps --data-binary "@$T/req.json"
check "its name stays taken (409), so history is never rewritten" err_is 409 6
finish
