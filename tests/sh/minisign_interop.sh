# Interoperability with the real minisign, both ways: its keys (passphrase-protected
# and -W) sign for our verify and our sign, ours for its -V and -S; the same key and
# comment give byte-identical .minisig files; our verify names each kind of damage.
# Each passphrase-protected key costs about 1 GiB and seconds of scrypt per use, so
# there are just six such uses.
. "$(dirname "$0")/lib.sh"

MINISIGN=$(command -v minisign) || {
	fail "minisign is not installed (scripts/deps)"
	finish
	exit 1
}
cd "$T" || exit 1
unset SOURCE_DATE_EPOCH
export IBDRV_PASSPHRASE='our passphrase'
printf 'their passphrase\n' >their.pw
printf 'their passphrase\ntheir passphrase\n' >their.pw2
printf 'our passphrase\n' >our.pw
for n in 1 2 3 4 5 6 7 8 9; do
	{
		echo "file $n"
		head -c $((n * 40000)) /dev/urandom
	} >"f$n"
done

# Key pairs: ours and minisign's, with and without a passphrase.
expect_rc 0 "$BUILD" keygen -p ours_e.pub -s ours_e.sec
expect_rc 0 "$BUILD" keygen -W -p ours_w.pub -s ours_w.sec
expect_rc 0 "$MINISIGN" -G -p theirs_e.pub -s theirs_e.sec <their.pw2
expect_rc 0 "$MINISIGN" -G -W -p theirs_w.pub -s theirs_w.sec </dev/null

# Our public key files look exactly like minisign's (only the key differs).
for k in ours_e ours_w; do
	sed -n 1p "$k.pub" | grep -qE '^untrusted comment: minisign public key [0-9A-F]{16}$' && ok ||
		fail "$k.pub comment: $(sed -n 1p "$k.pub")"
	[ "$(sed -n 1p "$k.sec")" = "untrusted comment: minisign encrypted secret key" ] && ok ||
		fail "$k.sec comment: $(sed -n 1p "$k.sec")"
done
# minisign recreates our public key from our secret key (-R reads the key material).
expect_rc 0 "$MINISIGN" -R -s ours_w.sec -p recreated.pub
[ "$(sed -n 2p recreated.pub)" = "$(sed -n 2p ours_w.pub)" ] && ok || fail "minisign -R gives another public key"

# 1. Our sign, our keys: stock minisign verifies (default comments as minisign's own).
expect_rc 0 "$BUILD" sign -s ours_e.sec f1
expect_rc 0 "$MINISIGN" -Vm f1 -p ours_e.pub
expect_out "Signature and comment signature verified"
grep -qP '^Trusted comment: timestamp:\d+\tfile:f1\thashed$' "$T/out" && ok || fail "default trusted comment: $(cat "$T/out")"
[ "$(sed -n 1p f1.minisig)" = "untrusted comment: signature from minisign secret key" ] && ok || fail "default untrusted comment"
expect_rc 0 "$BUILD" sign -s ours_w.sec -t 'release:7	name:x' -c 'made by ibdrv' f2 f3
for f in f2 f3; do
	expect_rc 0 "$MINISIGN" -Vm "$f" -p ours_w.pub
	expect_out "Trusted comment: release:7	name:x"
	[ "$(sed -n 1p "$f.minisig")" = "untrusted comment: made by ibdrv" ] && ok || fail "untrusted comment of $f"
done

# 2. Stock minisign with its own keys: our verify accepts.
expect_rc 0 "$MINISIGN" -S -s theirs_e.sec -m f4 <their.pw
expect_rc 0 "$BUILD" verify -p theirs_e.pub f4
expect_out "Signature and comment signature verified"
expect_out "Trusted comment: timestamp:"
expect_rc 0 "$MINISIGN" -S -s theirs_w.sec -m f5 -x elsewhere.sig -t 'their comment'
expect_rc 0 "$BUILD" verify -p theirs_w.pub -x elsewhere.sig f5
expect_out "Trusted comment: their comment"
expect_rc 0 "$BUILD" verify -q -p theirs_w.pub -x elsewhere.sig f5
[ ! -s "$T/out" ] && ok || fail "verify -q printed $(cat "$T/out")"

# 3. Our sign with minisign's secret keys; both sides verify.
IBDRV_PASSPHRASE='their passphrase' expect_rc 0 "$BUILD" sign -s theirs_e.sec f6
expect_rc 0 "$MINISIGN" -Vm f6 -p theirs_e.pub
expect_rc 0 "$BUILD" verify -p theirs_e.pub f6
expect_rc 0 "$BUILD" sign -s theirs_w.sec f7
expect_rc 0 "$MINISIGN" -Vm f7 -p theirs_w.pub
expect_rc 0 "$BUILD" verify -p theirs_w.pub f7

