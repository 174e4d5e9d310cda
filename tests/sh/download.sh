# Downloading a signed bundle from mirrors: real nginx and a fault-injecting
# server on 127.0.0.1; retries, resume, limits, redirects, TLS, and verification as the bundle
# streams into the cache. (Finding a bundle already in the cache: apply.sh.)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_nginx.sh"

FETCH="$IBDRV_BIN/tests/tools/fetch"
WWW=$T/www
mkdir -p "$WWW"
minisign -G -W -f -p "$T/key.pub" -s "$T/key.sec" >/dev/null || fail "minisign -G"
minisign -G -W -f -p "$T/other.pub" -s "$T/other.sec" >/dev/null || fail "minisign -G"

# sign FILE [SECKEY [SIGNED_FILE_NAME]]: FILE.minisig with b.ibb's trusted comment, made for
# FILE's size and name: what a publisher who signed a changed file would serve.
sign() {
	local f=$WWW/$1 tc
	tc=$(sed -n 's/^trusted comment: //p' "$WWW/b.ibb.minisig" |
		sed -E "s/(\tsize:)[0-9]+/\1$(stat -c %s "$f")/; s/(\tfile:)[^\t]*/\1${3:-$1}/")
	minisign -S -s "${2:-$T/key.sec}" -m "$f" -x "$f.minisig" -t "$tc" >/dev/null || fail "minisign -S $1"
}

fetch() { "$FETCH" --pubkey "$T/key.pub" --backoff 100 1000 "$@"; }
now_ms() { echo $((${EPOCHREALTIME/./} / 1000)); }

# expect_cached CACHE SOURCE: the cache holds exactly SOURCE's bytes and signature, no leftovers.
expect_cached() {
	if cmp -s "$1/testbundle.ibb" "$WWW/$2" && cmp -s "$1/testbundle.ibb.minisig" "$WWW/$2.minisig"; then ok; else
		fail "$1 does not hold $2 and its signature"
	fi
	[ "$(cat "$T/out")" = "$1/testbundle.ibb" ] && ok || fail "printed path: $(cat "$T/out")"
	expect_no_tmp "$1"
}

# expect_empty_cache CACHE: a failed fetch leaves nothing behind.
expect_empty_cache() {
	if [ -z "$(ls -A "$1" 2>/dev/null)" ]; then ok; else fail "$1 not empty: $(ls -A "$1")"; fi
}

# fault_lines PATH: the fault server's log lines for PATH, in order.
fault_lines() { grep -F " GET $1 " "$FAULT_LOG"; }

# b.ibb: a real bundle of about 290 KB, named testbundle.
pack_ofed_bundle "$WWW/b.ibb" testbundle 286000 "$T/key.sec"
SIZE=$(stat -c %s "$WWW/b.ibb")
nginx_start "$WWW"
fault_start "$WWW"
N=http://127.0.0.1:$NGINX_PORT
F=http://127.0.0.1:$FAULT_PORT

# A plain download: the bundle and its signature land in the cache, verified.
expect_rc 0 fetch --cache "$T/c-plain" "$N/b.ibb"
expect_cached "$T/c-plain" b.ibb
minisign -Vm "$T/c-plain/testbundle.ibb" -x "$T/c-plain/testbundle.ibb.minisig" -p "$T/key.pub" >/dev/null &&
	ok || fail "cached bundle does not verify with minisign"

