# ibdrv-build pack on bad input: one line on stderr naming the file and what is wrong, exit 1,
# and nothing left behind (no bundle, no signature, no temporary file).
. "$(dirname "$0")/lib.sh"

"$BUILD" keygen -W -p "$T/k.pub" -s "$T/k.sec" >/dev/null || fail "keygen"
mkdir -p "$T/dst"

# A fresh copy of a small valid input for each case; $M is its manifest.
fresh() {
	rm -rf "$T/in"
	mkdir -p "$T/in/drv/sub"
	printf '#!/bin/sh\nexit 0\n' >"$T/in/drv/install.sh"
	echo data >"$T/in/drv/sub/data.txt"
	M=$T/in/bundle.json
	cat >"$M" <<'JSON'
{"format": 1, "name": "t", "sequence": 1, "drivers": [{
  "id": "ofed", "platform": "linux", "kind": "mlnx-ofed", "version": "1.0",
  "os": [{"family": "linux", "id": "ubuntu", "version": "22.04"}], "nics": ["CX6"],
  "sriov": true, "source": "drv",
  "files": [{"path": "install.sh", "mode": "0755"}, {"path": "sub/data.txt"}],
  "install": {"argv": ["./install.sh"], "timeout_seconds": 60}}]}
JSON
}

# pack_fails TEXT: pack exits 1 with one line containing TEXT and leaves nothing.
pack_fails() {
	expect_rc 1 "$BUILD" pack -q -m "$M" -s "$T/k.sec" -o "$T/dst/b.ibb"
	expect_err "$1"
	[ "$(wc -l <"$T/err")" -eq 1 ] && ok || fail "more than one line: $(cat "$T/err")"
	expect_missing "$T/dst/b.ibb"
	expect_missing "$T/dst/b.ibb.minisig"
	expect_no_tmp "$T/dst"
}

fresh
expect_rc 0 "$BUILD" pack -q -m "$M" -s "$T/k.sec" -o "$T/dst/ok.ibb"

fresh; rm "$T/in/drv/sub/data.txt"
pack_fails "drv/sub/data.txt: payload file is missing"
fresh; ln -sf /etc/hostname "$T/in/drv/sub/data.txt"
pack_fails "drv/sub/data.txt: is a symbolic link"
fresh; rm -r "$T/in/drv/sub"; ln -s /etc "$T/in/drv/sub"
pack_fails "drv/sub: is a symbolic link"
fresh; rm "$T/in/drv/sub/data.txt"; mkfifo "$T/in/drv/sub/data.txt"
pack_fails "drv/sub/data.txt: not a regular file"
fresh; sed -i 's|"sub/data.txt"|"../data.txt"|' "$M"
pack_fails "bundle.json"
fresh; sed -i 's|"sub/data.txt"|"/etc/hostname"|' "$M"
pack_fails "bundle.json"
fresh; sed -i 's|{"path": "sub/data.txt"}|{"path": "sub/data.txt"}, {"path": "sub/data.txt"}|' "$M"
pack_fails "bundle.json"
fresh; sed -i 's|"sequence": 1|"sequence": 1, "sequence": 2|' "$M"
pack_fails "duplicate key"
fresh; sed -i 's|"kind"|"knd"|' "$M"
pack_fails "bundle.json"
fresh; printf '{"format": 1,' >"$M"
pack_fails "bundle.json"

# Keys: truncated, foreign, and a wrong passphrase.
fresh
head -c 60 "$T/k.sec" >"$T/short.sec"
expect_rc 1 "$BUILD" pack -q -m "$M" -s "$T/short.sec" -o "$T/dst/b.ibb"
expect_err "short.sec"
expect_rc 1 "$BUILD" pack -q -m "$M" -s "$T/k.pub" -o "$T/dst/b.ibb"
expect_err "k.pub"
IBDRV_PASSPHRASE=right "$BUILD" keygen -p "$T/e.pub" -s "$T/e.sec" >/dev/null || fail "keygen"
IBDRV_PASSPHRASE=wrong expect_rc 1 "$BUILD" pack -q -m "$M" -s "$T/e.sec" -o "$T/dst/b.ibb"
expect_err "wrong passphrase"
expect_missing "$T/dst/b.ibb"
IBDRV_PASSPHRASE=right expect_rc 0 "$BUILD" pack -q -m "$M" -s "$T/e.sec" -o "$T/dst/e.ibb"
expect_rc 0 "$BUILD" verify -q -p "$T/e.pub" "$T/dst/e.ibb"

# An output folder that cannot be written (missing, or a file in the way).
expect_rc 1 "$BUILD" pack -q -m "$M" -s "$T/k.sec" -o "$T/nowhere/b.ibb"
expect_err "nowhere/b.ibb"
echo x >"$T/afile"
expect_rc 1 "$BUILD" pack -q -m "$M" -s "$T/k.sec" -o "$T/afile/b.ibb"
expect_err "afile/b.ibb"
expect_no_tmp "$T"

# Bad SOURCE_DATE_EPOCH and usage errors.
SOURCE_DATE_EPOCH=yesterday expect_rc 1 "$BUILD" pack -q -m "$M" -s "$T/k.sec" -o "$T/dst/b.ibb"
expect_err "SOURCE_DATE_EPOCH"
expect_rc 2 "$BUILD" pack -m "$M" -o "$T/dst/b.ibb"
expect_rc 2 "$BUILD" pack
finish
