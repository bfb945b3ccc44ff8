# Secrets, node variables, service discovery and Traefik routes with a real agent and dockerd
# (issue 5): a container sees its secret and node variables; a redeploy after `secret set` sees the
# new value and a rollback the old one; a missing secret fails the deploy before anything reaches
# a node; discovery and `app endpoints` list another app's published port; route labels are on the
# running container; and a planted value appears nowhere: logs, API answers, agent state, database.
. "$(dirname "$0")/lib.sh"

use_docker ovrit-s1

PLANT1="ovr-planted-$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n')-one"
PLANT2="ovr-planted-$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n')-two"

cat >"$T/vault.yaml" <<'YAML'
services:
  app:
    image: ovr-test/busybox:1
    init: true
    command: ["sleep", "86400"]
    stop_grace_period: 1s
    environment:
      DB_PASS: ${DB_PASS}
      NODE: ${OVR_NODE_NAME}
      ZONE: ${OVR_NODE_LABEL_ZONE}
      APP_VERSION: ${OVR_APP_VERSION}
      PEER: ${OVR_DISCOVERY_PEER_WEB:-none}
  web:
    image: ovr-test/busybox:1
    init: true
    command: ["httpd", "-f", "-p", "80", "-h", "/etc"]
    stop_grace_period: 1s
YAML
cat >"$T/peer.yaml" <<'YAML'
services:
  web:
    image: ovr-test/busybox:1
    init: true
    command: ["httpd", "-f", "-p", "80", "-h", "/etc"]
    stop_grace_period: 1s
    ports: ["127.0.0.1::80"]
YAML

cid() { docker ps -q --no-trunc --filter "label=com.docker.compose.project=ovrit-s1-$1" \
	--filter "label=com.docker.compose.service=$2"; }
in_app() { docker exec "$(cid vault app)" env 2>/dev/null | sed -n "s/^$1=//p"; }
HEALTH='health={"minHealthyTimeMs": "1000", "healthyDeadlineMs": "120000"}'
# Every API answer is kept, for the leak check at the end.
keep() { cat "$T/body" >>"$T/answers" 2>/dev/null; }

start_server --rest-listen 127.0.0.1:0 || exit 1
rest_port
enroll s1 zone=eu-1
start_agent s1
check "the agent connects" wait_state s1 connected 60

# --- store a secret: from stdin, never argv
printf '%s\n' "$PLANT1" | ovrctl secret set db-pass >"$T/out" 2>&1
check "secret set stores version 1" grep -q 'version 1' "$T/out"
cat "$T/out" >>"$T/answers"
ovrctl secret set db-pass "$PLANT1" >"$T/out" 2>&1
check "secret set refuses a value on the command line (exit 2)" test $? -eq 2
ovrctl secret ls >"$T/out" 2>&1
check "secret ls lists it" grep -q 'db-pass' "$T/out"
cat "$T/out" >>"$T/answers"

# --- deploy an app that uses it, with a route
body "$T/vault.yaml" 'name="vault"' 'targets={"nodes": ["s1"]}' 'deploy=True' "$HEALTH" \
	'secrets=[{"env": "DB_PASS", "secret": "db-pass"}]' \
	'routes=[{"service": "web", "host": "vault.example.test", "port": 80, "pathPrefix": "/", "tls": True}]'
api POST /api/apps --data-binary "@$T/req.json"
keep
check "an app with a secret reference and a route is created" test "$CODE" = 200
check "  ... its version pins the secret's version 1" \
	test "$(jq_py 'd["version"]["secrets"][0]["version"]')" = 1
wait_deployment "$(jq_py 'd["deployment"]["id"]')" 150
check "  ... and deploys" test "$DSTATE" = DEPLOYMENT_STATE_SUCCEEDED
check "the container sees the secret" test "$(in_app DB_PASS)" = "$PLANT1"
check "  ... the node name" test "$(in_app NODE)" = s1
check "  ... the node label" test "$(in_app ZONE)" = eu-1
check "  ... and the app version" test "$(in_app APP_VERSION)" = 1
rule=$(docker inspect -f '{{index .Config.Labels "traefik.http.routers.ovr-vault-web-0.rule"}}' "$(cid vault web)")
check "the web container carries the Traefik router rule" test "$rule" = 'Host(`vault.example.test`)'
port=$(docker inspect -f '{{index .Config.Labels "traefik.http.services.ovr-vault-web-0.loadbalancer.server.port"}}' "$(cid vault web)")
check "  ... the service port" test "$port" = 80
check "  ... and tls" test "$(docker inspect -f '{{index .Config.Labels "traefik.http.routers.ovr-vault-web-0.tls"}}' "$(cid vault web)")" = true

