# Metrics and health (issue 6), without docker: GET /metrics answers without a token and parses
# strictly as Prometheus text 0.0.4; its RPC counters move by exactly the calls made over gRPC and
# REST; deployments are counted by kind and outcome as the database records them; no app or node
# name ever shows; the agent serves its own /metrics on metrics_listen; /healthz; /readyz is 200,
# then 503 with the schema behind the binary, then 503 with PostgreSQL stopped.
. "$(dirname "$0")/lib.sh"

start_server --rest-listen 127.0.0.1:0 --workers 3 || exit 1
check "the server logs the REST port" rest_port

# A strict reader of the exposition format: every line is # HELP, # TYPE or name{labels} value;
# TYPE comes once, before its family's samples; families are not interleaved; no series twice;
# counters are not negative; histogram buckets ascend in le, are cumulative, end with +Inf and
# agree with _count, next to a _sum.
cat >"$T/prom.py" <<'PY'
import math, re, sys

NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
NUMBER = re.compile(r"[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?")
TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}


class Bad(Exception):
    pass


def value_of(text):
    if text in ("+Inf", "-Inf", "NaN"):
        return float(text.lower().replace("+", ""))
    if not NUMBER.fullmatch(text):
        raise Bad("bad value %r" % text)
    return float(text)


def labels_of(line, i):
    """Parses {a="b",...} from line[i] == '{'; returns (tuple of pairs, index after '}')."""
    pairs, i = [], i + 1
    if line[i] == "}":
        raise Bad("empty label set")
    while True:
        m = LABEL.match(line, i)
        if not m:
            raise Bad("bad label name at column %d" % i)
        key, i = m.group(), m.end()
        if line[i : i + 2] != '="':
            raise Bad("label %s: expected =\"" % key)
        i += 2
        val = []
        while line[i] != '"':
            if line[i] == "\\":
                i += 1
                if line[i] not in 'n\\"':
                    raise Bad("bad escape \\%s" % line[i])
                val.append("\n" if line[i] == "n" else line[i])
            else:
                val.append(line[i])
            i += 1
        pairs.append((key, "".join(val)))
        i += 1
        if line[i] == "}":
            i += 1
            break
        if line[i] != ",":
            raise Bad("expected , or } after label %s" % key)
        i += 1
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise Bad("a label name twice")
    return tuple(pairs), i


def parse(path):
    text = open(path, encoding="utf-8").read()
    if text and not text.endswith("\n"):
        raise Bad("the text does not end with a newline")
    types, helps, series, done = {}, set(), {}, set()
    current = None
    for n, line in enumerate(text.split("\n")[:-1], 1):
        try:
            if line.startswith("# HELP ") or line.startswith("# TYPE "):
                parts = line[7:].split(" ", 1)
                name = parts[0]
                if not NAME.fullmatch(name) or len(parts) != 2:
                    raise Bad("malformed comment")
                if line.startswith("# HELP "):
                    if name in helps:
                        raise Bad("HELP twice")
                    if re.search(r"\\[^\\n]", parts[1].replace("\\\\", "")):
                        raise Bad("bad escape in HELP")
                    helps.add(name)
                else:
                    if name in types:
                        raise Bad("TYPE twice")
                    if parts[1] not in TYPES:
                        raise Bad("unknown type")
                    if name in done or name == current:
                        raise Bad("TYPE after the family's samples")
                    types[name] = parts[1]
                continue
            if not line or line.startswith("#"):
                raise Bad("blank line or other comment")
            m = NAME.match(line)
            if not m:
                raise Bad("bad metric name")
            name, i = m.group(), m.end()
            labels = ()
            if line[i] == "{":
                labels, i = labels_of(line, i)
            if line[i] != " " or " " in line[i + 1 :]:
                raise Bad("expected exactly ' value' after the name and labels")
            value = value_of(line[i + 1 :])
            family = name if types.get(name) in ("counter", "gauge", "untyped") else None
            for suffix in ("_bucket", "_sum", "_count"):
                if family is None and name.endswith(suffix):
                    base = name[: -len(suffix)]
                    if types.get(base) == "histogram":
                        family = base
            if family is None:
                raise Bad("sample before (or without) its TYPE")
            if family != current:
                if family in done:
                    raise Bad("family %s interleaved with another" % family)
                if current:
                    done.add(current)
                current = family
            if (name, labels) in series:
                raise Bad("series twice")
            if types[family] == "counter" and not value >= 0:
                raise Bad("a counter below 0 or NaN")
            if (dict(labels).get("le") is None) == name.endswith("_bucket"):
                raise Bad("le belongs on _bucket samples only")
            series[(name, labels)] = value
        except (Bad, IndexError, ValueError) as e:
            raise Bad("line %d: %s: %r" % (n, e, line))
    for family, kind in types.items():
        if kind != "histogram":
            continue
        groups = {}
        for (name, labels), v in series.items():
            rest = tuple(p for p in labels if p[0] != "le")
            if name == family + "_bucket":
                groups.setdefault(rest, {}).setdefault("b", []).append((dict(labels)["le"], v))
            elif name in (family + "_sum", family + "_count"):
                groups.setdefault(rest, {})[name[len(family) + 1 :]] = v
        for rest, g in groups.items():
            b = g.get("b", [])
            if not b or b[-1][0] != "+Inf":
                raise Bad("%s%s: no +Inf bucket last" % (family, rest))
            les = [value_of(le) for le, _ in b]
            if les != sorted(set(les)):
                raise Bad("%s%s: le not ascending" % (family, rest))
            counts = [c for _, c in b]
            if counts != sorted(counts):
                raise Bad("%s%s: buckets not cumulative" % (family, rest))
            if "sum" not in g or g.get("count") != counts[-1]:
                raise Bad("%s%s: _count differs from +Inf or _sum missing" % (family, rest))
    return series


