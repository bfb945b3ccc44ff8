# ovrctl's app commands against a real server (no agents): app create/ls/get/update/rm, deploy
# with -f and environment merges, versions, version show byte for byte, diff, rollback, exit
# codes (0 ok, 1 failure, 2 usage) and --wait (success, -o json, --timeout).
. "$(dirname "$0")/lib.sh"

FIX=$SRC/../shared/fixtures/compose
start_server || exit 1

# run ARGS...: ovrctl with stdout in $T/out, stderr in $T/err and the exit code in RC.
run() {
	ovrctl "$@" >"$T/out" 2>"$T/err" </dev/null
	RC=$?
}
# py EXPR: a Python expression over the JSON in $T/out as d.
py() {
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' \
		"$T/out" "$1" 2>/dev/null
}
rc_is() { [ "$RC" = "$1" ]; }
out_has() { grep -q -- "$1" "$T/out"; }
err_has() { grep -q -- "$1" "$T/err"; }
# usage_error: exit 2 with "ovrctl: ..." and the usage line on stderr, nothing on stdout.
usage_error() { rc_is 2 && grep -q '^ovrctl: ' "$T/err" && grep -q '^usage: ovrctl ' "$T/err" && [ ! -s "$T/out" ]; }
# env_of N: version N's environment as sorted KEY=VALUE words.
env_of() {
	ovrctl version show shop "$1" -o json 2>/dev/null | python3 -c \
		'import json,sys; e=json.load(sys.stdin).get("environment",{}); print(" ".join(k+"="+v for k,v in sorted(e.items())))'
}
# versions_col: the VERSION column of "ovrctl versions shop", space separated.
versions_col() { ovrctl versions shop 2>/dev/null | awk 'NR>1 {print $1}' | tr '\n' ' '; }

cp "$FIX/three-tier.yaml" "$T/v1.yaml"
sed 's#shop/backend:1.4.2#shop/backend:1.5.0#' "$T/v1.yaml" >"$T/v2.yaml"
printf 'services:\n  web:\n    ports: ["80"]\n' >"$T/noimage.yaml"
printf '# the app'"'"'s settings\nTAG=1\n\n  MODE=prod\nGREETING=a b=c\n' >"$T/app.env"

# --- app create
run app create shop -f "$T/v1.yaml" --target web-1 --selector role=web --env-file "$T/app.env" \
	--env EXTRA=x --env TAG=2 -m first
check "app create exits 0" rc_is 0
check "  ... and says version 1 was created" out_has 'version 1 created'
check "  ... with the env file's variables and --env winning over it" \
	test "$(env_of 1)" = "EXTRA=x GREETING=a b=c MODE=prod TAG=2"
run app create shop -f "$T/v1.yaml"
check "creating it again exits 1 with the server's message" \
	sh -c "[ $RC = 1 ] && grep -q \"^ovrctl: app 'shop' already exists\" '$T/err'"
run app create -f "$T/v1.yaml"
check "app create without NAME is a usage error (exit 2, usage line)" usage_error
run app create other
check "app create without -f is a usage error" usage_error
run app create other -f "$T/v1.yaml" --bogus
check "an unknown flag is a usage error" usage_error
check "  ... naming the flag" err_has "unknown flag '--bogus'"
run app create other -f "$T/v1.yaml" --env 1X=y
check "--env with a bad variable name is a usage error naming it" \
	sh -c "[ $RC = 2 ] && grep -q \"'1X' is not a valid variable name\" '$T/err'"
run app create other -f "$T/v1.yaml" --env NOVALUE
check "--env without = is a usage error" usage_error
run app create other -f "$T/missing.yaml"
check "a missing compose file exits 1 naming it" \
	sh -c "[ $RC = 1 ] && grep -q 'compose file .*missing.yaml: no such file' '$T/err'"
head -c $((1024 * 1024 + 1)) /dev/zero | tr '\0' '#' >"$T/big.yaml"
run app create other -f "$T/big.yaml"
check "a compose file over 1 MiB exits 1 naming it and the limit" \
	sh -c "[ $RC = 1 ] && grep -q 'big.yaml: larger than the limit of 1024 KiB' '$T/err'"
