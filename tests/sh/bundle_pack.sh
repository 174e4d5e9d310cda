# Packing: the bundle is a standard tar that tar and bsdtar list, stock minisign
# verifies it, and packing the same inputs again gives the same bytes whatever
# the files' mtimes, modes of creation, umask, working directory, locale or zone.
. "$(dirname "$0")/lib.sh"

export IBDRV_PASSPHRASE=unused
"$BUILD" keygen -W -p "$T/test.pub" -s "$T/test.sec" >/dev/null || fail "keygen"

expect_rc 0 "$BUILD" pack -q -m "$SRC/manifests/demo/bundle.json" -s "$T/test.sec" -o "$T/a.ibb"
expect_out "a.ibb"
[ -s "$T/a.ibb" ] && [ -s "$T/a.ibb.minisig" ] && ok || fail "bundle or signature missing"

# Standard tools read it; the manifest is the first entry.
tar -tf "$T/a.ibb" >"$T/tar.list" 2>"$T/err" && ok || fail "tar -tf: $(cat "$T/err")"
[ "$(head -n 1 "$T/tar.list")" = manifest.json ] && ok || fail "first entry is $(head -n 1 "$T/tar.list")"
bsdtar -tf "$T/a.ibb" >"$T/bsdtar.list" && cmp -s "$T/tar.list" "$T/bsdtar.list" && ok || fail "bsdtar -tf"
grep -q '^drivers/' "$T/tar.list" && ok || fail "no driver files listed"

# Stock minisign accepts it and shows our trusted comment.
expect_rc 0 minisign -Vm "$T/a.ibb" -p "$T/test.pub"
grep -q 'ibdrv-bundle:1' "$T/out" "$T/err" && ok || fail "trusted comment not shown by minisign"
expect_rc 0 "$BUILD" verify -p "$T/test.pub" "$T/a.ibb"

# The manifest inside matches what inspect reports, and sizes/hashes are real.
bsdtar -xOf "$T/a.ibb" manifest.json >"$T/manifest.json"
expect_rc 0 "$BUILD" inspect --json "$T/a.ibb"
grep -q '"sequence"' "$T/out" && ok || fail "inspect --json lacks sequence"
first=$(grep '^drivers/' "$T/tar.list" | head -n 1)
sum=$(bsdtar -xOf "$T/a.ibb" "$first" | b2sum -l 256 | cut -d' ' -f1)
grep -q "$sum" "$T/manifest.json" && ok || fail "hash of $first not in the manifest"
expect_rc 0 "$BUILD" inspect "$T/a.ibb"
expect_out "driver "

# Reproducible: a copy of the inputs with other mtimes, another umask, cwd, locale and zone.
cp -r "$SRC/manifests/demo" "$T/copy"
find "$T/copy" -exec touch -d '2001-02-03 04:05:06' {} +
(cd "$T" && umask 077 && LC_ALL=C.UTF-8 TZ=Asia/Kolkata \
	"$BUILD" pack -q -m copy/bundle.json -s test.sec -o b.ibb >/dev/null) || fail "second pack"
cmp -s "$T/a.ibb" "$T/b.ibb" && ok || fail "bundles differ between two packs"
cmp -s "$T/a.ibb.minisig" "$T/b.ibb.minisig" || {
	# Only the file name in the trusted comment may differ.
	sed 's/file:[^	]*$//' "$T/a.ibb.minisig" | head -n 3 >"$T/sa"
	sed 's/file:[^	]*$//' "$T/b.ibb.minisig" | head -n 3 >"$T/sb"
	cmp -s "$T/sa" "$T/sb" || fail "signatures differ beyond the file name"
}
ok

# SOURCE_DATE_EPOCH is the one timestamp; every compression is reproducible.
for comp in none gzip zstd; do
	for n in 1 2; do
		SOURCE_DATE_EPOCH=1700000000 "$BUILD" pack -q --compression $comp \
			-m "$SRC/manifests/demo/bundle.json" -s "$T/test.sec" -o "$T/$comp.$n.ibb" >/dev/null ||
			fail "pack --compression $comp"
	done
	cmp -s "$T/$comp.1.ibb" "$T/$comp.2.ibb" && ok || fail "$comp bundles differ"
	expect_rc 0 "$BUILD" verify -p "$T/test.pub" "$T/$comp.1.ibb"
	expect_rc 0 minisign -Vm "$T/$comp.1.ibb" -p "$T/test.pub"
done
tar -tvf "$T/zstd.1.ibb" --zstd | grep -q '2023-11-1' && ok || fail "SOURCE_DATE_EPOCH not recorded"
cmp -s "$T/zstd.1.ibb" "$T/a.ibb" && fail "SOURCE_DATE_EPOCH had no effect" || ok
gzip -t <"$T/gzip.1.ibb" && ok || fail "gzip bundle is not gzip"
# Uncompressed: a plain tar whose first header names the manifest; zstd: the zstd frame magic.
[ "$(head -c 13 "$T/none.1.ibb")" = manifest.json ] && tar -tf "$T/none.1.ibb" >/dev/null && ok ||
	fail "uncompressed bundle is not a plain tar starting with manifest.json"
[ "$(head -c 4 "$T/zstd.1.ibb" | od -An -tx1 | tr -d ' ')" = 28b52ffd ] && ok || fail "zstd bundle lacks the zstd magic"

# Levels: accepted within range, refused outside.
expect_rc 0 "$BUILD" pack -q --level 9 -m "$SRC/manifests/demo/bundle.json" -s "$T/test.sec" -o "$T/l9.ibb"
expect_rc 2 "$BUILD" pack -q --level 99 -m "$SRC/manifests/demo/bundle.json" -s "$T/test.sec" -o "$T/l99.ibb"
expect_rc 2 "$BUILD" pack -q --compression none --level 3 -m "$SRC/manifests/demo/bundle.json" -s "$T/test.sec" -o "$T/l3.ibb"
expect_rc 2 "$BUILD" pack -q --compression lz4 -m "$SRC/manifests/demo/bundle.json" -s "$T/test.sec" -o "$T/x.ibb"

# An existing bundle is kept unless -f.
expect_rc 1 "$BUILD" pack -q -m "$SRC/manifests/demo/bundle.json" -s "$T/test.sec" -o "$T/a.ibb"
expect_err "already exists"
expect_rc 0 "$BUILD" pack -q -f -m "$SRC/manifests/demo/bundle.json" -s "$T/test.sec" -o "$T/a.ibb"
expect_no_tmp "$T"
finish