def want(args):
    return {tuple(a.split("=", 1)) for a in args}


def get(series, name, args, exact=True):
    """The value (exact labels) or the sum (labels a subset); None when no series matches."""
    w, total = want(args), None
    for (n, labels), v in series.items():
        if n == name and (set(labels) == w if exact else w <= set(labels)):
            total = (total or 0.0) + v
    return total


def show(v):
    print("absent" if v is None else int(v) if v == int(v) else v)


def delta(a, b):
    return (b or 0.0) - (a or 0.0)  # a counter appears on first use


try:
    cmd = sys.argv[1]
    if cmd == "check":
        s = parse(sys.argv[2])
        print("%d series" % len(s))
    elif cmd == "get":
        show(get(parse(sys.argv[2]), sys.argv[3], sys.argv[4:]))
    elif cmd == "sum":
        show(get(parse(sys.argv[2]), sys.argv[3], sys.argv[4:], exact=False))
    elif cmd == "delta":
        a, b = parse(sys.argv[2]), parse(sys.argv[3])
        show(delta(get(a, sys.argv[4], sys.argv[5:]), get(b, sys.argv[4], sys.argv[5:])))
    elif cmd == "delta-sum":
        a, b = parse(sys.argv[2]), parse(sys.argv[3])
        show(delta(get(a, sys.argv[4], sys.argv[5:], False), get(b, sys.argv[4], sys.argv[5:], False)))
    elif cmd == "db-compare":
        # psql rows kind|state|count against the started and finished counters
        kinds = {1: "deploy", 2: "rollback", 3: "auto_rollback", 4: "remove"}
        ends = {2: "succeeded", 3: "failed", 4: "rolled_back", 5: "superseded"}
        s, rows, wrong = parse(sys.argv[2]), {}, []
        for line in open(sys.argv[3]):
            k, st, c = map(int, line.strip().split("|"))
            rows[(k, st)] = c
        for k, kn in kinds.items():
            want_started = sum(c for (kk, _), c in rows.items() if kk == k)
            got = get(s, "ovr_deployments_started_total", ["kind=" + kn])
            if got != want_started:
                wrong.append("started %s: %s, table %d" % (kn, got, want_started))
            for st, sn in ends.items():
                got = get(s, "ovr_deployments_finished_total", ["kind=" + kn, "outcome=" + sn])
                if got != rows.get((k, st), 0):
                    wrong.append("%s %s: %s, table %d" % (kn, sn, got, rows.get((k, st), 0)))
        if wrong:
            print("\n".join(wrong))
            sys.exit(1)
except Bad as e:
    print("invalid exposition: %s" % e)
    sys.exit(1)
PY