# 404 on the first mirror: named, then the second mirror serves it.
expect_rc 0 fetch --cache "$T/c-404" "$N/missing/b.ibb" "$N/b.ibb"
expect_cached "$T/c-404" b.ibb
expect_err "$N/missing/b.ibb.minisig: HTTP 404"
[ "$(grep -c '"GET /missing/b.ibb.minisig' "$NGINX_LOG")" -eq 1 ] && ok || fail "404 was retried"
grep -q '^404 "GET /missing/b.ibb.minisig' "$NGINX_LOG" && ok || fail "nginx saw no 404"

# 503 twice, then 200: retried with backoff, for the signature and for the bundle.
expect_rc 0 fetch --cache "$T/c-503" "$F/fail503=2/b.ibb"
expect_cached "$T/c-503" b.ibb
[ "$(fault_lines /fail503=2/b.ibb | sed 's/.*status=\([0-9]*\).*/\1/' | tr '\n' ' ')" = "503 503 200 " ] &&
	ok || fail "bundle requests: $(fault_lines /fail503=2/b.ibb)"
expect_err "HTTP 503"

# 429 with Retry-After: 2 is honoured (for the signature, then for the bundle).
t0=$(now_ms)
expect_rc 0 fetch --cache "$T/c-429" "$F/retry429=2/b.ibb"
elapsed=$(($(now_ms) - t0))
expect_cached "$T/c-429" b.ibb
[ "$elapsed" -ge 4000 ] && ok || fail "Retry-After not honoured: done in $elapsed ms"
[ "$elapsed" -lt 15000 ] && ok || fail "Retry-After waited too long: $elapsed ms"
expect_err "Retry-After 2 s"
# A Retry-After beyond the deadline: no waiting for it.
t0=$(now_ms)
expect_rc 7 fetch --cache "$T/c-429b" --deadline 8 "$F/retry429=100/b.ibb"
elapsed=$(($(now_ms) - t0))
[ "$elapsed" -lt 5000 ] && ok || fail "waited $elapsed ms for a Retry-After past the deadline"
expect_err "past the deadline"
expect_empty_cache "$T/c-429b"

# Connection cut mid-body: the retry asks only for the missing bytes and keeps the hash.
expect_rc 0 fetch --cache "$T/c-cut" "$F/cut=100000/b.ibb"
expect_cached "$T/c-cut" b.ibb
lines=$(fault_lines /cut=100000/b.ibb)
[ "$(echo "$lines" | wc -l)" -eq 2 ] && ok || fail "cut: requests: $lines"
echo "$lines" | sed -n 1p | grep -q 'range=- status=200 sent=100000$' && ok || fail "cut: first: $lines"
echo "$lines" | sed -n 2p | grep -q "range=bytes=100000- status=206 sent=$((SIZE - 100000))\$" && ok ||
	fail "cut: resume did not ask for the missing bytes only: $lines"
expect_err "resuming at byte 100000"

# Same against nginx: the resumed request of a cut transfer is a real Range request.
# (nginx cannot cut; this checks it answers our Range form with 206.)
curl -s -o /dev/null -H 'Range: bytes=100000-' -w '%{http_code}' "$N/b.ibb" | grep -q 206 && ok || fail "nginx range"

# Cut, then a server that ignores Range: fetched from byte 0 again, skipping the bytes already
# read; it verifies.
expect_rc 0 fetch --cache "$T/c-norange" "$F/cut=100000+norange/b.ibb"
expect_cached "$T/c-norange" b.ibb
lines=$(fault_lines /cut=100000+norange/b.ibb)
echo "$lines" | sed -n 2p | grep -q 'range=bytes=100000- status=200' && ok || fail "norange: $lines"
echo "$lines" | sed -n 3p | grep -q "range=- status=200 sent=$SIZE\$" && ok || fail "norange restart: $lines"
expect_err "did not resume at byte 100000"
expect_err "skipping 100000 bytes read"

# Cut, then 416 to the resume: not taken for success; fetched from byte 0 again.
expect_rc 0 fetch --cache "$T/c-416" "$F/cut=100000+range416/b.ibb"
expect_cached "$T/c-416" b.ibb
lines=$(fault_lines /cut=100000+range416/b.ibb)
echo "$lines" | sed -n 2p | grep -q 'range=bytes=100000- status=416' && ok || fail "416: $lines"
echo "$lines" | sed -n 3p | grep -q "range=- status=200 sent=$SIZE\$" && ok || fail "416 restart: $lines"

# Slower than the low-speed limit: a timeout, well within the deadline.
t0=$(now_ms)
expect_rc 7 fetch --cache "$T/c-slow" --low-speed 5000 2 --retries 1 --deadline 60 "$F/trickle=500+sigplain/b.ibb"
elapsed=$(($(now_ms) - t0))
[ "$elapsed" -lt 20000 ] && ok || fail "stall detected after $elapsed ms"
expect_err "too slow"
expect_err "$F/trickle=500+sigplain/b.ibb"
expect_empty_cache "$T/c-slow"
# Fast enough for the low-speed limit but not for the deadline.
t0=$(now_ms)
expect_rc 7 fetch --cache "$T/c-deadline" --low-speed 1000 10 --deadline 3 "$F/trickle=30000+sigplain/b.ibb"
elapsed=$(($(now_ms) - t0))
[ "$elapsed" -ge 2900 ] && [ "$elapsed" -lt 6000 ] && ok || fail "deadline of 3 s ended after $elapsed ms"
expect_err "deadline of 3 s passed"
expect_empty_cache "$T/c-deadline"

# A body longer than the signed size (no Content-Length): stopped early.
expect_rc 4 fetch --cache "$T/c-long" "$F/long+sigplain/b.ibb"
expect_err "larger than the signed size ($SIZE bytes)"
sent=$(fault_lines /long+sigplain/b.ibb | sed -n 1p | sed 's/.*sent=//')
[ "${sent:-0}" -lt $((16 * 1024 * 1024)) ] && ok || fail "long body not stopped early: server sent $sent bytes"
expect_empty_cache "$T/c-long"

# A bundle changed on the server: verification fails, nothing reaches the cache.
cp "$WWW/b.ibb" "$WWW/t.ibb"
sign t.ibb
flip_byte "$WWW/t.ibb" 150000
expect_rc 4 fetch --cache "$T/c-tamper" "$N/t.ibb"
expect_err "$N/t.ibb: entry 'drivers/ofed/payload.bin' does not match its BLAKE2b-256 hash"
expect_empty_cache "$T/c-tamper"
# Longer than signed, with a Content-Length: stopped at the signed size too.
cp "$WWW/b.ibb" "$WWW/t2.ibb"
sign t2.ibb
head -c 5000 /dev/urandom >>"$WWW/t2.ibb"
expect_rc 4 fetch --cache "$T/c-tamper2" "$N/t2.ibb"
expect_err "larger than the signed size"
expect_empty_cache "$T/c-tamper2"
# Signed by a key that is not trusted.
cp "$WWW/b.ibb" "$WWW/u.ibb"
sign u.ibb "$T/other.sec"
expect_rc 4 fetch --cache "$T/c-key" "$N/u.ibb"
expect_err "key"
expect_empty_cache "$T/c-key"
# A good signature made for another file name.
cp "$WWW/b.ibb" "$WWW/v.ibb"
sign v.ibb "$T/key.sec" other.ibb
expect_rc 4 fetch --cache "$T/c-file" "$N/v.ibb"
expect_err "signed for file 'other.ibb', not 'v.ibb'"
expect_empty_cache "$T/c-file"
# A signature file too large to be one.
head -c 100000 /dev/urandom >"$WWW/w.ibb.minisig"
cp "$WWW/b.ibb" "$WWW/w.ibb"
expect_rc 4 fetch --cache "$T/c-bigsig" "$N/w.ibb"
expect_err "larger than a signature may be"

# Redirects: only http and https are followed, and at most 5.
expect_rc 9 fetch --cache "$T/c-rfile" "$F/redirect=file/b.ibb"
expect_err "file"
expect_err "$F/redirect=file/b.ibb.minisig"
expect_empty_cache "$T/c-rfile"
expect_rc 9 fetch --cache "$T/c-rftp" "$F/redirect=ftp/b.ibb"
expect_err "ftp"
expect_empty_cache "$T/c-rftp"
[ "$(fault_lines /redirect=ftp/b.ibb.minisig | wc -l)" -eq 1 ] && ok || fail "refused redirect was retried"
expect_rc 9 fetch --cache "$T/c-loop" "$F/redirect=loop/b.ibb"
expect_err "Maximum (5) redirects followed"
[ "$(fault_lines /redirect=loop/b.ibb.minisig | wc -l)" -eq 6 ] && ok || fail "redirect loop: $(fault_lines /redirect=loop/b.ibb.minisig | wc -l) requests"
expect_rc 0 fetch --cache "$T/c-redir" "$F/redirect=plain/b.ibb"
expect_cached "$T/c-redir" b.ibb

# HTTPS: the private CA given verifies the server; another CA, or none, does not.
S=https://127.0.0.1:$NGINX_TLS_PORT
expect_rc 0 fetch --cache "$T/c-tls" --cacert "$T/pki/ca.pem" "$S/b.ibb"
expect_cached "$T/c-tls" b.ibb
expect_rc 9 fetch --cache "$T/c-tls-bad" --cacert "$T/pki/wrong-ca.pem" "$S/b.ibb"
expect_err "$S/b.ibb.minisig"
expect_err "certificate"
expect_empty_cache "$T/c-tls-bad"
expect_rc 9 fetch --cache "$T/c-tls-none" "$S/b.ibb"
expect_err "certificate"

# Secrets in URLs (user:password@, query strings) stay out of messages.
expect_rc 9 fetch --cache "$T/c-secret" --retries 0 "http://user:pw4567@127.0.0.1:$FAULT_PORT/fail503=9/b.ibb?sig=tok9876"
expect_err "http://***@127.0.0.1:$FAULT_PORT/fail503=9/b.ibb.minisig?...: HTTP 503"
grep -qE 'pw4567|tok9876' "$T/err" && fail "secret in message: $(cat "$T/err")" || ok
fault_lines '/fail503=9/b.ibb.minisig?sig=tok9876' >/dev/null && ok || fail "query string not kept in the request"

# Progress for logs (stderr is not a terminal): a line with the byte counts at the end.
expect_rc 0 fetch --cache "$T/c-progress" --progress "$N/b.ibb"
expect_err "download: 0.3 of 0.3 MiB (100%)"

# On a terminal: a progress bar with bytes, rate and ETA (drawn for bundles of 8 MiB and more).
pack_ofed_bundle "$WWW/big.ibb" bigbundle 9000000 "$T/key.sec"
script -qec "$FETCH --pubkey $T/key.pub --cache $T/c-tty --progress $N/big.ibb" /dev/null \
	>"$T/tty" 2>&1 </dev/null
grep -aqE 'download \[#+\] 100% +8\.[0-9] MiB +[0-9.]+ MiB/s ETA +0s' "$T/tty" && ok ||
	fail "no progress bar on a terminal: $(tr '\r' '\n' <"$T/tty")"
grep -aq 'verifying \[' "$T/tty" && fail "a second bar beside the download's" || ok

# The usual proxy variables are honoured: a host that only the proxy (nginx, which accepts
# absolute request URIs) can serve.
http_proxy="http://127.0.0.1:$NGINX_PORT" expect_rc 0 fetch --cache "$T/c-proxy" "http://bundles.test/b.ibb"
expect_cached "$T/c-proxy" b.ibb
grep -q '"GET http://bundles.test/b.ibb HTTP/1.1"' "$NGINX_LOG" && ok || fail "download did not go through the proxy"

# Bad requests are refused before any traffic.
expect_rc 1 fetch --cache "$T/c-usage" "$N/"
expect_err "URL names no file"

finish
