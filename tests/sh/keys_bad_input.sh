# keygen / sign / verify on bad input: no overwriting without -f, 0600 secret keys
# whatever the umask, one-line errors that name the file for wrong passphrases and
# damaged or foreign keys, no temporary files left behind, usage errors exit 2.
. "$(dirname "$0")/lib.sh"

cd "$T" || exit 1
unset IBDRV_PASSPHRASE SOURCE_DATE_EPOCH
echo data >f

# Overwriting needs -f, and a refusal changes nothing.
expect_rc 0 "$BUILD" keygen -W -p k.pub -s k.sec
cp k.pub k.pub.before
cp k.sec k.sec.before
expect_rc 1 "$BUILD" keygen -W -p k.pub -s k.sec
expect_err "k.pub: already exists (use -f to overwrite)"
expect_one_line
expect_rc 1 "$BUILD" keygen -W -p new.pub -s k.sec
expect_err "k.sec: already exists"
expect_missing new.pub
# Refused before any passphrase is asked for (there is no terminal here).
expect_rc 1 setsid -w "$BUILD" keygen -p k.pub -s k.sec </dev/null
expect_err "k.pub: already exists"
cmp -s k.pub k.pub.before && cmp -s k.sec k.sec.before && ok || fail "a refused keygen changed the keys"
expect_rc 0 "$BUILD" keygen -W -f -p k.pub -s k.sec
! cmp -s k.pub k.pub.before && ok || fail "keygen -f did not replace the public key"
! cmp -s k.sec k.sec.before && ok || fail "keygen -f did not replace the secret key"
expect_no_tmp .

# The secret key is 0600 even with umask 000 (and the public key stays readable).
(umask 000 && "$BUILD" keygen -W -p u.pub -s u.sec >/dev/null) || fail "keygen under umask 000"
[ "$(stat -c %a u.sec)" = 600 ] && ok || fail "u.sec has mode $(stat -c %a u.sec)"
[ "$(stat -c %a u.pub)" = 644 ] && ok || fail "u.pub has mode $(stat -c %a u.pub)"
(umask 000 && "$BUILD" keygen -W -f -p u.pub -s u.sec >/dev/null) || fail "keygen -f under umask 000"
[ "$(stat -c %a u.sec)" = 600 ] && ok || fail "replaced u.sec has mode $(stat -c %a u.sec)"

# Passphrases: a wrong one is one line naming the key file; nothing is written.
IBDRV_PASSPHRASE='right one' expect_rc 0 "$BUILD" keygen -p e.pub -s e.sec
IBDRV_PASSPHRASE='wrong one' expect_rc 1 "$BUILD" sign -s e.sec f
expect_err "e.sec: wrong passphrase"
expect_one_line
expect_missing f.minisig
IBDRV_PASSPHRASE='' expect_rc 2 "$BUILD" keygen -p x.pub -s x.sec
expect_err "empty passphrase"
expect_missing x.sec
# No terminal to ask on and no IBDRV_PASSPHRASE: a usage error, not a hang.
expect_rc 2 setsid -w "$BUILD" keygen -p x.pub -s x.sec </dev/null
expect_err "IBDRV_PASSPHRASE"
expect_missing x.sec

# Truncated key files.
head -n 1 k.sec >cut1.sec
expect_rc 1 "$BUILD" sign -s cut1.sec f
expect_err "cut1.sec: truncated"
expect_one_line
head -c 120 k.sec >cut2.sec
expect_rc 1 "$BUILD" sign -s cut2.sec f
expect_err "cut2.sec: secret key on line 2 has the wrong length"
: >empty.sec
expect_rc 1 "$BUILD" sign -s empty.sec f
expect_err "empty.sec: empty file"
"$BUILD" sign -s k.sec f >/dev/null || fail "sign with k.sec"
head -n 1 k.pub >cut.pub
expect_rc 1 "$BUILD" verify -p cut.pub f
expect_err "cut.pub: truncated"
expect_one_line
head -c 80 k.pub >cut.pub
expect_rc 1 "$BUILD" verify -p cut.pub f
expect_err "cut.pub: public key on line 2 has the wrong length"
head -n 3 f.minisig >cut.minisig
expect_rc 1 "$BUILD" verify -p k.pub -x cut.minisig f
expect_err "cut.minisig: truncated, the comment signature (line 4) is missing"
expect_one_line

