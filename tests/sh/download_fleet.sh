# A fleet of 50 VMs installing at once, downloading from one nginx that serves only a few
# connections at a time (the rest get 503): all succeed, by retrying with jittered backoff,
# and almost no bundle body is sent twice.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_nginx.sh"

FLEET=50
WWW=$T/www
mkdir -p "$WWW/fleet"
"$BUILD" keygen -W -p "$T/key.pub" -s "$T/key.sec" >/dev/null || fail "keygen"
# A small driver (128 KiB of payload) whose install command does nothing.
pack_ofed_bundle "$WWW/fleet/b.ibb" fleet 131072 "$T/key.sec"
cat >"$T/facts.json" <<'JSON'
{"vm_size": "Standard_HB120rs_v2", "os": {"family": "linux", "id": "ubuntu", "version": "22.04"},
 "nics": [{"vendor": "15b3", "device": "101c", "virtual_function": true, "link_layer": "infiniband"}]}
JSON

# Each body takes about half a second, so the 4 connection slots are really contended.
nginx_start "$WWW" 'limit_conn_zone $binary_remote_addr zone=fleet:1m;' \
	'location /fleet/ { limit_conn fleet 4; limit_rate 256k; }'
URL=http://127.0.0.1:$NGINX_PORT/fleet/b.ibb

start=$SECONDS
pids=()
for i in $(seq "$FLEET"); do
	"$INSTALL" apply --pubkey "$T/key.pub" --facts "$T/facts.json" --root "$T/vm$i" \
		--download-timeout 150 --url "$URL" >"$T/out$i" 2>"$T/err$i" &
	pids+=("$!")
done
good=0
for i in $(seq "$FLEET"); do
	if wait "${pids[$((i - 1))]}" && grep -q '"driver":	"ofed"' "$T/vm$i/var/lib/ibdrv/state.json"; then
		good=$((good + 1))
	else
		echo "installer $i failed: $(tail -n 1 "$T/err$i")" >&2
	fi
done
[ "$good" -eq "$FLEET" ] && ok || fail "$good of $FLEET installers succeeded"
echo "fleet of $FLEET done in $((SECONDS - start)) s"
[ $((SECONDS - start)) -lt 150 ] && ok || fail "fleet took $((SECONDS - start)) s"

bodies=$(grep -cE '^(200|206) "GET /fleet/b.ibb HTTP' "$NGINX_LOG")
refused=$(grep -c '^503 ' "$NGINX_LOG")
echo "bundle bodies served: $bodies, requests refused by limit_conn: $refused"
[ "$bodies" -le $((FLEET * 11 / 10)) ] && ok || fail "$bodies bundle bodies served for $FLEET installers"
[ "$refused" -gt 0 ] && ok || fail "limit_conn never refused a request: the test proves nothing"

finish
