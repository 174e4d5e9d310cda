# ibdrv-install plan and apply as an operator or image baker runs them: a real bundle, a
# simulated VM (--facts), a scratch --root. Success, reboot, failure, timeout, unsupported VMs,
# tampering, downgrade, the lock, recovery from a killed run, and the download fallback.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_nginx.sh"

"$BUILD" keygen -W -p "$T/test.pub" -s "$T/test.sec" >/dev/null || fail "keygen"
"$BUILD" keygen -W -p "$T/other.pub" -s "$T/other.sec" >/dev/null || fail "keygen"

# A Linux driver whose install script does what $IBDRV_TEST_MODE says.
mkdir -p "$T/in/ofed"
cat >"$T/in/ofed/install.sh" <<'SH'
#!/bin/sh
mkdir -p "$IBDRV_ROOT/var/lib/test-driver"
echo "run $(cat version)" >>"$IBDRV_ROOT/var/lib/test-driver/runs"
case "${IBDRV_TEST_MODE:-ok}" in
ok) exit 0 ;;
reboot) exit 194 ;;
fail) echo "cannot find kernel headers"; echo "installer gave up"; exit 3 ;;
hang) sleep 300 & echo $! >"$IBDRV_ROOT/var/lib/test-driver/child"; sleep 300 ;;
esac
SH
pack() { # pack SEQUENCE VERSION OUT
	echo "$2" >"$T/in/ofed/version"
	cat >"$T/in/bundle.json" <<JSON
{"format": 1, "name": "test", "sequence": $1, "drivers": [{
  "id": "ofed", "platform": "linux", "kind": "mlnx-ofed", "version": "$2",
  "os": [{"family": "linux", "id": "ubuntu", "version": "22.04"}], "nics": ["CX5", "CX6"],
  "sriov": true, "source": "ofed",
  "files": [{"path": "install.sh", "mode": "0755"}, {"path": "version"}],
  "install": {"argv": ["./install.sh"], "timeout_seconds": 3, "success_codes": [0], "reboot_codes": [194]}}]}
JSON
	"$BUILD" pack -q -f -m "$T/in/bundle.json" -s "$T/test.sec" -o "$3" >/dev/null || fail "pack $3"
}
pack 5 1.0 "$T/v5.ibb"
pack 3 0.9 "$T/v3.ibb"
pack 6 1.1 "$T/v6.ibb"

facts() { # facts NAME SIZE OS_JSON NICS_JSON
	printf '{"vm_size": "%s", "os": %s, "nics": %s}\n' "$2" "$3" "$4" >"$T/$1.json"
}
UBUNTU='{"family": "linux", "id": "ubuntu", "version": "22.04"}'
CX6_VF='[{"vendor": "15b3", "device": "101c", "virtual_function": true, "link_layer": "infiniband"}]'
facts hbv2 Standard_HB120rs_v2 "$UBUNTU" "$CX6_VF"
facts d4 Standard_D4s_v3 "$UBUNTU" '[{"vendor": "15b3", "device": "1016", "virtual_function": true, "link_layer": "ethernet"}]'
facts nc3 Standard_NC24rs_v3 '{"family": "windows", "product": "server", "version": "10.0.17763"}' \
	'[{"vendor": "15b3", "device": "1004", "virtual_function": true, "link_layer": "infiniband"}]'

R="$T/root"
runs() { wc -l <"$R/var/lib/test-driver/runs" 2>/dev/null || echo 0; }
apply() { "$INSTALL" apply --pubkey "$T/test.pub" --root "$R" --facts "$T/hbv2.json" "$@"; }

# plan: the decision, no change; the demo bundle for the documented simulated VMs.
"$BUILD" pack -q -m "$SRC/manifests/demo/bundle.json" -s "$T/test.sec" -o "$T/demo.ibb" >/dev/null
expect_rc 0 "$INSTALL" plan --json --bundle "$T/demo.ibb" --pubkey "$T/test.pub" --facts "$T/hbv2.json"
expect_out '"driver":	"mlnx-ofed-linux"'
facts h16 Standard_H16r '{"family": "windows", "product": "server", "version": "10.0.14393"}' '[]'
expect_rc 0 "$INSTALL" plan --json --bundle "$T/demo.ibb" --pubkey "$T/test.pub" --facts "$T/h16.json"
expect_out '"kind":	"nd"'
expect_rc 100 "$INSTALL" plan --json --bundle "$T/demo.ibb" --pubkey "$T/test.pub" --facts "$T/d4.json"
expect_out '"driver":	null'
expect_out 'not an InfiniBand size'
expect_rc 100 "$INSTALL" plan --bundle "$T/demo.ibb" --pubkey "$T/test.pub" --facts "$T/nc3.json"
expect_err "CX3-Pro is not supported there"
expect_missing "$R"

