#!/usr/bin/env bash
# The extension package and its handler, driven exactly as the Azure guest agent drives them:
# the zip from `ibdrv-build extension` unpacked into a handler folder, HandlerEnvironment.json
# and <seq>.settings written beside it, each command of HandlerManifest.json run through a shell
# from the handler folder with the agent's environment variables, results read from the status
# folder. Every VM gets its own root (IBDRV_ROOT) so that nothing touches the real system.
source "$IBDRV_SRC/tests/sh/lib.sh"

LOCKERS=()

# Unless a case says otherwise, the VM is an HB120rs_v2 on Ubuntu 22.04 with its ConnectX-6 VF.
cat >"$T/hbv2.json" <<'JSON'
{"vm_size": "Standard_HB120rs_v2", "os": {"family": "linux", "id": "ubuntu", "version": "22.04"},
 "nics": [{"vendor": "15b3", "device": "101c", "virtual_function": true, "link_layer": "infiniband"}]}
JSON
export IBDRV_FACTS="$T/hbv2.json"
cleanup() {
	local pid
	for pid in "${LOCKERS[@]}"; do kill -- "-$pid" 2>/dev/null; done
	# Workers still running would write into $T while it is being removed.
	for f in "$T"/*/root/var/lib/ibdrv/worker.lock; do
		[ -s "$f" ] && ! flock -n "$f" true && pid=$(head -n1 "$f") && kill -9 "$pid" 2>/dev/null
	done
	return 0
}
trap 'cleanup; rm -rf "$T"' EXIT

minisign -G -W -p "$T/k1.pub" -s "$T/k1.sec" >/dev/null
minisign -G -W -p "$T/k2.pub" -s "$T/k2.sec" >/dev/null

# --- the package -----------------------------------------------------------------------------

expect_rc 0 "$BUILD" extension --installer "$INSTALL" --pubkey "$T/k1.pub" \
	--url https://mirror.example/ib.tar.zst -o "$T/ext.zip"
expect_out "$T/ext.zip: 4 entries"
expect_rc 0 bsdtar -tf "$T/ext.zip"
if [ "$(tr '\n' ' ' <"$T/out")" = "HandlerManifest.json ibdrv-install ibdrv.json keys/k1.pub " ]; then
	ok
else fail "unexpected package entries: $(cat "$T/out")"; fi

# Byte for byte the same whatever the time zone, and SOURCE_DATE_EPOCH sets the times.
TZ=Pacific/Auckland "$BUILD" extension --installer "$INSTALL" --pubkey "$T/k1.pub" \
	--url https://mirror.example/ib.tar.zst -o "$T/ext2.zip" >/dev/null
if cmp -s "$T/ext.zip" "$T/ext2.zip"; then ok; else fail "extension zip is not reproducible"; fi
SOURCE_DATE_EPOCH=1700000000 "$BUILD" extension --installer "$INSTALL" --pubkey "$T/k1.pub" \
	-o "$T/ext3.zip" >/dev/null
if bsdtar -tvf "$T/ext3.zip" | grep -q "Nov 14  2023"; then ok; else
	fail "SOURCE_DATE_EPOCH not used: $(bsdtar -tvf "$T/ext3.zip")"
fi
expect_rc 2 env SOURCE_DATE_EPOCH=12 "$BUILD" extension --installer "$INSTALL" --pubkey "$T/k1.pub" \
	-o "$T/bad.zip"
expect_err "SOURCE_DATE_EPOCH"
expect_rc 1 "$BUILD" extension --installer "$INSTALL" --pubkey "$T/k1.pub" -o "$T/ext.zip"
expect_err "already exists"

mkdir -p "$T/pkg" && bsdtar -xf "$T/ext.zip" -C "$T/pkg"
if [ -x "$T/pkg/ibdrv-install" ]; then ok; else fail "installer not executable in the package"; fi
expect_rc 0 jq -e '.[0].handlerManifest | .enableCommand == "ibdrv-install enable" and
	.installCommand == "ibdrv-install install" and .reportHeartbeat == false and
	.rebootAfterInstall == false and .supportsMultipleExtensions == false and
	.updateMode == "UpdateWithInstall"' "$T/pkg/HandlerManifest.json"
expect_rc 0 jq -e '.[0].name == "Microsoft.HpcCompute.InfiniBandDriverLinux"' \
	"$T/pkg/HandlerManifest.json"
expect_rc 0 jq -e '. == {"format": 1, "keys": ["keys/k1.pub"], "urls": ["https://mirror.example/ib.tar.zst"]}' \
	"$T/pkg/ibdrv.json"
if cmp -s "$T/k1.pub" "$T/pkg/keys/k1.pub"; then ok; else fail "key not packaged as is"; fi

# A baked-in bundle must verify with one of the package's keys (here the demo bundle, packed
# with the minisign-made key), entries and all; a file that is merely signed is not a bundle.
"$BUILD" pack -q -m "$IBDRV_SRC/manifests/demo/bundle.json" -s "$T/k1.sec" -o "$T/b.tar.zst" >/dev/null ||
	fail "pack"
head -c 7000 /dev/urandom >"$T/plain.bin"
minisign -S -s "$T/k1.sec" -m "$T/plain.bin" >/dev/null
expect_rc 1 "$BUILD" extension --installer "$INSTALL" --pubkey "$T/k1.pub" --bundle "$T/plain.bin" \
	-o "$T/bad.zip"
expect_err "not an ibdrv bundle"
expect_rc 0 "$BUILD" extension --installer "$INSTALL" --pubkey "$T/k2.pub" --pubkey "$T/k1.pub" \
	--bundle "$T/b.tar.zst" -o "$T/extb.zip"
expect_rc 0 bsdtar -tf "$T/extb.zip"
expect_out "bundle/b.tar.zst.minisig"
expect_rc 1 "$BUILD" extension --installer "$INSTALL" --pubkey "$T/k2.pub" --bundle "$T/b.tar.zst" \
	-o "$T/bad.zip"
expect_err "b.tar.zst.minisig"
cp "$T/b.tar.zst" "$T/t.tar.zst" && cp "$T/b.tar.zst.minisig" "$T/t.tar.zst.minisig"
printf 'tampered' | dd of="$T/t.tar.zst" bs=1 seek=1000 conv=notrunc status=none
expect_rc 1 "$BUILD" extension --installer "$INSTALL" --pubkey "$T/k1.pub" --bundle "$T/t.tar.zst" \
	-o "$T/bad.zip"
expect_err "t.tar.zst"
expect_rc 2 "$BUILD" extension --installer "$INSTALL" -o "$T/bad.zip"
expect_rc 2 "$BUILD" extension --installer "$INSTALL" --pubkey "$T/k1.pub" --url ftp://x -o "$T/bad.zip"
expect_err "--url ftp://x"
expect_missing "$T/bad.zip"
expect_no_tmp "$T"

# --- the agent's side ------------------------------------------------------------------------

# new_vm NAME [ZIP]: unpacks the package into a fresh handler folder and writes the
# HandlerEnvironment.json the agent would; sets VM (its folder), H (handler), ST (status),
# CF (config), LOG (log file) and the root of the VM's system paths.
new_vm() {
	VM="$T/$1"
	H="$VM/waagent/Microsoft.HpcCompute.InfiniBandDriverLinux-1.5.0"
	CF="$H/config"
	ST="$H/status"
	LOG="$VM/log/ibdrv.log"
	rm -rf "$VM"
	mkdir -p "$H" "$VM/root"
	bsdtar -xf "${2:-$T/ext.zip}" -C "$H"
	mkdir -p "$CF" "$ST"
	cat >"$H/HandlerEnvironment.json" <<-EOF
		[{"name": "Microsoft.HpcCompute.InfiniBandDriverLinux", "version": 1.0,
		  "handlerEnvironment": {"logFolder": "$VM/log", "configFolder": "$CF",
		  "statusFolder": "$ST", "heartbeatFile": "$H/heartbeat.log",
		  "eventsFolder": "$H/events", "deploymentid": "d", "rolename": "r", "instance": "i"}}]
	EOF
	export IBDRV_ROOT="$VM/root"
	STATE="$VM/root/var/lib/ibdrv"
}

# settings SEQ [PUBLIC_JSON]: what the agent writes for a configuration (no JSON: empty file).
settings() {
	if [ $# -lt 2 ]; then
		: >"$CF/$1.settings"
	else
		printf '{"runtimeSettings":[{"handlerSettings":{"protectedSettingsCertThumbprint":"%s","protectedSettings":"%s","publicSettings":%s}}]}' \
			"1BE9A13AA1321C7C515EF109746998BAB6D86FD1" "MIIByAYJKoZIhvcNAQcDoIIBuTopSecretValue==" \
			"$2" >"$CF/$1.settings"
	fi
}

# agent OP SEQ [OPTIONS...]: runs OP's command from HandlerManifest.json as the agent does
# (through a shell, from the handler folder, with its environment; SEQ "-": no
# ConfigSequenceNumber, as with older agents). Exit code in $RC.
agent() {
	local op=$1 seq=$2 cmd
	local vars=(AZURE_GUEST_AGENT_EXTENSION_PATH="$H" AZURE_GUEST_AGENT_EXTENSION_VERSION=1.5.0
		AZURE_GUEST_AGENT_UNINSTALL_CMD_EXIT_CODE=NOT_RUN
		AZURE_GUEST_AGENT_WIRE_PROTOCOL_ADDRESS=168.63.129.16)
	shift 2
	[ "$seq" = - ] || vars+=(ConfigSequenceNumber="$seq")
	cmd=$(jq -r ".[0].handlerManifest.${op}Command" "$H/HandlerManifest.json")
	(cd "$H" && env -u ConfigSequenceNumber "${vars[@]}" sh -c "$H/$cmd $*" >"$T/out" 2>"$T/err")
	RC=$?
}

expect_agent_rc() {
	if [ "$RC" -eq "$1" ]; then ok; else
		fail "$2: exit code $RC, expected $1"
		sed 's/^/    /' "$T/err" >&2
	fi
}

status_field() { jq -r ".[0].status.$2" "$ST/$1.status" 2>/dev/null; }

# wait_done SEQ: waits until SEQ's status is final and the worker has gone.
wait_done() {
	local i
	for i in $(seq 1 600); do
		case $(status_field "$1" status) in
		success | error) break ;;
		esac
		sleep 0.1
	done
	for i in $(seq 1 300); do
		flock -n "$STATE/worker.lock" true && return 0
		sleep 0.1
	done
	fail "sequence $1: no final status or worker still running: $(cat "$ST/$1.status" 2>/dev/null)"
}

# expect_status SEQ STATUS CODE [MESSAGE_PART]
expect_status() {
	local got code msg
	got=$(status_field "$1" status)
	code=$(status_field "$1" code)
	msg=$(status_field "$1" formattedMessage.message)
	if [ "$got" = "$2" ] && [ "$code" = "$3" ]; then ok; else
		fail "sequence $1: status $got code $code, expected $2 $3 ($msg)"
	fi
	if [ $# -ge 4 ]; then
		case $msg in
		*"$4"*) ok ;;
		*) fail "sequence $1: message '$msg' lacks '$4'" ;;
		esac
	fi
	# The agent's format: one element, version, UTC time, name, lang; at most 128 KiB.
	if jq -e 'length == 1 and .[0].version == "1.0" and
		(.[0].timestampUTC | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$")) and
		.[0].status.name == "Microsoft.HpcCompute.InfiniBandDriverLinux" and
		.[0].status.operation == "Enable" and .[0].status.substatus == [] and
		.[0].status.formattedMessage.lang == "en-US"' "$ST/$1.status" >/dev/null &&
		[ "$(stat -c %s "$ST/$1.status")" -le 131072 ]; then ok; else
		fail "sequence $1: malformed status file: $(cat "$ST/$1.status")"
	fi
}

expect_log() {
	if grep -qF -- "$1" "$LOG"; then ok; else
		fail "log lacks '$1':"
		sed 's/^/    /' "$LOG" >&2
	fi
}

# Secrets never reach the log or the status, and sanitizers found nothing.
expect_clean_log() {
	if grep -q "TopSecretValue" "$LOG" "$ST"/*.status; then fail "protected settings leaked"; else ok; fi
	if grep -qE "Sanitizer|runtime error" "$LOG"; then
		fail "sanitizer report in the log:"
		sed 's/^/    /' "$LOG" >&2
	else ok; fi
}

# hold_lock FILE: another process (a manual `ibdrv-install apply`, say) holds FILE's lock.
hold_lock() {
	setsid flock -o "$1" sleep 300 >/dev/null 2>&1 &
	LOCKERS+=($!)
	local i
	for i in $(seq 1 100); do
		flock -n "$1" true || return 0
		sleep 0.05
	done
	fail "could not hold $1"
}
release_locks() {
	local pid
	for pid in "${LOCKERS[@]}"; do kill -- "-$pid" 2>/dev/null; done
	LOCKERS=()
}

worker_pid() { head -n1 "$STATE/worker.lock" 2>/dev/null; }

# running PID: alive and not a zombie (the init of a container may never reap orphans).
running() { kill -0 "$1" 2>/dev/null && ! grep -q '^[0-9]* (.*) Z' "/proc/$1/stat" 2>/dev/null; }

# outcome NAME PUBLIC_JSON STATUS CODE [MESSAGE_PART]: a fresh VM, install then enable
# with these public settings, the worker waited for, the final status checked.
# IBDRV_FACTS, when set, is what the engine sees of the VM.
outcome() {
	new_vm "$1" "${OUTCOME_ZIP:-$T/ext.zip}"
	settings 0 "$2"
	agent install 0
	expect_agent_rc 0 "$1: install"
	agent enable 0
	expect_agent_rc 0 "$1: enable"
	wait_done 0
	expect_status 0 "$3" "$4" "${5:-}"
	expect_clean_log
}

# --- install and enable ----------------------------------------------------------------------

# The engine reports a bundle that is not there as code 100, naming it.
outcome missing-bundle '{"bundlePath": "/nonexistent/ib.tar.zst"}' error 100 "/nonexistent/ib.tar.zst"
expect_log "package ready: 1 key(s), 1 URL(s)"
expect_log "worker pid"
if [ "$(cat "$H/mrseq")" = 0 ]; then ok; else fail "mrseq is '$(cat "$H/mrseq")', expected 0"; fi

# The same sequence number again is skipped, leaving the status as it is.
cp "$ST/0.status" "$T/0.status.before"
sleep 1
agent enable 0
expect_agent_rc 0 "repeated enable"
if cmp -s "$ST/0.status" "$T/0.status.before"; then ok; else fail "status changed by a repeated enable"; fi
expect_log "sequence 0: already processed (error, code 100)"
# An older one too.
settings 1 '{"bundlePath": "/nonexistent/other.tar.zst"}'
echo 1 >"$H/mrseq"
agent enable 0
expect_agent_rc 0 "older sequence number"
expect_log "sequence 0: older than the last one taken on (1)"
expect_missing "$ST/1.status"

# Without ConfigSequenceNumber the newest settings file counts, as for the agent.
echo 0 >"$H/mrseq"
agent enable -
expect_agent_rc 0 "enable without ConfigSequenceNumber"
wait_done 1
expect_status 1 error 100 "/nonexistent/other.tar.zst"

# A damaged mrseq does not block the next configuration.
echo "garbage" >"$H/mrseq"
settings 2 '{"bundlePath": "/nonexistent/third.tar.zst"}'
agent enable 2
expect_agent_rc 0 "enable over a damaged mrseq"
wait_done 2
expect_status 2 error 100 "/nonexistent/third.tar.zst"
if [ "$(cat "$H/mrseq")" = 2 ]; then ok; else fail "mrseq not rewritten: $(cat "$H/mrseq")"; fi

# Bad settings fail at once, without a worker, and are not retried.
new_vm badsettings
settings 0 '{"bundleUrls": ["ftp://mirror.example/ib.tar.zst"], "unknownKey": 1}'
agent enable 0
expect_agent_rc 100 "enable with bad settings"
expect_status 0 error 100 "publicSettings.bundleUrls[0]: expected an http:// or https:// URL"
expect_log 'publicSettings: unknown setting "unknownKey" ignored'
expect_clean_log
if grep -q "worker pid" "$LOG"; then fail "a worker started for bad settings"; else ok; fi
agent enable 0
expect_agent_rc 0 "enable with the same bad settings"
for bad in '{"downloadTimeoutSeconds": 0}' '{"downloadTimeoutSeconds": 1.5}' \
	'{"allowDowngrade": "yes"}' '{"bundlePath": "relative/b.tar.zst"}' '{"bundleUrls": []}' \
	'{"caCertPath": 7}' '[]'; do
	new_vm bad2
	settings 0 "$bad"
	agent enable 0
	expect_agent_rc 100 "enable with $bad"
	expect_status 0 error 100 "0.settings"
done
new_vm badjson
printf '{"runtimeSettings": [' >"$CF/0.settings"
agent enable 0
expect_agent_rc 100 "enable with unreadable settings"
expect_status 0 error 100 "not valid JSON"

# The agent's files missing or broken: a clear message, no status to write to.
new_vm noenv
rm "$H/HandlerEnvironment.json"
agent enable 0
expect_agent_rc 100 "enable without HandlerEnvironment.json"
expect_err "HandlerEnvironment.json"
new_vm nosettings
agent enable -
expect_agent_rc 100 "enable without settings"
expect_err "no <n>.settings file"

# A broken package is refused by install already.
new_vm badpkg
echo '{"format": 1, "keys": ["../k.pub"], "urls": []}' >"$H/ibdrv.json"
agent install 0
expect_agent_rc 100 "install of a broken package"
expect_err "keys[0]: expected a relative path inside the package"

# The heartbeat file is kept when the manifest asks for it.
new_vm heartbeat
jq '.[0].handlerManifest.reportHeartbeat = true' "$H/HandlerManifest.json" >"$T/hm" &&
	mv "$T/hm" "$H/HandlerManifest.json"
settings 0 '{"bundlePath": "/nonexistent/ib.tar.zst"}'
agent enable 0
wait_done 0
expect_rc 0 jq -e '.[0].heartbeat.status == "NotReady" and
	(.[0].heartbeat.formattedMessage.message | contains("/nonexistent/ib.tar.zst"))' "$H/heartbeat.log"

# --- one run at a time, and surviving the agent ----------------------------------------------

# Another run holds the run lock: the worker waits and says so, and a newer configuration
# arriving meanwhile goes to the same worker, which applies only the newest.
new_vm queue
settings 0 '{"bundlePath": "/nonexistent/a.tar.zst"}'
agent install 0
hold_lock "$STATE/run.lock"
# The agent kills enable's process group when it takes too long; the worker must not care.
(
	cd "$H" || exit
	ConfigSequenceNumber=0 setsid sh -c "./ibdrv-install enable; sleep 60" >/dev/null 2>&1 &
	echo $! >"$T/enable.pid"
)
for i in $(seq 1 100); do
	[ "$(status_field 0 formattedMessage.message)" != "Installing the InfiniBand driver: starting" ] &&
		[ -n "$(status_field 0 status)" ] && break
	sleep 0.1
done
expect_status 0 transitioning 0 "run.lock: held by another process"
W=$(worker_pid)
kill -9 -- "-$(cat "$T/enable.pid")"
sleep 0.3
if [ -n "$W" ] && running "$W"; then ok; else fail "worker died with enable's process group"; fi
settings 1 '{"bundlePath": "/nonexistent/b.tar.zst"}'
agent enable 1
expect_agent_rc 0 "enable while a worker runs"
expect_log "worker pid $W will next take on sequence 1"
if [ "$(worker_pid)" = "$W" ]; then ok; else fail "a second worker started"; fi
release_locks
wait_done 1
expect_status 0 error 100 "not applied: replaced by configuration 1"
expect_status 1 error 100 "/nonexistent/b.tar.zst"
expect_clean_log

# Waiting has a limit: 240, naming the lock and who holds it.
new_vm busy
settings 0 '{"bundlePath": "/nonexistent/a.tar.zst"}'
agent install 0
hold_lock "$STATE/run.lock"
agent enable 0 --lock-wait 1
expect_agent_rc 0 "enable while another run holds the lock"
wait_done 0
expect_status 0 error 240 "run.lock: held by another process; gave up after 1 s"
release_locks

# A worker killed mid-way (a reboot) leaves the status transitioning; the next enable of the
# same configuration resumes it.
new_vm resume
settings 0 '{"bundlePath": "/nonexistent/a.tar.zst"}'
agent install 0
hold_lock "$STATE/run.lock"
agent enable 0
for i in $(seq 1 100); do [ -n "$(worker_pid)" ] && break; sleep 0.05; done
kill -9 "$(worker_pid)"
sleep 0.2
expect_status 0 transitioning 0
release_locks
agent enable 0
expect_agent_rc 0 "enable after a killed worker"
expect_log "sequence 0: taken on but never finished"
expect_log "status 0: transitioning, code 0: Installing the InfiniBand driver: resuming after an interruption"
wait_done 0
expect_status 0 error 100 "/nonexistent/a.tar.zst"

# Disable waits for the worker (up to --wait), never kills it.
new_vm disable
settings 0 '{"bundlePath": "/nonexistent/a.tar.zst"}'
agent install 0
hold_lock "$STATE/run.lock"
agent enable 0
for i in $(seq 1 100); do [ -n "$(worker_pid)" ] && break; sleep 0.05; done
W=$(worker_pid)
start=$SECONDS
agent disable 0 --wait 1
expect_agent_rc 0 "disable while a worker runs"
expect_log "worker pid $W still running after 1 s"
if running "$W"; then ok; else fail "disable killed the worker"; fi
release_locks
agent disable 0
expect_agent_rc 0 "disable"
if [ "$(status_field 0 status)" = error ] && ! running "$W"; then ok; else
	fail "disable returned before the worker finished: $(cat "$ST/0.status")"
	sed 's/^/    /' "$LOG" >&2
fi

# Uninstall frees downloads and scratch space; the installed state and drivers stay.
mkdir -p "$STATE/cache/x" "$STATE/staging/d" "$STATE/bundles"
echo data >"$STATE/cache/x/b.tar.zst"
cat >"$STATE/state.json" <<EOF
{"format": 1, "driver": "nd-1", "kind": "nd", "version": "1.0", "bundle": "b",
 "bundle_sequence": 3, "installed_at": "2024-01-01T00:00:00Z", "last_code": 0,
 "last_run_at": "2024-01-01T00:00:00Z"}
EOF
agent uninstall 0
expect_agent_rc 0 "uninstall"
expect_missing "$STATE/cache"
expect_missing "$STATE/staging"
if [ -f "$STATE/state.json" ] && [ -d "$STATE/bundles" ]; then ok; else fail "uninstall removed the state"; fi
agent update 0
expect_agent_rc 0 "update"
expect_clean_log

# --- the engine's outcomes through the handler -------------------------------------------------

# A package with a bundle baked in (signed with the minisign-made key the package trusts) whose
# Linux driver's install script does what IBDRV_TEST_MODE says.
mkdir -p "$T/drv/ofed"
cat >"$T/drv/ofed/install.sh" <<'SH'
#!/bin/sh
case "${IBDRV_TEST_MODE:-ok}" in
ok) exit 0 ;;
reboot) exit 194 ;;
hang) sleep 300 ;;
esac
SH
bundle() { # bundle SEQUENCE OUT KEY
	cat >"$T/drv/bundle.json" <<JSON
{"format": 1, "name": "hb", "sequence": $1, "drivers": [{
  "id": "ofed", "platform": "linux", "kind": "mlnx-ofed", "version": "1.0",
  "os": [{"family": "linux", "id": "ubuntu", "version": "22.04"}], "nics": ["CX6"],
  "sriov": true, "source": "ofed", "files": [{"path": "install.sh", "mode": "0755"}],
  "install": {"argv": ["./install.sh"], "timeout_seconds": 2, "success_codes": [0], "reboot_codes": [194]}}]}
JSON
	"$BUILD" pack -q -f -m "$T/drv/bundle.json" -s "$3" -o "$2" >/dev/null || fail "pack $2"
}
bundle 4 "$T/hb.ibb" "$T/k1.sec"
bundle 4 "$T/foreign.ibb" "$T/k2.sec"
cp "$T/hb.ibb" "$T/tampered.ibb"
cp "$T/hb.ibb.minisig" "$T/tampered.ibb.minisig"
flip_byte "$T/tampered.ibb" 600
expect_rc 0 "$BUILD" extension --installer "$INSTALL" --pubkey "$T/k1.pub" --bundle "$T/hb.ibb" \
	-o "$T/baked.zip"
OUTCOME_ZIP="$T/baked.zip"

outcome success '{}' success 0 "installed ofed mlnx-ofed 1.0"
IBDRV_TEST_MODE=reboot outcome reboot '{}' success 3010 "reboot required"
IBDRV_TEST_MODE=hang outcome timeout '{}' error 840 "timed out after 2 s"
cat >"$T/d4.json" <<'JSON'
{"vm_size": "Standard_D4s_v3", "os": {"family": "linux", "id": "ubuntu", "version": "22.04"}, "nics": []}
JSON
IBDRV_FACTS="$T/d4.json" outcome not-ib '{}' error 100 "not an InfiniBand size"
outcome bad-signature "{\"bundlePath\": \"$T/foreign.ibb\"}" error 100 "unknown key"
outcome tampered "{\"bundlePath\": \"$T/tampered.ibb\"}" error 100 "tampered.ibb"

# Downgrade: the VM already has a driver from bundle sequence 9.
new_vm downgrade "$T/baked.zip"
mkdir -p "$STATE"
cat >"$STATE/state.json" <<JSON
{"format": 1, "driver": "ofed", "kind": "mlnx-ofed", "version": "2.0", "bundle": "hb",
 "bundle_sequence": 9, "installed_at": "2024-01-01T00:00:00Z", "last_code": 0,
 "last_run_at": "2024-01-01T00:00:00Z"}
JSON
settings 0 '{}'
agent install 0
agent enable 0
expect_agent_rc 0 "downgrade: enable"
wait_done 0
expect_status 0 error 100 "lower than the installed 9"
settings 1 '{"allowDowngrade": true}'
agent enable 1
wait_done 1
expect_status 1 success 0 "installed ofed"
unset OUTCOME_ZIP

# --- download in handler mode ----------------------------------------------------------------

# No bundle on the VM: the worker downloads one from the settings' bundleUrls, served by nginx
# slowly enough (about 5 s) that the status shows the download's percentage as it goes.
source "$IBDRV_SRC/tests/sh/lib_nginx.sh"
trap 'stop_servers; cleanup; rm -rf "$T"' EXIT
mkdir -p "$T/www"
pack_ofed_bundle "$T/www/dl.ibb" dl 3000000 "$T/k1.sec"
nginx_start "$T/www" '' 'limit_rate 600k;'
new_vm download
settings 0 "{\"bundleUrls\": [\"http://127.0.0.1:$NGINX_PORT/dl.ibb\"]}"
agent install 0
agent enable 0
expect_agent_rc 0 "download: enable"
: >"$T/seen"
for i in $(seq 1 300); do
	status_field 0 formattedMessage.message >>"$T/seen"
	case $(status_field 0 status) in success | error) break ;; esac
	sleep 0.1
done
wait_done 0
expect_status 0 success 0 "installed ofed mlnx-ofed 1.0"
grep -qE 'Installing the InfiniBand driver \(([1-9]|[1-9][0-9])%\): downloading and verifying the bundle \([0-9.]+ of 2\.9 MiB\)' \
	"$T/seen" && ok || fail "no download percentage in the status: $(sort -u "$T/seen")"
expect_log "download: 2.9 of 2.9 MiB (100%)"
expect_log "verified, saved as $STATE/cache/dl.ibb"
cmp -s "$STATE/cache/dl.ibb" "$T/www/dl.ibb" && ok || fail "downloaded bundle not in the cache"