is_code() { [ "$CODE" = "$1" ]; }
quiet() { "$@" >/dev/null 2>&1; }
fails() { ! "$@" >/dev/null 2>&1; }
# noauth METHOD PATH: the REST listener without a token; status in CODE, body in $T/body.
noauth() {
	CODE=$(curl -sS --cacert "$T/srv/pki/ca.crt" --max-time 20 -o "$T/body" -D "$T/headers" \
		-w '%{http_code}' -X "$1" "https://127.0.0.1:$REST_PORT$2" 2>"$T/curl.err")
}
# scrape FILE: the server's /metrics without a token into FILE; 1 unless 200 and valid.
scrape() {
	noauth GET /metrics && cp "$T/body" "$1" && is_code 200 && valid "$1"
}
# valid FILE: the strict reader accepts it (its complaint is printed otherwise).
valid() {
	python3 "$T/prom.py" check "$1" >"$T/prom.out" 2>&1 && return 0
	sed 's/^/#   /' "$T/prom.out"
	return 1
}
# m FILE NAME [label=value...]: the value of the series with exactly these labels, or "absent".
m() { python3 "$T/prom.py" get "$@"; }
# d NAME [label=value...]: its change from $T/m0 to $T/m1.
d() { python3 "$T/prom.py" delta "$T/m0" "$T/m1" "$@"; }
psql_dev() { su postgres -s /bin/sh -c "psql -qAt -h '$T/srv/postgres/run' -d overseer -c \"$1\"" 2>&1; }
jq_body() { python3 -c 'import json,sys; print(eval(sys.argv[2], {"d": json.load(open(sys.argv[1]))}))' "$T/body" "$1" 2>/dev/null; }
# err_is STATUS CODE: an error body {"code": CODE, "message": ...} with that HTTP status.
err_is() { is_code "$1" && [ "$(jq_body 'd["code"]')" = "$2" ] && [ -n "$(jq_body 'd["message"]')" ]; }

# --- health
noauth GET /healthz
check "/healthz is 200 without a token" is_code 200
check "  ... saying ok" test "$(jq_body 'd["status"]')" = ok
noauth GET /readyz
check "/readyz is 200 without a token (database up, schema current)" is_code 200

# --- the endpoint itself
check "GET /metrics without a token is 200 and parses strictly" scrape "$T/m0"
check "  ... served as text/plain; version=0.0.4" \
	grep -qi '^content-type: text/plain; version=0.0.4' "$T/headers"
check "  ... with HELP and TYPE for the RPC counter" \
	sh -c "grep -q '^# HELP ovr_rpc_requests_total ' '$T/m0' && grep -q '^# TYPE ovr_rpc_requests_total counter$' '$T/m0'"
start_s=$(m "$T/m0" process_start_time_seconds)
check "process_start_time_seconds is the server's start (within the last 10 minutes)" \
	python3 -c "import sys,time; t=float(sys.argv[1]); sys.exit(not time.time()-600 < t <= time.time())" "$start_s"
check "ovr_db_pool_workers counts at least the 3 gRPC workers" test "$(m "$T/m0" ovr_db_pool_workers)" -ge 3
check "ovr_db_pool_busy_workers is 0 while no call runs" test "$(m "$T/m0" ovr_db_pool_busy_workers)" = 0
check "ovr_agents_connected is 0 without agents" test "$(m "$T/m0" ovr_agents_connected)" = 0
noauth POST /metrics
check "POST /metrics is 405" is_code 405

# --- RPC counters move by exactly the calls made, on both transports
ovrctl app ls >/dev/null 2>&1
check "ovrctl app get of a missing app fails" fails ovrctl app get ghost-app
TOKEN_OVERRIDE=not-a-token ovrctl app ls >/dev/null 2>&1
api GET /api/apps
check "GET /api/apps is 200" is_code 200
api GET /api/apps/ghost-app
check "GET /api/apps/ghost-app is 404" is_code 404
TOKEN_OVERRIDE=not-a-token api GET /api/apps
check "GET /api/apps with a wrong token is 401" is_code 401
check "scrape again" scrape "$T/m1"
for row in "ListApps OK grpc" "GetApp NOT_FOUND grpc" "ListApps UNAUTHENTICATED grpc" \
	"ListApps OK rest" "GetApp NOT_FOUND rest" "ListApps UNAUTHENTICATED rest"; do
	set -- $row
	check "ovr_rpc_requests_total{$1,$2,$3} moved by exactly 1" \
		test "$(d ovr_rpc_requests_total method=overseer.v1.Apps/$1 code=$2 transport=$3)" = 1
done
check "ovr_rpc_requests_total moved by exactly 6 in all" \
	test "$(python3 "$T/prom.py" delta-sum "$T/m0" "$T/m1" ovr_rpc_requests_total)" = 6