# Foreign files.
openssl genpkey -algorithm ed25519 -out pem.sec 2>/dev/null || fail "openssl genpkey"
openssl pkey -in pem.sec -pubout -out pem.pub 2>/dev/null || fail "openssl pkey"
expect_rc 1 "$BUILD" sign -s pem.sec f
expect_err "pem.sec: not a minisign secret key"
expect_one_line
expect_rc 1 "$BUILD" verify -p pem.pub f
expect_err "pem.pub: not a minisign public key"
expect_rc 1 "$BUILD" sign -s k.pub f
expect_err "k.pub: secret key on line 2 has the wrong length"
expect_rc 1 "$BUILD" verify -p k.sec f
expect_err "k.sec: public key on line 2 has the wrong length"
expect_rc 1 "$BUILD" verify -p f.minisig f
expect_err "f.minisig"
{
	sed -n 1p k.pub
	sed -n 2p k.pub | sed 's/^RW/WF/'
} >alg.pub
expect_rc 1 "$BUILD" verify -p alg.pub f
expect_err "alg.pub: unsupported signature algorithm"
expect_rc 1 "$BUILD" sign -s missing.sec f
expect_err "missing.sec"
expect_rc 1 "$BUILD" verify -p k.pub missing-file
expect_err "missing-file.minisig"

# A signature that cannot be put in place leaves no temporary file behind.
echo other >g
mkdir g.minisig
expect_rc 1 "$BUILD" sign -s k.sec g
expect_err "g.minisig"
expect_no_tmp .
# Nor does a key pair whose second file cannot be written; the first is not kept.
mkdir keys
expect_rc 1 "$BUILD" keygen -W -s keys/n.sec -p no-such-dir/n.pub
expect_err "no-such-dir/n.pub"
expect_no_tmp keys
expect_missing keys/n.sec
if [ "$(id -u)" -ne 0 ]; then
	mkdir ro && chmod 555 ro
	expect_rc 1 "$BUILD" keygen -W -p ro/r.pub -s ro/r.sec
	expect_no_tmp ro
	chmod 755 ro
fi

# Usage errors exit 2.
expect_rc 2 "$BUILD" keygen -W -p only.pub
expect_rc 2 "$BUILD" keygen -W -s only.sec extra
expect_err "unexpected argument 'extra'"
expect_rc 2 "$BUILD" keygen -W -q -p a.pub -s a.sec
expect_err "unknown option '-q'"
expect_rc 2 "$BUILD" keygen -p
expect_err "option -p needs a value"
expect_rc 2 "$BUILD" sign -s k.sec
expect_err "no file to sign"
expect_rc 2 "$BUILD" sign f
expect_rc 2 "$BUILD" sign -s k.sec --bogus f
expect_rc 2 "$BUILD" verify f
expect_rc 2 "$BUILD" verify -p k.pub f g
expect_rc 2 "$BUILD" verify -p k.pub
SOURCE_DATE_EPOCH=yesterday expect_rc 2 "$BUILD" sign -s k.sec f
expect_err "SOURCE_DATE_EPOCH"
SOURCE_DATE_EPOCH=-5 expect_rc 2 "$BUILD" sign -s k.sec f
SOURCE_DATE_EPOCH=99999999999999999999999 expect_rc 2 "$BUILD" sign -s k.sec f
# Comments must be one line each, within minisign's limits.
expect_rc 1 "$BUILD" sign -s k.sec -t "$(printf 'a\nb')" f
expect_err "single line"
expect_rc 1 "$BUILD" sign -s k.sec -c "$(head -c 1004 /dev/zero | tr '\0' u)" f
expect_err "untrusted comment is too long"
expect_no_tmp .

finish
