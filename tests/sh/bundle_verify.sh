# Verification of bundles: any change to the bundle or its signature is caught
# and named; a validly signed bundle whose entries disagree with its manifest
# (a link, an extra, duplicate, missing or oversized entry) is refused too.
. "$(dirname "$0")/lib.sh"

"$BUILD" keygen -W -p "$T/test.pub" -s "$T/test.sec" >/dev/null || fail "keygen"
"$BUILD" keygen -W -p "$T/other.pub" -s "$T/other.sec" >/dev/null || fail "keygen"
"$BUILD" pack -q --compression none -m "$SRC/manifests/demo/bundle.json" -s "$T/test.sec" -o "$T/b.ibb" >/dev/null || fail "pack"
expect_rc 0 "$BUILD" verify -p "$T/test.pub" "$T/b.ibb"

fresh() { cp "$T/b.ibb" "$T/t.ibb"; cp "$T/b.ibb.minisig" "$T/t.ibb.minisig"; }

# A flipped byte inside a payload entry: named by the entry's hash check.
fresh
first=$(tar -tf "$T/b.ibb" | grep '^drivers/' | head -n 1)
off=$(grep -abo 'ibdrv-demo' "$T/t.ibb" | sed -n '2p' | cut -d: -f1)
[ -n "$off" ] || off=4096
printf 'X' | dd of="$T/t.ibb" bs=1 seek="$off" conv=notrunc status=none
expect_rc 1 "$BUILD" verify -p "$T/test.pub" "$T/t.ibb"
grep -qE "does not match|signature" "$T/err" && ok || fail "tampered byte not named: $(cat "$T/err")"
expect_rc 1 minisign -Vm "$T/t.ibb" -p "$T/test.pub"

# Truncated and extended bundles are caught by the signed size before reading.
fresh
head -c 2000 "$T/b.ibb" >"$T/t.ibb"
expect_rc 1 "$BUILD" verify -p "$T/test.pub" "$T/t.ibb"
expect_err "truncated"
fresh
printf 'junk' >>"$T/t.ibb"
expect_rc 1 "$BUILD" verify -p "$T/test.pub" "$T/t.ibb"
expect_err "extended"

# The trusted comment is signed; so is the key id.
fresh
sed -i 's/sequence:[0-9]*/sequence:999/' "$T/t.ibb.minisig"
expect_rc 1 "$BUILD" verify -p "$T/test.pub" "$T/t.ibb"
expect_err "trusted comment"
fresh
expect_rc 1 "$BUILD" verify -p "$T/other.pub" "$T/t.ibb"
expect_err "key"
fresh
rm "$T/t.ibb.minisig"
expect_rc 1 "$BUILD" verify -p "$T/test.pub" "$T/t.ibb"
expect_err "t.ibb.minisig"

# Re-signed bundles built by hand: the signature is valid, the content is not.
mkdir "$T/x"
bsdtar -xf "$T/b.ibb" -C "$T/x"
entries=$(tar -tf "$T/b.ibb")
resign() { # resign BUNDLE: a valid bundle signature for whatever BUNDLE now holds
	local size hash seq
	size=$(stat -c %s "$1")
	hash=$(bsdtar -xOf "$1" manifest.json | b2sum -l 256 | cut -d' ' -f1)
	seq=$(bsdtar -xOf "$1" manifest.json | grep -o '"sequence": *[0-9]*' | grep -o '[0-9]*$')
	rm -f "$1.minisig"
	"$BUILD" sign -s "$T/test.sec" -t "$(printf 'ibdrv-bundle:1\tname:ibdrv-demo\tsize:%s\tsequence:%s\tmanifest-blake2b:%s\tfile:x' "$size" "$seq" "$hash")" "$1" >/dev/null || fail "sign $1"
}
name=$(bsdtar -xOf "$T/b.ibb" manifest.json | grep -o '"name": *"[^"]*"' | head -n 1 | sed 's/.*"\([^"]*\)"$/\1/')
[ "$name" = ibdrv-demo ] && ok || fail "demo bundle name is '$name'"

(cd "$T/x" && bsdtar --format pax -cf "$T/same.ibb" $entries)
resign "$T/same.ibb"
expect_rc 0 "$BUILD" verify -p "$T/test.pub" "$T/same.ibb"

echo extra >"$T/x/drivers/extra.txt"
(cd "$T/x" && bsdtar --format pax -cf "$T/extra.ibb" $entries drivers/extra.txt)
resign "$T/extra.ibb"
expect_rc 1 "$BUILD" verify -p "$T/test.pub" "$T/extra.ibb"
expect_err "not in the manifest"

(cd "$T/x" && bsdtar --format pax -cf "$T/dup.ibb" $entries "$first")
resign "$T/dup.ibb"
expect_rc 1 "$BUILD" verify -p "$T/test.pub" "$T/dup.ibb"
expect_err "is a duplicate"

missing=$(echo "$entries" | grep -v "^$first\$")
(cd "$T/x" && bsdtar --format pax -cf "$T/missing.ibb" $missing)
resign "$T/missing.ibb"
expect_rc 1 "$BUILD" verify -p "$T/test.pub" "$T/missing.ibb"
expect_err "expected '$first'"

cp "$T/x/$first" "$T/saved"
ln -sf /etc/passwd "$T/x/$first"
(cd "$T/x" && bsdtar --format pax -cf "$T/link.ibb" $entries)
resign "$T/link.ibb"
expect_rc 1 "$BUILD" verify -p "$T/test.pub" "$T/link.ibb"
expect_err "not a regular file"
rm "$T/x/$first"

cat "$T/saved" "$T/saved" >"$T/x/$first"
(cd "$T/x" && bsdtar --format pax -cf "$T/big.ibb" $entries)
resign "$T/big.ibb"
expect_rc 1 "$BUILD" verify -p "$T/test.pub" "$T/big.ibb"
expect_err "manifest says"

cp "$T/saved" "$T/x/$first"
printf 'Y' | dd of="$T/x/$first" bs=1 seek=0 conv=notrunc status=none
(cd "$T/x" && bsdtar --format pax -cf "$T/hash.ibb" $entries)
resign "$T/hash.ibb"
expect_rc 1 "$BUILD" verify -p "$T/test.pub" "$T/hash.ibb"
expect_err "BLAKE2b-256"

cp "$T/saved" "$T/x/$first"
# A signed manifest over 1 MiB is refused for its size, not taken for a hash mismatch.
cp "$T/x/manifest.json" "$T/manifest.saved"
head -c 1048576 /dev/zero | tr '\0' ' ' >>"$T/x/manifest.json"
(cd "$T/x" && bsdtar --format pax -cf "$T/huge.ibb" $entries)
resign "$T/huge.ibb"
expect_rc 1 "$BUILD" verify -p "$T/test.pub" "$T/huge.ibb"
expect_err "larger than the 1048576-byte (1 MiB) limit for a manifest"
cp "$T/manifest.saved" "$T/x/manifest.json"

printf '{"format": 1}' >"$T/x/manifest.json"
(cd "$T/x" && bsdtar --format pax -cf "$T/manifest.ibb" $entries)
rm -f "$T/manifest.ibb.minisig"
cp "$T/b.ibb.minisig" "$T/manifest.ibb.minisig"
expect_rc 1 "$BUILD" verify -p "$T/test.pub" "$T/manifest.ibb"
grep -qE "signature says|manifest.json" "$T/err" && ok || fail "swapped manifest not caught: $(cat "$T/err")"
finish
