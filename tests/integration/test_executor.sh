# The agent's real compose executor against a real dockerd (ovr-executor-drive): labels, route
# (Traefik) labels on their service only, status through the Engine API, secrets only in the
# container's environment and masked in compose's output (plain values not), idempotent re-apply,
# only the changed service recreated, named volumes kept unless purged, compose's own errors.
. "$(dirname "$0")/lib.sh"

D=$BIN/ovr-executor-drive
PFX=ovrtest-$$
STATE=$T/state
SECRET="s3cret-$$-$RANDOM-value"
OUT=$T/out # every driver output, to check that the secret never appears in it
mkdir -p "$OUT"

bash "$SRC/scripts/start-dockerd" >"$T/dockerd.out" 2>&1 || { cat "$T/dockerd.out"; exit 1; }
bash "$SRC/scripts/make-test-image" >"$T/image.out" 2>&1 || { cat "$T/image.out"; exit 1; }

docker_cleanup() { docker_cleanup_prefix "$PFX"; }
trap 'docker_cleanup; cleanup' EXIT

# A loopback port nothing listens on.
free_port() {
	local p
	while :; do
		p=$((20000 + RANDOM % 30000))
		(exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
	done
}
PORT=$(free_port)

# drive NAME ARGS...: runs the driver, output in $OUT/NAME, exit code in RC.
drive() {
	local name=$1
	shift
	"$D" --state-dir "$STATE" --prefix "$PFX" --node n1 "$@" >"$OUT/$name" 2>"$OUT/$name.err"
	RC=$?
}
field() { sed -n "s/^  \"$2\": \(.*\),\{0,1\}$/\1/p" "$OUT/$1" | sed 's/,$//' | head -1; }
cid() { docker ps -q --no-trunc --filter "label=com.docker.compose.project=$PFX-$1" \
	--filter "label=com.docker.compose.service=$2"; }
label() { docker inspect -f "{{index .Config.Labels \"$2\"}}" "$1"; }

stack() { # stack IMAGE_TAG_OF_WEB
	cat <<EOF
services:
  web:
    image: ovr-test/busybox:$1
    init: true
    command: ["httpd", "-f", "-p", "80", "-h", "/var/www"]
    environment:
      - OVR_SECRET
      - PLAIN=visible
    ports:
      - "127.0.0.1:$PORT:80"
    volumes:
      - data:/data
  side:
    image: ovr-test/busybox:1
    init: true
    command: ["sleep", "3600"]
volumes:
  data: {}
EOF
}
stack 1 >"$T/v1.yaml"
stack 2 >"$T/v2.yaml"

ROUTE1="web,shop.example.test,80,/,tls"
ROUTE2="web,shop.example.test,80,/shop"
RULE1='Host(`shop.example.test`)'
RULE2='Host(`shop.example.test`) && PathPrefix(`/shop`)'

# --- apply v1 ---
drive apply1 apply web 1 "$T/v1.yaml" "OVR_SECRET=$SECRET" --secret OVR_SECRET --route "$ROUTE1"
check "apply v1 succeeds" test "$RC" -eq 0
log "apply v1 (create network, volume, 2 containers): $(field apply1 elapsed_ms) ms"
WEB1=$(cid web web)
SIDE1=$(cid web side)
check "apply v1 runs a web and a side container" test -n "$WEB1" -a -n "$SIDE1"
check "io.overseer.app label" test "$(label "$WEB1" io.overseer.app)" = web
check "io.overseer.version label" test "$(label "$SIDE1" io.overseer.version)" = 1
check "io.overseer.node label" test "$(label "$WEB1" io.overseer.node)" = n1
check "route: traefik.enable on web" test "$(label "$WEB1" traefik.enable)" = true
check "route: the router's rule" test "$(label "$WEB1" traefik.http.routers.ovr-web-web-0.rule)" = "$RULE1"
check "route: the router's service" test "$(label "$WEB1" traefik.http.routers.ovr-web-web-0.service)" = ovr-web-web-0
check "route: tls" test "$(label "$WEB1" traefik.http.routers.ovr-web-web-0.tls)" = true
check "route: the service's port" test "$(label "$WEB1" traefik.http.services.ovr-web-web-0.loadbalancer.server.port)" = 80
check "route: no traefik label on side" bash -c "! docker inspect -f '{{json .Config.Labels}}' '$SIDE1' | grep -q traefik"
check "the user's compose file is stored byte for byte" cmp -s "$T/v1.yaml" "$STATE/apps/web/1/compose.yaml"
check "the override file has no environment" bash -c "! grep -qi 'environment\|PLAIN\|OVR_SECRET' '$STATE/apps/web/1/ovr.override.yaml'"

drive status1 status web
check "status succeeds" test "$RC" -eq 0
check "status lists 2 running containers" test "$(grep -c '"state": "running"' "$OUT/status1")" -eq 2
check "status names the services" bash -c "grep -q '\"service\": \"web\"' '$OUT/status1' && grep -q '\"service\": \"side\"' '$OUT/status1'"
check "status shows the published port" grep -q "\"127.0.0.1:$PORT->80/tcp\"" "$OUT/status1"
check "status shows the container id" grep -q "\"id\": \"$WEB1\"" "$OUT/status1"
check "status has a start time" bash -c "grep -q '\"started_unix_ms\": [1-9]' '$OUT/status1'"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$PORT/" || true)
check "the web service answers HTTP on loopback ($code)" test "$code" = 404 -o "$code" = 200

check "the environment reaches the container" bash -c "docker exec '$WEB1' env | grep -qx 'OVR_SECRET=$SECRET'"
check "the secret is in no file under the state dir" bash -c "! grep -rqF -- '$SECRET' '$STATE'"
docker exec "$WEB1" sh -c 'echo kept-data >/data/f'

# --- re-apply of the same version: the same routes write the same labels ---
drive apply1b apply web 1 "$T/v1.yaml" "OVR_SECRET=$SECRET" --secret OVR_SECRET --route "$ROUTE1"
check "re-apply v1 succeeds" test "$RC" -eq 0
log "re-apply v1 (nothing to do): $(field apply1b elapsed_ms) ms"
check "re-apply keeps the web container" test "$(cid web web)" = "$WEB1"
check "re-apply keeps the side container" test "$(cid web side)" = "$SIDE1"
check "compose says up-to-date" grep -q "up-to-date" "$OUT/apply1b"

# --- v2 changes web's image only ---
drive apply2 apply web 2 "$T/v2.yaml" "OVR_SECRET=$SECRET" --secret OVR_SECRET --route "$ROUTE1"
check "apply v2 succeeds" test "$RC" -eq 0
log "apply v2 (recreate one service): $(field apply2 elapsed_ms) ms"
WEB2=$(cid web web)
check "apply v2 recreates web" test -n "$WEB2" -a "$WEB2" != "$WEB1"
check "apply v2 leaves side untouched" test "$(cid web side)" = "$SIDE1"
check "web runs image 2" test "$(docker exec "$WEB2" cat /etc/ovr-test-version)" = 2
check "web is labelled version 2" test "$(label "$WEB2" io.overseer.version)" = 2
check "side keeps version 1 (unchanged since)" test "$(label "$SIDE1" io.overseer.version)" = 1
check "the volume's data survives apply v2" test "$(docker exec "$WEB2" cat /data/f)" = kept-data
check "web keeps its route labels" test "$(label "$WEB2" traefik.http.routers.ovr-web-web-0.rule)" = "$RULE1"

# --- v3: the same file, another route: only web is recreated, with the new rule ---
drive apply3r apply web 3 "$T/v2.yaml" "OVR_SECRET=$SECRET" --secret OVR_SECRET --route "$ROUTE2"
check "apply v3 (route changed) succeeds" test "$RC" -eq 0
WEB3=$(cid web web)
check "a route change recreates web" test -n "$WEB3" -a "$WEB3" != "$WEB2"
check "a route change leaves side untouched" test "$(cid web side)" = "$SIDE1"
check "web has the new rule" test "$(label "$WEB3" traefik.http.routers.ovr-web-web-0.rule)" = "$RULE2"
check "web no longer has tls" test -z "$(label "$WEB3" traefik.http.routers.ovr-web-web-0.tls)"
check "web is labelled version 3 (its route changed)" test "$(label "$WEB3" io.overseer.version)" = 3
check "side still says version 1" test "$(label "$SIDE1" io.overseer.version)" = 1
drive apply3b apply web 3 "$T/v2.yaml" "OVR_SECRET=$SECRET" --secret OVR_SECRET --route "$ROUTE2"
check "re-apply v3 keeps web" test "$(cid web web)" = "$WEB3"

# --- masking: exactly the secret values are replaced in compose's output ---
# The image name comes from the environment, so compose's error repeats the value.
IMGWORD="nosuchimg$$x$RANDOM"
sed "s#ovr-test/busybox:1#ovr-test/\${IMG}:1#" "$T/v1.yaml" | sed "s/$PORT:80/$(free_port):80/" >"$T/envimage.yaml"
drive plainimg apply masked 1 "$T/envimage.yaml" "OVR_SECRET=$SECRET" "IMG=$IMGWORD" --secret OVR_SECRET
check "an image named by a plain variable fails" test "$RC" -eq 1
check "a plain value is not masked in the message" grep -q "$IMGWORD" "$OUT/plainimg"
drive secretimg apply masked 2 "$T/envimage.yaml" "OVR_SECRET=$SECRET" "IMG=$IMGWORD" --secret IMG --secret OVR_SECRET
check "an image named by a secret fails" test "$RC" -eq 1
check "a secret value is masked in the message and output" bash -c "! grep -q '$IMGWORD' '$OUT/secretimg' && grep -q 'ovr-test/\*\*\*' '$OUT/secretimg'"
drive masked_rm remove masked --purge
check "remove of the masked app succeeds" test "$RC" -eq 0

# --- compose failures reach the result with compose's own words ---
sed 's#ovr-test/busybox:1#ovr-test/no-such-image:1#' "$T/v1.yaml" | sed "s/$PORT:80/$(free_port):80/" >"$T/missing.yaml"
drive missing apply broken 1 "$T/missing.yaml"
check "a missing image fails" test "$RC" -eq 1
check "the result says ok: false" grep -q '"ok": false' "$OUT/missing"
check "the message is compose's, naming the image" grep -q 'no-such-image' "$OUT/missing"
log "missing image message: $(field missing message | cut -c1-200)"
drive broken_rm remove broken --purge

drive clash apply clash 1 "$T/v1.yaml" "OVR_SECRET=$SECRET" --secret OVR_SECRET
check "a busy host port fails" test "$RC" -eq 1
check "the message says the port is already allocated" grep -q "port is already allocated" "$OUT/clash"
drive clash_rm remove clash --purge
check "removing the failed app succeeds" test "$RC" -eq 0

check "the secret never appears in the driver's output" bash -c "! grep -rqF -- '$SECRET' '$OUT'"

# --- remove keeps volumes unless purged ---
drive rm1 remove web
check "remove succeeds" test "$RC" -eq 0
log "remove (2 containers, network): $(field rm1 elapsed_ms) ms"
check "remove stops every container" test -z "$(docker ps -aq --filter "label=com.docker.compose.project=$PFX-web")"
check "remove removes the network" test -z "$(docker network ls -q --filter "name=$PFX-web_")"
check "remove keeps the named volume" bash -c "docker volume inspect '$PFX-web_data' >/dev/null"
check "remove deletes the app's files" test ! -e "$STATE/apps/web"
drive apply4 apply web 4 "$T/v2.yaml" "OVR_SECRET=$SECRET" --secret OVR_SECRET
check "the volume's data survives a remove" test "$(docker exec "$(cid web web)" cat /data/f)" = kept-data
drive rm2 remove web --purge
check "remove --purge succeeds" test "$RC" -eq 0
log "remove --purge: $(field rm2 elapsed_ms) ms"
check "remove --purge deletes the volume" bash -c "! docker volume inspect '$PFX-web_data' >/dev/null 2>&1"
drive status0 status web
check "status of a removed app lists no containers" bash -c "test $RC -eq 0 && grep -q '\"containers\": \[\]' '$OUT/status0'"

# --- a remove with no files on disk, and bad names ---
docker run -d --name "$PFX-ghost_x_1" --label "com.docker.compose.project=$PFX-ghost" \
	--label com.docker.compose.service=x --label com.docker.compose.oneoff=False \
	ovr-test/busybox:1 sleep 3600 >/dev/null
drive ghost remove ghost
check "remove without files removes the project's containers" test "$RC" -eq 0 -a -z "$(docker ps -aq --filter "name=$PFX-ghost")"
drive bad apply ../x 1 "$T/v1.yaml"
check "an app name ../x is refused" bash -c "test $RC -eq 1 && grep -q 'must match' '$OUT/bad'"
drive bad2 remove 'a;rm -rf'
check "an app name a;rm -rf is refused" bash -c "test $RC -eq 1 && grep -q 'must match' '$OUT/bad2'"

check "no sanitizer report from the driver" bash -c "! grep -l 'runtime error\|Sanitizer' '$OUT'/*.err"

docker_cleanup
check "nothing is left behind" test -z "$(docker ps -aq --filter "name=$PFX-")$(docker volume ls -q --filter "name=$PFX-")$(docker network ls -q --filter "name=$PFX-")"
finish