check "the latency histogram counted ListApps twice on gRPC" \
	test "$(d ovr_rpc_duration_seconds_count method=overseer.v1.Apps/ListApps transport=grpc)" = 2
check "  ... and GetApp once on REST" \
	test "$(d ovr_rpc_duration_seconds_count method=overseer.v1.Apps/GetApp transport=rest)" = 1
check "  ... and its +Inf bucket agrees" \
	test "$(d ovr_rpc_duration_seconds_bucket method=overseer.v1.Apps/GetApp transport=rest le=+Inf)" = 1

# --- deployments, by kind and outcome, as the database has them; no name in any label
APP=plantapp-7f3a
NODE=plantnode-9c1e
WAITING=waitapp-51d0
printf 'services:\n  web:\n    image: ovr-example/web:1\n' >"$T/v1.yaml"
printf 'services:\n  web:\n    image: ovr-example/web:2\n' >"$T/v2.yaml"
# The target node does not exist: each deployment ends at once ("no node is targeted").
check "app create $APP (version 1, not deployed)" quiet ovrctl app create "$APP" -f "$T/v1.yaml" --target "$NODE"
check "deploy version 1" quiet ovrctl deploy "$APP"
check "deploy version 2" quiet ovrctl deploy "$APP" -f "$T/v2.yaml"
check "roll back to 1" quiet ovrctl rollback "$APP" --to 1
check "app rm" quiet ovrctl app rm "$APP" --yes
# m-2 never runs: a deployment to it waits until a newer one supersedes it or its deadline passes.
check "enroll m-2 (never started)" enroll m-2
check "app create $WAITING for m-2, healthy deadline 5 s" \
	quiet ovrctl app create "$WAITING" -f "$T/v1.yaml" --target m-2 --healthy-deadline 5s
check "deploy it: in progress" quiet ovrctl deploy "$WAITING"
check "deploy again: the first is superseded" quiet ovrctl deploy "$WAITING" -f "$T/v2.yaml"
waiting_failed() { [ "$(psql_dev "SELECT count(*) FROM deployments WHERE app = '$WAITING' AND state = 3")" = 1 ]; }
check "  ... and the second fails at its deadline" wait_for 60 waiting_failed
check "scrape after the deployments" scrape "$T/m2"
for row in "started deploy 4" "started rollback 1" "started remove 1" "started auto_rollback 0"; do
	set -- $row
	check "ovr_deployments_started_total{kind=$2} is $3" \
		test "$(m "$T/m2" ovr_deployments_started_total kind=$2)" = "$3"
done
for row in "deploy succeeded 2" "deploy superseded 1" "deploy failed 1" "rollback succeeded 1" \
	"remove succeeded 1"; do
	set -- $row
	check "ovr_deployments_finished_total{kind=$1,outcome=$2} is $3" \
		test "$(m "$T/m2" ovr_deployments_finished_total kind=$1 outcome=$2)" = "$3"
done
psql_dev "SELECT kind, state, count(*) FROM deployments GROUP BY 1, 2" >"$T/db-deployments"
check "every started and finished series equals the deployments table, kind by outcome" \
	python3 "$T/prom.py" db-compare "$T/m2" "$T/db-deployments"
for row in "succeeded 4" "failed 1" "superseded 1" "rolled_back 0"; do
	set -- $row
	check "ovr_deployment_duration_seconds_count{outcome=$1} is $2" \
		test "$(m "$T/m2" ovr_deployment_duration_seconds_count outcome=$1)" = "$2"
done
check "  ... the failed one took its 5 s deadline or more (le=1: 0)" \
	test "$(m "$T/m2" ovr_deployment_duration_seconds_bucket outcome=failed le=1)" = 0
check "no app or node name appears anywhere in /metrics" \
	sh -c "! grep -q -e $APP -e $NODE -e $WAITING '$T/m2'"

# --- the agent's own /metrics (no docker engine at its socket: errors are counted)
check "enroll m-1" enroll m-1
"$BIN/ovr-agent" run --state-dir "$T/agents/m-1" --project-prefix ovrit-m1 \
	--docker-socket "$T/no-docker.sock" --metrics-listen 0 >>"$T/agent-m-1.log" 2>&1 &