# --- rotate: running apps keep the old value until the next deploy
printf '%s' "$PLANT2" | ovrctl secret set db-pass >"$T/out" 2>&1
check "a second set makes version 2" grep -q 'version 2' "$T/out"
sleep 2
check "  ... and the running container still has the old value" test "$(in_app DB_PASS)" = "$PLANT1"
ovrctl deploy vault --wait --timeout 3m >"$T/out" 2>&1
check "deploy without a file picks up the new secret version" test $? -eq 0
cat "$T/out" >>"$T/answers"
check "  ... the container sees the new value" test "$(in_app DB_PASS)" = "$PLANT2"
api GET /api/apps/vault/versions/2
keep
check "  ... version 2 pins secret version 2" test "$(jq_py 'd["secrets"][0]["version"]')" = 2
ovrctl rollback vault --to 1 --wait --timeout 3m >"$T/out" 2>&1
check "a rollback to version 1 succeeds" test $? -eq 0
cat "$T/out" >>"$T/answers"
check "  ... and restores the old secret value" test "$(in_app DB_PASS)" = "$PLANT1"

# --- a missing secret fails the deploy before anything reaches a node
api GET /api/apps/vault/versions
before=$(jq_py 'len(d["versions"])')
body "" 'secrets=[{"env": "API_KEY", "secret": "no-such-secret"}]' 'replaceSecrets=True'
api POST /api/apps/vault/deploy --data-binary "@$T/req.json"
keep
check "a reference to a missing secret is refused (FAILED_PRECONDITION)" \
	test "$CODE:$(jq_py 'd["code"]')" = 400:9
check "  ... naming the secret" grep -q "no-such-secret" "$T/body"
api GET /api/apps/vault/versions
check "  ... and makes no version" test "$(jq_py 'len(d["versions"])')" = "$before"
ovrctl secret rm db-pass >"$T/out" 2>&1
check "secret rm refuses a secret the current version uses" test $? -eq 1
check "  ... naming the app" grep -q vault "$T/out"

# --- service discovery: another app's published port
body "$T/peer.yaml" 'name="peer"' 'targets={"nodes": ["s1"]}' 'deploy=True' "$HEALTH"
api POST /api/apps --data-binary "@$T/req.json"
keep
wait_deployment "$(jq_py 'd["deployment"]["id"]')" 150
check "a second app with a published port deploys" test "$DSTATE" = DEPLOYMENT_STATE_SUCCEEDED
peer_port=$(docker port "$(cid peer web)" 80/tcp | head -1)
endpoints_listed() { ovrctl app endpoints peer >"$T/out" 2>&1 && grep -q "$peer_port" "$T/out"; }
check "app endpoints lists its address ($peer_port)" wait_for 30 endpoints_listed
ovrctl deploy vault --wait --timeout 3m >"$T/out" 2>&1
check "the consumer's next deploy sees it as OVR_DISCOVERY_PEER_WEB" \
	test "$(in_app PEER)" = "$peer_port"
body "" 'routes=[{"service": "web", "host": "VAULT.example.test", "port": 80}]' 'replaceRoutes=True'
api POST /api/apps/peer/deploy --data-binary "@$T/req.json"
keep
check "a second app claiming the same host and path on the node is refused" \
	test "$CODE:$(jq_py 'd["code"]')" = 400:9
check "  ... naming the app that has it" grep -q "vault" "$T/body"

# --- the planted values appear nowhere but as ciphertext
api GET /api/apps/vault
keep
api GET /api/apps/vault/versions
keep
api GET /api/secrets
keep
ovrctl version show vault 1 >>"$T/answers" 2>&1
su postgres -s /bin/sh -c "pg_dump -h '$T/srv/postgres/run' -d overseer" >"$T/dump.sql" 2>"$T/dump.err"
check "the database dump is taken" test -s "$T/dump.sql"
check "  ... and holds ciphertext rows" grep -q 'secret_versions' "$T/dump.sql"
for p in "$PLANT1" "$PLANT2"; do
	check "no planted value in the server log" sh -c "! grep -qF -- '$p' '$T/server.log'"
	check "no planted value in the agent log" sh -c "! grep -qF -- '$p' '$T/agent-s1.log'"
	check "no planted value in any API answer" sh -c "! grep -qF -- '$p' '$T/answers'"
	check "no planted value in the agent's state directory" sh -c "! grep -rqF -- '$p' '$T/agents'"
	check "no planted value in the database dump" sh -c "! grep -qF -- '$p' '$T/dump.sql'"
done

ovrctl secret rm db-pass --force >"$T/out" 2>&1
check "secret rm --force removes it anyway" test $? -eq 0
ovrctl secret ls >"$T/out" 2>&1
check "  ... and it is gone from the list" sh -c "! grep -q db-pass '$T/out'"
ovrctl deploy peer -m "after the removal" --wait --timeout 3m >"$T/out" 2>&1
check "  ... and the node still gets its other apps' deploys" test $? -eq 0
check "  ... while the app that used it keeps running with its value" test "$(in_app DB_PASS)" = "$PLANT2"
check "  ... and the server says what it left out" \
	grep -q 'secret db-pass version 2 was removed; sent without DB_PASS' "$T/server.log"

finish
