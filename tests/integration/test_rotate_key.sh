# Master key rotation (issue 5): `ovr-server rotate-master-key` next to a running dev server
# re-wraps every data key under a new master.key; the server seals under the new key and opens
# the re-wrapped secrets without a restart and after one; a row it cannot re-wrap stops it at
# step 2 with no row changed, and the next run resumes with the key already written; with the dev
# server down it says so and changes nothing.
. "$(dirname "$0")/lib.sh"

use_docker ovrit-r1

PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
sql() { "$PGBIN/psql" -h "$T/srv/postgres/run" -U postgres -d overseer -Atc "$1"; }
# The id of a key file as docs/security.md defines it: SHA-256 of the 32 bytes, 16 hex digits.
key_id() {
	python3 -c 'import hashlib, sys; print(hashlib.sha256(bytes.fromhex(open(sys.argv[1]).read().strip())).hexdigest()[:16])' "$1"
}
row_ids() { sql "SELECT string_agg(DISTINCT key_id, ',') FROM secret_versions"; }
rotate() { "$BIN/ovr-server" rotate-master-key --dev --data-dir "$T/srv" >"$T/rotate.out" 2>&1; }
cid() { docker ps -q --no-trunc --filter "label=com.docker.compose.project=ovrit-r1-vault" \
	--filter "label=com.docker.compose.service=app"; }
in_app() { docker exec "$(cid)" env 2>/dev/null | sed -n "s/^$1=//p"; } # (no printenv in busybox)
app_sees() { [ "$(in_app "$1")" = "$2" ]; } # app_sees VAR VALUE
K=$T/srv/master.key

rand_hex() { head -c "$1" /dev/urandom | od -An -tx1 | tr -d ' \n'; }
PLANT1=ovr-rk-$(rand_hex 8)-one
PLANT2=ovr-rk-$(rand_hex 8)-two
PLANT3=ovr-rk-$(rand_hex 8)-three
cat >"$T/vault.yaml" <<'YAML'
services:
  app:
    image: ovr-test/busybox:1
    init: true
    command: ["sleep", "86400"]
    stop_grace_period: 1s
    environment:
      DB_PASS: ${DB_PASS}
      API_KEY: ${API_KEY}
YAML

start_server --rest-listen 127.0.0.1:0 || exit 1
enroll r1
start_agent r1
check "the agent connects" wait_state r1 connected 60
printf '%s' "$PLANT1" | ovrctl secret set db-pass >/dev/null 2>&1
printf '%s' "$PLANT2" | ovrctl secret set api-key >/dev/null 2>&1
body "$T/vault.yaml" 'name="vault"' 'targets={"nodes": ["r1"]}' 'deploy=True' \
	'secrets=[{"env": "DB_PASS", "secret": "db-pass"}, {"env": "API_KEY", "secret": "api-key"}]'
api POST /api/apps --data-binary "@$T/req.json"
check "an app using two secrets is created" test "$CODE" = 200
check "  ... and its container sees them" wait_for 120 app_sees API_KEY "$PLANT2"
old_id=$(key_id "$K")
old_key=$(cat "$K")
check "both rows are sealed under the current key ($old_id)" test "$(row_ids)" = "$old_id"

# --- rotate next to the running server
rotate
check "rotate-master-key succeeds" test $? -eq 0
sed 's/^/#   /' "$T/rotate.out"
check "  ... re-wrapping both data keys" grep -q "re-wrapped 2 data keys" "$T/rotate.out"
new_id=$(key_id "$K")
check "  ... master.key holds a new key ($new_id)" test "$new_id" != "$old_id"
check "  ... mode 0600" test "$(stat -c %a "$K")" = 600
check "  ... every row is under the new key" test "$(row_ids)" = "$new_id"
check "  ... no .next left, and .prev removed (no row uses it)" \
	test ! -e "$K.next" -a ! -e "$K.prev"
check "  ... no key bytes printed" sh -c "! grep -qiF -e '$old_key' -e '$(cat "$K")' '$T/rotate.out'"

# --- the running server seals under the new key and opens the re-wrapped rows
printf '%s' "$PLANT3" | ovrctl secret set db-pass >/dev/null 2>&1
check "a secret set after the rotation is sealed under the new key" \
	test "$(sql "SELECT key_id FROM secret_versions WHERE name = 'db-pass' AND version = 2")" = "$new_id"
ovrctl deploy vault --wait --timeout 3m >"$T/out" 2>&1
check "a deploy without a restart succeeds" test $? -eq 0
check "  ... the container sees the new value" test "$(in_app DB_PASS)" = "$PLANT3"
check "  ... and the re-wrapped one" test "$(in_app API_KEY)" = "$PLANT2"

# --- and after a restart, which forgets the old key
stop_server TERM
start_server --rest-listen 127.0.0.1:0 || exit 1
check "the agent reconnects" wait_state r1 connected 60
ovrctl rollback vault --to 1 --wait --timeout 3m >"$T/out" 2>&1
check "a rollback to the versions sealed before the rotation succeeds" test $? -eq 0
check "  ... and restores their values" test "$(in_app DB_PASS)" = "$PLANT1"

# --- a row under a key no file holds stops the rotation at step 2; the next run resumes
rows() { sql "SELECT string_agg(name || version || key_id, ',' ORDER BY name, version) FROM secret_versions"; }
before=$(rows)
sql "UPDATE secret_versions SET key_id = '00000000000000ff' WHERE name = 'db-pass' AND version = 2" >/dev/null
rotate
check "a row under an unknown key fails the rotation (exit 1)" test $? -eq 1
check "  ... at step 2, naming the row and the key id" grep -q \
	"step 2 (re-wrap the data keys): secret db-pass version 2 is sealed under master key id 00000000000000ff" \
	"$T/rotate.out"
sql "UPDATE secret_versions SET key_id = '$new_id' WHERE name = 'db-pass' AND version = 2" >/dev/null
check "  ... and re-wraps no row (rows before it included)" test "$(rows)" = "$before"
planted=$(key_id "$K.next")
rotate
check "the next run succeeds" test $? -eq 0
check "  ... resuming with the key the failed run wrote" grep -q "resuming the rotation to key $planted" "$T/rotate.out"
check "  ... which is now master.key" test "$(key_id "$K")" = "$planted"
check "  ... and every row's key" test "$(row_ids)" = "$planted"
rotate
check "running it again rotates again" test $? -eq 0 -a "$(key_id "$K")" != "$planted"
check "  ... all three rows re-wrapped" grep -q "re-wrapped 3 data keys" "$T/rotate.out"

# --- the dev server down: a clear error and no change
stop_server TERM
before=$(sha256sum "$K")
rotate
check "with the dev server down it fails (exit 1)" test $? -eq 1
check "  ... saying the database is not running" grep -q "not running" "$T/rotate.out"
check "  ... naming the step" grep -q "rotate-master-key: connecting to the database: " "$T/rotate.out"
check "  ... and changes no key file" test "$(sha256sum "$K")" = "$before" -a ! -e "$K.next"
for p in "$PLANT1" "$PLANT2" "$PLANT3"; do
	check "no secret value in the server log" sh -c "! grep -qF -- '$p' '$T/server.log'"
done
finish