AGENT_PIDS+=($!)
check "the agent logs its metrics port" wait_for 20 grep -q 'serving metrics on' "$T/agent-m-1.log"
APORT=$(sed -n 's/.*serving metrics on .* (port \([0-9]*\)).*/\1/p' "$T/agent-m-1.log" | tail -1)
AURL=http://127.0.0.1:$APORT/metrics
check "m-1 shows connected" wait_state m-1 connected 60
# ascrape FILE: the agent's /metrics into FILE; 1 unless 200 and valid.
ascrape() {
	CODE=$(curl -sS --max-time 10 -o "$1" -D "$T/aheaders" -w '%{http_code}' "$AURL" 2>"$T/curl.err")
	is_code 200 && valid "$1"
}
report_seen() { ascrape "$T/a1" && [ "$(m "$T/a1" ovr_agent_last_report_timestamp_seconds)" != 0 ]; }
check "the agent's /metrics (PORT alone: 127.0.0.1) parses strictly" ascrape "$T/a0"
check "  ... as text/plain; version=0.0.4" grep -qi '^content-type: text/plain; version=0.0.4' "$T/aheaders"
check "  ... and soon has a last report time" wait_for 30 report_seen
check "  ... a recent one" python3 -c "import sys,time; sys.exit(abs(time.time()-float(sys.argv[1])) > 120)" \
	"$(m "$T/a1" ovr_agent_last_report_timestamp_seconds)"
check "  ... Docker API errors counted (no engine at its socket)" \
	test "$(m "$T/a1" ovr_agent_docker_api_errors_total)" -ge 1
check "  ... no compose apply (nothing targets it)" \
	test "$(python3 "$T/prom.py" sum "$T/a1" ovr_agent_compose_applies_total)" = 0
check "  ... no reconnect yet" test "$(m "$T/a1" ovr_agent_reconnects_total)" = 0
CODE=$(curl -sS -o /dev/null -w '%{http_code}' -X POST "$AURL" 2>/dev/null)
check "  ... POST is 405" is_code 405
CODE=$(curl -sS -o /dev/null -w '%{http_code}' "http://127.0.0.1:$APORT/other" 2>/dev/null)
check "  ... another path is 404" is_code 404
check "the server's /metrics with an agent connected" scrape "$T/m3"
check "  ... ovr_agents_connected is 1" test "$(m "$T/m3" ovr_agents_connected)" = 1
check "  ... and agent stream queue depths (sum and max) as numbers" \
	sh -c "[ \"\$(python3 '$T/prom.py' get '$T/m3' ovr_agent_stream_queue_messages)\" -ge 0 ] &&
		[ \"\$(python3 '$T/prom.py' get '$T/m3' ovr_agent_stream_queue_max_messages)\" -ge 0 ]"
timeout 20 "$BIN/ovr-agent" run --state-dir "$T/agents/m-1" --metrics-listen localhost:x \
	>"$T/bad.out" 2>&1
rc=$?
check "a metrics_listen that is not numeric stops the agent with exit 1" test "$rc" = 1
check "  ... naming the setting" grep -q "metrics_listen: 'localhost:x'" "$T/bad.out"

# A server restart: the agent reconnects, and says so.
stop_server
start_server --rest-listen 127.0.0.1:0 --workers 3 || exit 1
rest_port
reconnected() { ascrape "$T/a2" && [ "$(m "$T/a2" ovr_agent_reconnects_total)" -ge 1 ]; }
check "after a server restart the agent counts a reconnect" wait_for 60 reconnected
check "m-1 is connected again" wait_state m-1 connected 60
check "the new server's /metrics" scrape "$T/m4"
check "  ... counts the agent again" test "$(m "$T/m4" ovr_agents_connected)" = 1

# --- /readyz follows the schema version and the database
V=$(psql_dev "DELETE FROM schema_migrations WHERE version = (SELECT max(version) FROM schema_migrations) RETURNING version")
noauth GET /readyz
check "/readyz is 503 with code 14 when the schema is behind this binary" err_is 503 14
check "  ... saying which migration it is at and needs" grep -q "migration $((V - 1)), this server needs $V" "$T/body"
psql_dev "INSERT INTO schema_migrations (version, name) VALUES ($V, 'restored by test_metrics')" >/dev/null
noauth GET /readyz
check "/readyz is 200 again once it is current" is_code 200
bindir=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
su postgres -s /bin/sh -c "$bindir/pg_ctl stop -m fast -D '$T/srv/postgres'" >/dev/null 2>&1
noauth GET /readyz
check "/readyz is 503 with code 14 once PostgreSQL is stopped" err_is 503 14
noauth GET /healthz
check "/healthz is still 200" is_code 200
check "/metrics still answers and parses without the database" scrape "$T/m5"
finish
