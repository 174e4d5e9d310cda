# A fleet of 50 machines fetching at once from one nginx that serves only a few
# connections at a time (the rest get 503): all succeed, by retrying with
# jittered backoff, and almost no bundle body is sent twice.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_nginx.sh"

FETCH="$IBDRV_BIN/tests/tools/fetch"
FLEET=50
WWW=$T/www
mkdir -p "$WWW/fleet"
minisign -G -W -f -p "$T/key.pub" -s "$T/key.sec" >/dev/null || fail "minisign -G"
head -c 131072 /dev/urandom >"$WWW/fleet/b.ibb"
tc=$(printf 'ibdrv-bundle:1\tname:fleet\tsize:131072\tsequence:1\tmanifest-blake2b:%s\tfile:b.ibb' \
	"$(b2sum -l 256 "$WWW/fleet/b.ibb" | cut -d' ' -f1)")
minisign -S -s "$T/key.sec" -m "$WWW/fleet/b.ibb" -t "$tc" >/dev/null || fail "minisign -S"

# Each body takes about half a second, so the 4 connection slots are really contended.
nginx_start "$WWW" 'limit_conn_zone $binary_remote_addr zone=fleet:1m;' \
	'location /fleet/ { limit_conn fleet 4; limit_rate 256k; }'
URL=http://127.0.0.1:$NGINX_PORT/fleet/b.ibb

start=$SECONDS
pids=()
for i in $(seq "$FLEET"); do
	"$FETCH" --pubkey "$T/key.pub" --cache "$T/c$i" --retries 40 --backoff 200 4000 \
		--deadline 150 "$URL" >"$T/out$i" 2>"$T/err$i" &
	pids+=("$!")
done
good=0
for i in $(seq "$FLEET"); do
	if wait "${pids[$((i - 1))]}" && cmp -s "$T/c$i/fleet.ibb" "$WWW/fleet/b.ibb"; then
		good=$((good + 1))
	else
		echo "fetch $i failed: $(tail -n 1 "$T/err$i")" >&2
	fi
done
[ "$good" -eq "$FLEET" ] && ok || fail "$good of $FLEET fetches succeeded"
echo "fleet of $FLEET done in $((SECONDS - start)) s"
[ $((SECONDS - start)) -lt 150 ] && ok || fail "fleet took $((SECONDS - start)) s"

bodies=$(grep -cE '^(200|206) "GET /fleet/b.ibb HTTP' "$NGINX_LOG")
refused=$(grep -c '^503 ' "$NGINX_LOG")
echo "bundle bodies served: $bodies, requests refused by limit_conn: $refused"
[ "$bodies" -le $((FLEET * 11 / 10)) ] && ok || fail "$bodies bundle bodies served for $FLEET fetches"
[ "$refused" -gt 0 ] && ok || fail "limit_conn never refused a request: the test proves nothing"

finish