printf 'OK=1\nthis line is wrong\n' >"$T/bad.env"
run app create other -f "$T/v1.yaml" --env-file "$T/bad.env"
check "a bad env file line exits 1 naming file:line" \
	sh -c "[ $RC = 1 ] && grep -q 'bad.env:2: ' '$T/err'"
run app create other -f "$T/noimage.yaml"
check "an invalid compose file exits 1 with the server's message naming the line" \
	sh -c "[ $RC = 1 ] && grep -q 'line [0-9]' '$T/err'"
run app ls -o json
check "  ... and none of the failed creates made an app" test "$(py '[a["name"] for a in d["apps"]]')" = "['shop']"

# --- app ls / app get
run app ls
check "app ls prints a table with a header" out_has '^NAME  *STATUS  *VERSION  *LAST-KNOWN-GOOD  *TARGETS'
check "  ... and a row for shop with its targets" out_has '^shop .*web-1 selector role=web'
run app ls -o yaml
check "app ls -o yaml prints the response as YAML" out_has 'name: "shop"'
run app get shop
check "app get shows the app" sh -c "[ $RC = 0 ] && grep -q '^shop ' '$T/out'"
run app get shop -o json
check "app get -o json prints the App message" \
	test "$(py 'd["name"] + " " + d["targets"]["nodes"][0] + " " + d["targets"]["selector"]')" = "shop web-1 role=web"
run app get nosuch
check "an unknown app exits 1 naming it" \
	sh -c "[ $RC = 1 ] && grep -q \"^ovrctl: app 'nosuch' not found\" '$T/err'"
run app get
check "app get without NAME is a usage error" usage_error
run app get shop extra
check "app get with two names is a usage error" usage_error
run app frobnicate shop
check "an unknown verb exits 2" rc_is 2

# --- deploy
run deploy shop -f "$T/v2.yaml" -m "backend 1.5.0"
check "deploy -f creates version 2" sh -c "[ $RC = 0 ] && grep -q 'version 2 created' '$T/out'"
check "  ... keeping the environment (none sent)" \
	test "$(env_of 2)" = "EXTRA=x GREETING=a b=c MODE=prod TAG=2"
ovrctl version show shop 2 --compose-only >"$T/got2.yaml" 2>/dev/null
check "  ... with the new compose file" cmp -s "$T/got2.yaml" "$T/v2.yaml"
run deploy shop --env TAG=3 --env NEW=y
check "deploy --env creates version 3" sh -c "[ $RC = 0 ] && grep -q 'version 3 created' '$T/out'"
check "  ... merging into the current environment" \
	test "$(env_of 3)" = "EXTRA=x GREETING=a b=c MODE=prod NEW=y TAG=3"
ovrctl version show shop 3 --compose-only >"$T/got3.yaml" 2>/dev/null
check "  ... and keeping the compose file" cmp -s "$T/got3.yaml" "$T/v2.yaml"
run deploy shop --unset-env EXTRA --unset-env GREETING
check "deploy --unset-env creates version 4" sh -c "[ $RC = 0 ] && grep -q 'version 4 created' '$T/out'"
check "  ... without those variables" test "$(env_of 4)" = "MODE=prod NEW=y TAG=3"
ovrctl deploy shop -f - -m "from stdin" <"$T/v2.yaml" >"$T/out" 2>"$T/err"
RC=$?
check "deploy -f - reads the compose file from standard input" \
	sh -c "[ $RC = 0 ] && grep -q 'version 5 created' '$T/out'"
run deploy shop --env A=1 --unset-env A
check "setting and unsetting one variable is a usage error" usage_error
run deploy shop --unset-env 9X
check "--unset-env with a bad name is a usage error" usage_error
run deploy shop --expected-version 2
check "deploy --expected-version 2 at version 5 exits 1 with the server's message" \
	sh -c "[ $RC = 1 ] && grep -q 'expected version 2 but the app is at 5' '$T/err'"
run deploy shop --expected-version two
check "a non-numeric --expected-version is a usage error" usage_error
run deploy shop --request-id ctl-retry-1 -m again -o json
check "deploy --request-id creates version 6" test "$(py 'd["version"]["version"]')" = 6
run deploy shop --request-id ctl-retry-1 -m again -o json
check "  ... and the same request id again answers version 6" test "$(py 'd["version"]["version"]')" = 6
run deploy shop -f "$T/noimage.yaml"
check "deploying an invalid compose file exits 1 naming the line" \
	sh -c "[ $RC = 1 ] && grep -q 'line [0-9]' '$T/err'"
