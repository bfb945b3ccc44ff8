# Production setup (issue 2): `ovr-server init` against a PostgreSQL given by database_url creates
# the PKI, master key and first admin token once; a second init changes nothing; the server then
# runs on that database, and a dev-mode server reuses its cluster across restarts.
. "$(dirname "$0")/lib.sh"

PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
PG=$T/pg
mkdir -p "$PG"
chown postgres "$PG"
as_pg() { su postgres -s /bin/sh -c "$*"; }
as_pg "$PGBIN/initdb -D '$PG/data' -A trust -U postgres" >"$T/initdb.log" 2>&1 || { cat "$T/initdb.log"; exit 1; }
as_pg "$PGBIN/pg_ctl start -w -D '$PG/data' -l '$PG/log' -o \"-k '$PG' -c listen_addresses= -p 5499\"" >/dev/null
stop_pg() { as_pg "$PGBIN/pg_ctl stop -m fast -D '$PG/data'" >/dev/null 2>&1; }
trap 'stop_pg; cleanup' EXIT
as_pg "psql -h '$PG' -p 5499 -qc 'CREATE DATABASE ovrprod'"
URL="host=$PG port=5499 dbname=ovrprod user=postgres"

"$BIN/ovr-server" init --database-url "$URL" --data-dir "$T/prod" >"$T/init1.out" 2>&1
check "init succeeds" test $? -eq 0
check "init prints the admin token once" grep -q "Admin API token" "$T/init1.out"
check "the admin token file is 0600" test "$(stat -c %a "$T/prod/admin.token")" = 600
check "the CA key is 0600" test "$(stat -c %a "$T/prod/pki/ca.key")" = 600
check "the master key is 0600" test "$(stat -c %a "$T/prod/master.key")" = 600
fp1=$(sha256sum "$T/prod/pki/ca.crt")
"$BIN/ovr-server" init --database-url "$URL" --data-dir "$T/prod" >"$T/init2.out" 2>&1
check "a second init succeeds" test $? -eq 0
check "a second init prints no new token" bash -c "! grep -q 'Admin API token' '$T/init2.out'"
check "a second init keeps the CA" test "$(sha256sum "$T/prod/pki/ca.crt")" = "$fp1"
check "the schema is applied once" test "$(as_pg "psql -h '$PG' -p 5499 -d ovrprod -Atc 'SELECT count(*) FROM schema_migrations'")" -ge 1

# Two servers starting at once against a fresh database both migrate safely.
as_pg "psql -h '$PG' -p 5499 -qc 'CREATE DATABASE ovrrace'"
RACE="host=$PG port=5499 dbname=ovrrace user=postgres"
"$BIN/ovr-server" init --database-url "$RACE" --data-dir "$T/race1" >"$T/race1.out" 2>&1 &
p1=$!
"$BIN/ovr-server" init --database-url "$RACE" --data-dir "$T/race2" >"$T/race2.out" 2>&1 &
p2=$!
wait $p1; r1=$?
wait $p2; r2=$?
check "two concurrent inits both succeed ($r1, $r2)" test "$r1" -eq 0 -a "$r2" -eq 0
[ "$r1" -eq 0 ] && [ "$r2" -eq 0 ] || cat "$T/race1.out" "$T/race2.out" | sed 's/^/#   /'
check "exactly one of them created the admin token" \
	test "$(cat "$T/race1.out" "$T/race2.out" | grep -c 'Admin API token')" -eq 1

# The server runs on the production database.
"$BIN/ovr-server" --database-url "$URL" --data-dir "$T/prod" --grpc-listen 127.0.0.1:0 >"$T/prod.log" 2>&1 &
PROD_PID=$!
for _ in $(seq 1 100); do grep -q "serving gRPC" "$T/prod.log" && break; sleep 0.1; done
PORT=$(grep 'serving gRPC' "$T/prod.log" | sed 's/.*(port \([0-9]*\)).*/\1/')
out=$(OVR_SERVER=127.0.0.1:$PORT OVR_CA_FILE=$T/prod/pki/ca.crt OVR_TOKEN=$(cat "$T/prod/admin.token") "$BIN/ovrctl" node ls 2>&1)
check "ovrctl talks to the production server" grep -q "NAME" <<<"$out"
kill -TERM $PROD_PID
wait $PROD_PID
check "it stops cleanly on SIGTERM" test $? -eq 0
"$BIN/ovr-server" --data-dir "$T/prod" --grpc-listen 127.0.0.1:0 >"$T/nourl.out" 2>&1
check "without database_url or --dev the server says what is missing" grep -q "database_url is not set" "$T/nourl.out"

# Dev mode: PostgreSQL stops with the server and is reused on the next start.
start_server || exit 1
stop_server TERM
check "dev PostgreSQL stops with the server" test ! -e "$T/srv/postgres/postmaster.pid"
start_server || exit 1
check "the next start reuses the cluster" bash -c "grep -c 'initdb=no' '$T/server.log' | grep -q 1"
check "the admin token is not printed again" test "$(grep -c 'Admin API token' "$T/server.log")" -eq 1
check "the old admin token still works" bash -c "OVR_SERVER=127.0.0.1:$SERVER_PORT OVR_CA_FILE=$T/srv/pki/ca.crt OVR_TOKEN=$(cat "$T/srv/admin.token") '$BIN/ovrctl' node ls >/dev/null"

# The server certificate is reloaded from disk without a restart (file watcher, every 10 s).
served_serial() {
	echo | timeout 5 openssl s_client -connect "127.0.0.1:$SERVER_PORT" 2>/dev/null |
		openssl x509 -noout -serial 2>/dev/null
}
old=$(served_serial)
P=$T/srv/pki
openssl ecparam -name prime256v1 -genkey -noout 2>/dev/null | openssl pkcs8 -topk8 -nocrypt -out "$T/new.key"
chmod 600 "$T/new.key"
openssl req -new -key "$T/new.key" -subj /CN=reloaded -out "$T/new.csr" 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >"$T/ext.cnf"
openssl x509 -req -in "$T/new.csr" -CA "$P/ca.crt" -CAkey "$P/ca.key" -CAcreateserial \
	-CAserial "$T/ca.srl" -days 30 -extfile "$T/ext.cnf" -out "$T/new.crt" 2>/dev/null
cat "$T/new.crt" "$P/ca.crt" >"$T/new.chain"
mv "$T/new.key" "$P/server.key"
mv "$T/new.chain" "$P/server.crt"
new=$old
for _ in $(seq 1 40); do
	new=$(served_serial)
	[ -n "$new" ] && [ "$new" != "$old" ] && break
	sleep 0.5
done
check "a replaced server certificate is served without a restart ($old -> $new)" \
	test -n "$new" -a "$new" != "$old"
check "clients keep working with the new certificate" bash -c "OVR_SERVER=127.0.0.1:$SERVER_PORT OVR_CA_FILE=$P/ca.crt OVR_TOKEN=$(cat "$T/srv/admin.token") '$BIN/ovrctl' node ls >/dev/null"
finish
