# Shared helpers of the command-line tests; sourced, not run.
# Environment from ctest: IBDRV_SRC (source tree), IBDRV_BIN (build tree), IBDRV_TEST_TMP.
set -u
BUILD="$IBDRV_BIN/ibdrv-build"
INSTALL="$IBDRV_BIN/ibdrv-install"
SRC="$IBDRV_SRC"
mkdir -p "$IBDRV_TEST_TMP"
T=$(mktemp -d "$IBDRV_TEST_TMP/$(basename "$0" .sh).XXXXXX")
FAILS=0
CHECKS=0
trap 'rm -rf "$T"' EXIT

fail() { echo "FAIL: $*" >&2; FAILS=$((FAILS + 1)); }
ok() { CHECKS=$((CHECKS + 1)); }

# expect_rc CODE CMD... : runs CMD, keeps its stderr in $T/err and stdout in $T/out.
expect_rc() {
	local want=$1 got
	shift
	"$@" >"$T/out" 2>"$T/err"
	got=$?
	if [ "$got" -ne "$want" ]; then
		fail "expected exit $want, got $got: $*"
		sed 's/^/    /' "$T/err" >&2
	else
		ok
	fi
}

# expect_err TEXT: the last expect_rc's stderr contains TEXT.
expect_err() {
	if grep -qF -- "$1" "$T/err"; then ok; else
		fail "stderr lacks '$1':"
		sed 's/^/    /' "$T/err" >&2
	fi
}

# expect_one_line: the last expect_rc's stderr is exactly one line (errors are one line).
expect_one_line() {
	if [ "$(wc -l <"$T/err")" -eq 1 ]; then ok; else
		fail "stderr is not one line:"
		sed 's/^/    /' "$T/err" >&2
	fi
}

# pack_ofed_bundle OUT NAME PAYLOAD_BYTES SECKEY: OUT (and OUT.minisig), an uncompressed bundle
# named NAME of one Linux OFED driver for SR-IOV ConnectX-6 VMs on Ubuntu 22.04: PAYLOAD_BYTES
# of random payload.bin and an install.sh that does nothing. Its sources go to $T/ofed-NAME.
pack_ofed_bundle() {
	local dir=$T/ofed-$2
	mkdir -p "$dir/drv"
	head -c "$3" /dev/urandom >"$dir/drv/payload.bin"
	printf '#!/bin/sh\nexit 0\n' >"$dir/drv/install.sh"
	cat >"$dir/bundle.json" <<JSON
{"format": 1, "name": "$2", "sequence": 1, "drivers": [{
  "id": "ofed", "platform": "linux", "kind": "mlnx-ofed", "version": "1.0",
  "os": [{"family": "linux", "id": "ubuntu", "version": "22.04"}], "nics": ["CX6"],
  "sriov": true, "source": "drv",
  "files": [{"path": "install.sh", "mode": "0755"}, {"path": "payload.bin"}],
  "install": {"argv": ["./install.sh"], "timeout_seconds": 60}}]}
JSON
	"$BUILD" pack -q --compression none -m "$dir/bundle.json" -s "$4" -o "$1" >/dev/null || fail "pack $1"
}

# flip_byte FILE OFFSET: inverts the lowest bit of the byte at OFFSET, in place.
flip_byte() {
	local b
	b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
	# shellcheck disable=SC2059
	printf "$(printf '\\%03o' $((b ^ 1)))" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

expect_out() {
	if grep -qF -- "$1" "$T/out"; then ok; else
		fail "stdout lacks '$1':"
		sed 's/^/    /' "$T/out" >&2
	fi
}

expect_missing() {
	if [ -e "$1" ]; then fail "$1 should not exist"; else ok; fi
}

# No temporary files may be left beside an output that failed.
expect_no_tmp() {
	if ls "$1"/*.tmp-* >/dev/null 2>&1; then fail "temporary files left in $1"; else ok; fi
}

finish() {
	echo "$CHECKS passed, $FAILS failed"
	[ "$FAILS" -eq 0 ]
}