run deploy shop --bogus
check "deploy with an unknown flag is a usage error" usage_error
run deploy
check "deploy without NAME is a usage error" usage_error
run deploy nosuch -f "$T/v1.yaml"
check "deploying an unknown app exits 1 naming it" \
	sh -c "[ $RC = 1 ] && grep -q \"app 'nosuch' not found\" '$T/err'"
run deploy nosuch --env A=1
check "  ... also when merging the environment" \
	sh -c "[ $RC = 1 ] && grep -q \"app 'nosuch' not found\" '$T/err'"
run deploy shop --timeout 5s
check "--timeout without --wait is a usage error" usage_error

# --- versions
check "versions lists newest first" test "$(versions_col)" = "6 5 4 3 2 1 "
run versions shop
check "  ... under the columns VERSION KIND ROLLBACK-OF AUTHOR CREATED HASH MESSAGE" \
	out_has '^VERSION  *KIND  *ROLLBACK-OF  *AUTHOR  *CREATED  *HASH  *MESSAGE$'
check "  ... with 12-character hashes" \
	test "$(awk 'NR>1 {print length($6)}' "$T/out" | sort -u)" = 12
check "  ... author, kind and message" out_has '^2  *deploy  *-  *admin  .*backend 1.5.0$'
run versions shop -o json
check "versions -o json lists all six" test "$(py 'len(d["versions"])')" = 6
run versions
check "versions without NAME is a usage error" usage_error

# --- version show
run version show shop 2
check "version show exits 0" rc_is 0
check "  ... with the metadata" sh -c "grep -q '^Version: *2$' '$T/out' && grep -q '^Message: *backend 1.5.0$' '$T/out' && grep -q '^Author: *admin$' '$T/out'"
check "  ... and the environment" grep -q '^  MODE=prod$' "$T/out"
sed '1,/^$/d' "$T/out" >"$T/shown2.yaml"
check "  ... then the compose file byte for byte" cmp -s "$T/shown2.yaml" "$T/v2.yaml"
ovrctl version show shop 1 --compose-only >"$T/got1.yaml" 2>/dev/null
check "version show --compose-only prints only the file, byte for byte" cmp -s "$T/got1.yaml" "$T/v1.yaml"
run version show shop 1 -o json
python3 -c 'import json,sys; sys.stdout.write(json.load(open(sys.argv[1]))["composeYaml"])' "$T/out" >"$T/json1.yaml"
check "version show -o json prints the AppVersion message" cmp -s "$T/json1.yaml" "$T/v1.yaml"
run version show shop 99
check "an unknown version exits 1 naming it" sh -c "[ $RC = 1 ] && grep -q 99 '$T/err'"
run version show shop two
check "a non-numeric version is a usage error" usage_error
run version show shop
check "a missing version is a usage error" usage_error
run version
check "ovrctl version still prints ovrctl's version" out_has '^ovrctl '
run version shop 2
check "  ... and 'version NAME N' (show forgotten) is a usage error" usage_error

# --- diff
run diff shop 1 2
check "diff exits 0" rc_is 0
check "  ... showing the changed image line" \
	sh -c "grep -q '^-    image: shop/backend:1.4.2$' '$T/out' && grep -q '^+    image: shop/backend:1.5.0$' '$T/out'"
check "  ... in a hunk" out_has '^@@ -'
check "  ... without colour when not on a terminal" sh -c "! grep -q \"$(printf '\033')\" '$T/out'"
run diff shop 2 3
check "an environment change shows as lines" \
	sh -c "grep -q '^-TAG=2$' '$T/out' && grep -q '^+TAG=3$' '$T/out' && grep -q '^+NEW=y$' '$T/out'"
run diff shop 4 5
check "the same closure has an empty diff" sh -c "[ $RC = 0 ] && [ ! -s '$T/out' ]"
run diff shop 1 -o json
check "diff with one version is a usage error" usage_error
run diff shop 1 2 -o json
check "diff -o json prints the message" sh -c "python3 -c 'import json,sys; assert \"image: shop/backend\" in json.load(open(sys.argv[1]))[\"diff\"]' '$T/out'"