# 4. Stock minisign signs with our secret keys; both sides verify.
expect_rc 0 "$MINISIGN" -S -s ours_e.sec -m f8 <our.pw
expect_rc 0 "$BUILD" verify -p ours_e.pub f8
expect_rc 0 "$MINISIGN" -S -s ours_w.sec -m f9 </dev/null
expect_rc 0 "$BUILD" verify -p ours_w.pub f9

# Ed25519 is deterministic: same key, file and comments give the same bytes as minisign.
cp f9 same
expect_rc 0 "$MINISIGN" -S -s theirs_w.sec -m same -x theirs.minisig -t 'fixed comment'
expect_rc 0 "$BUILD" sign -s theirs_w.sec -t 'fixed comment' same
cmp -s same.minisig theirs.minisig && ok || fail "our .minisig differs from minisign's"
# Reproducible default comment from SOURCE_DATE_EPOCH.
SOURCE_DATE_EPOCH=1700000000 expect_rc 0 "$BUILD" sign -s theirs_w.sec same
cp same.minisig first.minisig
SOURCE_DATE_EPOCH=1700000000 expect_rc 0 "$BUILD" sign -s theirs_w.sec same
cmp -s same.minisig first.minisig && ok || fail "two signatures with SOURCE_DATE_EPOCH differ"
grep -qP '^trusted comment: timestamp:1700000000\tfile:same\thashed$' same.minisig && ok || fail "SOURCE_DATE_EPOCH not used"
expect_rc 0 "$MINISIGN" -Vm same -p theirs_w.pub

# Files are hashed in chunks: peak memory does not grow with the file's size.
echo small >small
truncate -s 256M big
peak() { /usr/bin/time -f %M -o "$T/peak" "$@" >/dev/null 2>&1 || fail "$*"; cat "$T/peak"; }
s_small=$(peak "$BUILD" sign -s ours_w.sec small)
s_big=$(peak "$BUILD" sign -s ours_w.sec big)
v_big=$(peak "$BUILD" verify -p ours_w.pub big)
[ $((s_big - s_small)) -lt 8192 ] && [ $((v_big - s_small)) -lt 8192 ] && ok ||
	fail "peak memory grows with the file: ${s_small} KiB, then ${s_big} / ${v_big} KiB for 256 MiB"
expect_rc 0 "$MINISIGN" -Vm big -p ours_w.pub
rm big

# 5. Damage our verify catches, each named; stock minisign agrees that it is invalid.
fresh() { cp f7 t; cp f7.minisig t.minisig; }
fresh
flip_byte t 5000
expect_rc 1 "$BUILD" verify -p theirs_w.pub t
expect_err "t: signature verification failed"
expect_one_line
expect_rc 1 "$MINISIGN" -Vm t -p theirs_w.pub

# A byte of the Ed25519 signature itself (past "ED" and the key number), still valid base64.
fresh
line2=$(sed -n 2p t.minisig)
c=${line2:40:1}
[ "$c" = A ] && r=B || r=A
sed -i "2s/^\(.\{40\}\)./\1$r/" t.minisig
expect_rc 1 "$BUILD" verify -p theirs_w.pub t
expect_err "signature verification failed"
expect_rc 1 "$MINISIGN" -Vm t -p theirs_w.pub

# The key number in the signature line.
fresh
c=${line2:5:1}
[ "$c" = A ] && r=B || r=A
sed -i "2s/^\(.\{5\}\)./\1$r/" t.minisig
expect_rc 1 "$BUILD" verify -p theirs_w.pub t
expect_err "signed by unknown key ID"

# The trusted comment.
fresh
off=$(grep -abo '^trusted comment: ' t.minisig | cut -d: -f1)
flip_byte t.minisig $((off + 20))
expect_rc 1 "$BUILD" verify -p theirs_w.pub t
expect_err "t.minisig: comment signature verification failed"
expect_err "trusted comment"
expect_one_line
expect_rc 1 "$MINISIGN" -Vm t -p theirs_w.pub

# The wrong key.
fresh
expect_rc 1 "$BUILD" verify -p ours_w.pub t
expect_err "signed by unknown key ID"
expect_err "$(sed -n 1p ours_w.pub | awk '{print $NF}')"
expect_one_line
expect_rc 1 "$MINISIGN" -Vm t -p ours_w.pub

# Legacy (non-prehashed) signatures from minisign -l are refused, clearly.
expect_rc 0 "$MINISIGN" -S -l -s theirs_w.sec -m f7 -x legacy.minisig
expect_rc 0 "$MINISIGN" -Vm f7 -x legacy.minisig -p theirs_w.pub
expect_rc 1 "$BUILD" verify -p theirs_w.pub -x legacy.minisig f7
expect_err "legacy.minisig: legacy (non-prehashed) minisign signature"
expect_one_line

finish