# apply: success, recorded; the same again is a no-op.
expect_rc 0 apply --bundle "$T/v5.ibb"
expect_out "installed ofed mlnx-ofed 1.0"
[ "$(runs)" = 1 ] && ok || fail "install script ran $(runs) times"
grep -q '"bundle_sequence":	5' "$R/var/lib/ibdrv/state.json" && ok || fail "state not recorded"
expect_rc 0 apply --bundle "$T/v5.ibb" --json
expect_out "already installed"
[ "$(runs)" = 1 ] && ok || fail "second apply ran the install script again"
expect_missing "$R/var/lib/ibdrv/staging"

# Downgrade refused before the bundle is read, unless allowed.
cp "$R/var/lib/ibdrv/state.json" "$T/state.before"
expect_rc 100 apply --bundle "$T/v3.ibb"
expect_err "lower than the installed 5"
cmp -s "$R/var/lib/ibdrv/state.json" "$T/state.before" && ok || fail "refused downgrade changed the state"

# Failure: 100 with the command's code and last output; the previous state stays.
IBDRV_TEST_MODE=fail expect_rc 100 apply --bundle "$T/v6.ibb"
expect_err "failed with exit code 3"
expect_err "installer gave up"
cmp -s "$R/var/lib/ibdrv/state.json" "$T/state.before" && ok || fail "failed install changed the state"
expect_missing "$R/var/lib/ibdrv/inprogress.json"

# Reboot required: 3010 in full in --json, 194 (3010 mod 256) as the POSIX exit status.
IBDRV_TEST_MODE=reboot expect_rc 194 apply --bundle "$T/v6.ibb" --json
expect_out '"code":	3010'
grep -q '"last_code":	3010' "$R/var/lib/ibdrv/state.json" && ok || fail "reboot code not recorded"

# Timeout: 840 (72 as an exit status) and the whole process tree is gone.
rm -f "$R/var/lib/ibdrv/state.json"
start=$(date +%s)
IBDRV_TEST_MODE=hang expect_rc 72 apply --bundle "$T/v6.ibb" --json
expect_out '"code":	840'
[ $(($(date +%s) - start)) -lt 20 ] && ok || fail "timeout took $(($(date +%s) - start)) s"
child=$(cat "$R/var/lib/test-driver/child")
sleep 0.2
# A killed orphan may linger as a zombie until init reaps it: that counts as gone.
case "$(awk '{print $3}' "/proc/$child/stat" 2>/dev/null)" in
"" | Z) ok ;;
*) fail "grandchild $child survived the timeout" ;;
esac

# Tampering, a foreign key, a missing signature: 100, nothing run, nothing left in staging.
before=$(runs)
cp "$T/v6.ibb" "$T/bad.ibb"; cp "$T/v6.ibb.minisig" "$T/bad.ibb.minisig"
flip_byte "$T/bad.ibb" 700
expect_rc 100 apply --bundle "$T/bad.ibb"
grep -qE "does not match|not a bundle|signature" "$T/err" && ok || fail "tamper not named: $(cat "$T/err")"
expect_rc 100 "$INSTALL" apply --pubkey "$T/other.pub" --root "$R" --facts "$T/hbv2.json" --bundle "$T/v6.ibb"
expect_err "unknown key"
rm "$T/bad.ibb.minisig"
expect_rc 100 apply --bundle "$T/bad.ibb"
expect_err "bad.ibb.minisig"
[ "$(runs)" = "$before" ] && ok || fail "an unverified bundle's command ran"
expect_missing "$R/var/lib/ibdrv/staging"

# Unsupported VM and a broken facts file: 100, one line naming what is wrong.
expect_rc 100 "$INSTALL" apply --pubkey "$T/test.pub" --root "$R" --facts "$T/d4.json" --bundle "$T/v6.ibb"
expect_err "Standard_D4s_v3"
echo '{"vm_size": 3}' >"$T/broken.json"
expect_rc 100 "$INSTALL" apply --pubkey "$T/test.pub" --root "$R" --facts "$T/broken.json" --bundle "$T/v6.ibb"
expect_err "broken.json"