# --- rollback
run rollback shop --to 1 -m "back to 1"
check "rollback --to 1 exits 0" rc_is 0
check "  ... creating version 7 as a copy of version 1" out_has 'version 7 created as a copy of version 1'
run version show shop 7 -o json
check "  ... with rollbackOf 1 and kind rollback" \
	test "$(py 'd["rollbackOf"] + " " + d["kind"]')" = "1 DEPLOYMENT_KIND_ROLLBACK"
check "  ... and version 1's environment" test "$(env_of 7)" = "EXTRA=x GREETING=a b=c MODE=prod TAG=2"
ovrctl version show shop 7 --compose-only >"$T/got7.yaml" 2>/dev/null
check "  ... and version 1's compose file" cmp -s "$T/got7.yaml" "$T/v1.yaml"
run rollback shop --to 7
check "rolling back to the current version exits 1" rc_is 1
run rollback shop --to one
check "rollback --to one is a usage error" usage_error
run versions shop
check "versions shows the rollback's source" out_has '^7  *rollback  *1  *admin .*back to 1$'

# --- --wait: no agent runs, so a deployment to no node succeeds at once and one to an enrolled
# node that never connects stays in progress until --timeout.
run app create solo -f "$T/v1.yaml" --deploy --wait
check "app create --deploy --wait of an app without targets exits 0" rc_is 0
check "  ... printing the deployment's progress and success" \
	sh -c "grep -q '^\[0s\] deployment .* (app solo, version 1)' '$T/out' && grep -q '^deployment .* succeeded' '$T/out'"
run deploy solo --wait -o json
check "deploy --wait -o json prints the final deployment as JSON" \
	test "$(py 'd["deployment"]["state"]')" = DEPLOYMENT_STATE_SUCCEEDED
check "  ... and the progress on stderr" err_has '^deployment .* succeeded'
check "enrolling web-1 (no agent runs)" enroll web-1
run deploy shop --wait --timeout 2s
check "deploy --wait to a node that never answers exits 1" rc_is 1
check "  ... showing the node's state as it changes" out_has '^\[0s\] web-1 '
check "  ... with the reason on stderr" err_has '^ovrctl: deployment .* is still in progress after 2s'
check "  ... and the node" err_has '^  web-1: '
run rollback shop --to 1 --wait --timeout=1s
check "rollback --wait --timeout=1s exits 1 the same way" \
	sh -c "[ $RC = 1 ] && grep -q '^ovrctl: deployment .* after 1s' '$T/err'"
run app get shop
check "app get lists the targeted node under NODE" \
	sh -c "grep -q '^NODE  *VERSION  *PHASE  *CONTAINERS  *MESSAGE  *UPDATED' '$T/out' && grep -q '^web-1 ' '$T/out'"
run app create waiter -f "$T/v1.yaml" --wait
check "app create --wait without --deploy is a usage error" usage_error

# --- app update
run app update shop --selector role=api
check "app update --selector exits 0" rc_is 0
run app get shop -o json
check "  ... replacing the selector and keeping the nodes" \
	test "$(py 'd["targets"]["nodes"][0] + " " + d["targets"]["selector"]')" = "web-1 role=api"
run app update shop --no-nodes
run app get shop -o json
check "app update --no-nodes clears the nodes, keeping the selector" \
	test "$(py 'd["targets"].get("nodes", []) == [] and d["targets"]["selector"]')" = "role=api"
run app update shop --target web-1 --no-nodes
check "--target with --no-nodes is a usage error" usage_error
run app update shop
check "app update with nothing to change is a usage error" usage_error

# --- app rm
run app rm shop
check "app rm without --yes (and no terminal) is a usage error" usage_error
run app get shop
check "  ... and deletes nothing" rc_is 0
run app rm shop --yes
check "app rm --yes exits 0" sh -c "[ $RC = 0 ] && grep -q 'app shop deleted' '$T/out'"
run app get shop
check "  ... then app get exits 1" sh -c "[ $RC = 1 ] && grep -q \"app 'shop' not found\" '$T/err'"
run app rm shop --yes
check "removing it again exits 1" rc_is 1
finish