# One run at a time: another holder of the lock makes a run wait, then give up with 240.
mkdir -p "$R/var/lib/ibdrv"
flock "$R/var/lib/ibdrv/run.lock" sleep 8 &
locker=$!
sleep 0.5
expect_rc 240 apply --bundle "$T/v6.ibb" --lock-wait 1
expect_err "run.lock"
kill "$locker" 2>/dev/null; wait "$locker" 2>/dev/null

# A run killed mid-install left its journal: the next run installs again even if the state
# says the driver is there.
expect_rc 0 apply --bundle "$T/v6.ibb"
before=$(runs)
printf '{"format": 1, "driver": "ofed", "kind": "mlnx-ofed", "version": "1.1", "bundle": "test", "bundle_sequence": 6, "started_at": "2026-01-01T00:00:00Z", "pid": 1}\n' \
	>"$R/var/lib/ibdrv/inprogress.json"
mkdir -p "$R/var/lib/ibdrv/staging/leftover"
expect_rc 0 apply --bundle "$T/v6.ibb"
expect_err "installing again"
[ "$(runs)" = $((before + 1)) ] && ok || fail "interrupted install was not redone"
expect_missing "$R/var/lib/ibdrv/inprogress.json"

# The image-baking folder is searched when no --bundle is given.
R="$T/root2"
mkdir -p "$R/var/lib/ibdrv/bundles"
cp "$T/v5.ibb" "$T/v5.ibb.minisig" "$T/v6.ibb" "$T/v6.ibb.minisig" "$R/var/lib/ibdrv/bundles/"
expect_rc 0 apply
expect_err "image-baking folder"
grep -q '"bundle_sequence":	6' "$R/var/lib/ibdrv/state.json" && ok || fail "highest sequence not chosen"

# No bundle anywhere and no URL: 100 naming where it looked.
R="$T/root3"
expect_rc 100 apply
expect_err "no bundle"

# Download fallback from a real nginx: verified into the cache, installed, reused next time.
mkdir -p "$T/www"
cp "$T/v6.ibb" "$T/v6.ibb.minisig" "$T/www/"
nginx_start "$T/www"
R="$T/root4"
expect_rc 0 apply --url "http://127.0.0.1:$NGINX_PORT/v6.ibb"
[ -s "$R/var/lib/ibdrv/cache/test.ibb" ] && ok || fail "downloaded bundle not cached"
rm "$R/var/lib/ibdrv/state.json"
requests=$(grep -c 'GET /v6.ibb ' "$NGINX_LOG")
expect_rc 0 apply --url "http://127.0.0.1:$NGINX_PORT/v6.ibb"
expect_err "download cache"
[ "$(grep -c 'GET /v6.ibb ' "$NGINX_LOG")" = "$requests" ] && ok || fail "cache not reused"
# A cached bundle that no longer verifies is removed and downloaded again, read as it arrives.
rm "$R/var/lib/ibdrv/state.json"
flip_byte "$R/var/lib/ibdrv/cache/test.ibb" 100
expect_rc 0 apply --url "http://127.0.0.1:$NGINX_PORT/v6.ibb"
expect_err "removing it from the cache and downloading again"
[ "$(grep -c 'GET /v6.ibb ' "$NGINX_LOG")" = $((requests + 1)) ] && ok || fail "bad cache entry not fetched again"
cmp -s "$R/var/lib/ibdrv/cache/test.ibb" "$T/v6.ibb" && ok || fail "cache does not hold the good bundle again"
grep -q '"version":	"1.1"' "$R/var/lib/ibdrv/state.json" && ok || fail "not installed from the download"
expect_no_tmp "$R/var/lib/ibdrv/cache"

# A bundle tampered on the server: 100, nothing installed, nothing cached.
mkdir "$T/www/bad"
cp "$T/bad.ibb" "$T/www/bad/v6.ibb"; cp "$T/v6.ibb.minisig" "$T/www/bad/v6.ibb.minisig"
R="$T/root5"
expect_rc 100 apply --url "http://127.0.0.1:$NGINX_PORT/bad/v6.ibb"
expect_err "bad/v6.ibb"
expect_missing "$R/var/lib/ibdrv/state.json"
ls "$R/var/lib/ibdrv/cache/" 2>/dev/null | grep -q . && fail "cache not empty after a bad download" || ok

# Nothing reachable: 100 naming the URL.
R="$T/root6"
expect_rc 100 apply --url "http://127.0.0.1:9/none.ibb" --download-timeout 20
expect_err "127.0.0.1:9"
finish
