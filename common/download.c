#include "download.h"

#include "bundle.h"
#include "hash.h"
#include "log.h"
#include "outfile.h"
#include "path.h"
#include "platform.h"

#include <curl/curl.h>
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROGRESS_EVERY_MS 250
#define BAR_LOG_EVERY_MS 5000

/* What one attempt at a URL came to; from OUT_NEXT on, this URL is done with. */
enum outcome {
	OUT_OK,      /* the whole body is here */
	OUT_RETRY,   /* a transient failure: back off and try this URL again */
	OUT_RESTART, /* the server would not resume: start the body again from zero */
	OUT_NEXT,    /* this URL will not work: try the next mirror */
	OUT_TIMEOUT, /* the overall deadline passed */
	OUT_FATAL    /* a local failure no mirror can fix (cache folder, memory) */
};

enum abort_reason { ABORT_NONE, ABORT_STATUS, ABORT_TOO_BIG, ABORT_IO, ABORT_CLOSED };

struct fetch {
	const struct ib_fetch_opts *o;
	CURL *curl;
	uint64_t deadline_ms;
	char curl_msg[CURL_ERROR_SIZE];
};

/*
 * Where a body goes: a bounded memory buffer, or a temporary file and, as it
 * is written, the bundle reader (through feed, which hashes it).
 */
struct sink {
	struct fetch *f;
	char *buf; /* memory sink: cap + 1 bytes */
	struct ib_outfile *file;
	struct ib_readahead *feed;
	uint64_t limit;  /* most bytes the body may have */
	uint64_t done;   /* bytes held, including those kept from earlier attempts */
	uint64_t offset; /* bytes held when the current attempt started */
	int no_range;    /* the server cannot resume: ask from byte 0 ... */
	uint64_t skip;   /* ... and drop this many bytes already held */
	long status;     /* of the current attempt, once its body starts; 0 before */
	long expect;     /* the status of the body asked for: 206 when resuming */
	enum abort_reason abort;
	int io_errno;
	uint64_t attempt_ms;
	uint64_t progress_ms;
};

void ib_fetch_opts_init(struct ib_fetch_opts *o)
{
	static const struct ib_fetch_opts defaults = {
	        .deadline_seconds = 600,
	        .connect_timeout_seconds = 30,
	        .low_speed_limit = 1024,
	        .low_speed_seconds = 60,
	        .max_retries = 10,
	        .backoff_ms = 1000,
	        .backoff_max_ms = 60000,
	};

	*o = defaults;
}

/* Where the URL's host starts: after "scheme://". */
static const char *url_host(const char *url)
{
	const char *scheme_end = strstr(url, "://");

	return scheme_end ? scheme_end + 3 : url;
}

/* The URL for messages: no user:password@ and no query string (either may hold a secret). */
static void url_display(const char *url, char *out, size_t cap)
{
	const char *host = url_host(url);
	size_t host_len = strcspn(host, "/?#");
	const char *at = memchr(host, '@', host_len);
	size_t query = strcspn(url, "?#");
	size_t cut = at ? (size_t)(host - url) : 0, resume = at ? (size_t)(at - url) : 0;

	/* The scheme, "***" for the credentials, the rest up to any query. */
	snprintf(out, cap, "%.*s%s%.*s%s", (int)cut, url, at ? "***" : "", (int)(query - resume),
	         url + resume, url[query] ? "?..." : "");
}

/* The last segment of the URL's path (*base, not NUL-terminated): its length, 0 for none. */
static size_t url_base(const char *url, const char **base)
{
	const char *path = url_host(url);
	size_t len, start;

	path += strcspn(path, "/?#");
	len = strcspn(path, "?#");
	start = len;
	while (start > 0 && path[start - 1] != '/')
		start--;
	*base = path + start;
	return len - start;
}

/* url with suffix added to its path, before any query string. Caller frees. */
static char *url_with_suffix(const char *url, const char *suffix)
{
	size_t path_end = strcspn(url, "?#");
	size_t len = strlen(url) + strlen(suffix) + 1;
	char *out = malloc(len);

	if (out)
		snprintf(out, len, "%.*s%s%s", (int)path_end, url, suffix, url + path_end);
	return out;
}

/* Counts go through int64_t (far below 2^63): its conversion to double is shorter. */
static void report_progress(struct sink *s, int final)
{
	const struct ib_fetch_opts *o = s->f->o;
	uint64_t now = plat_monotonic_ms();
	double secs;

	if (!o->progress || !s->file)
		return;
	if (!final && now - s->progress_ms < PROGRESS_EVERY_MS)
		return;
	s->progress_ms = now;
	secs = (double)(int64_t)(now - s->attempt_ms) / 1000.0;
	o->progress(o->progress_ctx, s->done, s->limit,
	            secs > 0 ? (double)(int64_t)(s->done - s->offset) / secs : 0.0);
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *ctx)
{
	struct sink *s = ctx;
	size_t len = size * nmemb;

	if (!s->status) {
		curl_easy_getinfo(s->f->curl, CURLINFO_RESPONSE_CODE, &s->status);
		/* Only the body we asked for may reach the file; the rest is classified later. */
		if (s->status != s->expect) {
			s->abort = ABORT_STATUS;
			return 0;
		}
	}
	/* The reader has taken these bytes already; the signature will tell if they changed. */
	if (s->skip) {
		size_t n = len < s->skip ? len : (size_t)s->skip;

		s->skip -= n;
		data += n;
		len -= n;
		if (len == 0)
			return size * nmemb;
	}
	/* CURLOPT_MAXFILESIZE cannot stop a body of unknown length in libcurl 7.88. */
	if (len > s->limit - s->done) {
		s->abort = ABORT_TOO_BIG;
		return 0;
	}
	if (s->file) {
		if (fwrite(data, 1, len, s->file->fp) != len) {
			s->abort = ABORT_IO;
			s->io_errno = errno;
			return 0;
		}
		if (ib_readahead_put(s->feed, data, len)) {
			s->abort = ABORT_CLOSED;
			return 0;
		}
	} else {
		memcpy(s->buf + s->done, data, len);
	}
	s->done += len;
	report_progress(s, 0);
	return size * nmemb;
}

/* Failures of the connection, not of the request: worth another attempt (codes below 256). */
static int retryable_curl_code(CURLcode rc)
{
	static const unsigned char codes[] = {
	        CURLE_COULDNT_RESOLVE_PROXY, CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_CONNECT,
	        CURLE_PARTIAL_FILE,          CURLE_SEND_ERROR,           CURLE_RECV_ERROR,
	        CURLE_GOT_NOTHING,           CURLE_SSL_CONNECT_ERROR,    CURLE_HTTP2,
	        CURLE_HTTP2_STREAM,          CURLE_OPERATION_TIMEDOUT, /* a stall */
	};

	return memchr(codes, rc, sizeof codes) != NULL;
}

static int retryable_status(long status)
{
	return status == 408 || status == 429 || (status >= 500 && status <= 599);
}

/* The deadline passed: the message says so, before the last failure if there was one. */
static int deadline_passed(struct fetch *f, const char *shown, struct ib_err *err)
{
	if (err->code)
		ib_err_prefix(err, "%s: deadline of %u s passed", shown, f->o->deadline_seconds);
	else
		ib_fail(err, IB_ETIMEOUT, "%s: deadline of %u s passed", shown,
		        f->o->deadline_seconds);
	return err->code = IB_ETIMEOUT;
}

/*
 * One GET of url into s, resuming from s->done. Fills err (naming shown)
 * for every outcome but OUT_OK; *retry_after gets the server's Retry-After.
 */
static enum outcome attempt(struct fetch *f, const char *url, const char *shown, struct sink *s,
                            uint64_t *retry_after_s, struct ib_err *err)
{
	CURL *c = f->curl;
	uint64_t now = plat_monotonic_ms();
	curl_off_t retry_after = 0;
	CURLcode rc;
	long status = 0;
	const char *why;

	*retry_after_s = 0;
	if (now >= f->deadline_ms) {
		deadline_passed(f, shown, err);
		return OUT_TIMEOUT;
	}
	s->offset = s->done;
	s->expect = s->done && !s->no_range ? 206 : 200;
	s->skip = s->no_range ? s->done : 0;
	s->status = 0;
	s->abort = ABORT_NONE;
	s->attempt_ms = now;
	s->progress_ms = now;
	f->curl_msg[0] = '\0';
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, s);
	curl_easy_setopt(c, CURLOPT_RESUME_FROM_LARGE, (curl_off_t)(s->no_range ? 0 : s->done));
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)(f->deadline_ms - now));
	if (s->done)
		ib_info(s->no_range ? "%s: from byte 0 again, skipping %llu bytes read"
		                    : "%s: resuming at byte %llu",
		        shown, (unsigned long long)s->done);
	rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(c, CURLINFO_RETRY_AFTER, &retry_after);
	if (retry_after > 0)
		*retry_after_s = (uint64_t)retry_after;
	why = f->curl_msg[0] ? f->curl_msg : curl_easy_strerror(rc);

	if (s->abort == ABORT_CLOSED) {
		/* No message: the reader has failed, and its failure is the one reported. */
		err->code = IB_EINTERNAL;
		return OUT_FATAL;
	}
	if (s->abort == ABORT_IO) {
		ib_fail_errno(err, IB_EIO, s->io_errno, "%s: cannot write", s->file->tmp_path);
		return OUT_FATAL;
	}
	if (s->abort == ABORT_TOO_BIG) {
		ib_fail(err, IB_EVERIFY, "%s: body larger than %s (%llu bytes)", shown,
		        s->file ? "the signed size" : "a signature may be",
		        (unsigned long long)s->limit);
		return OUT_NEXT;
	}
	if (rc == CURLE_OUT_OF_MEMORY || rc == CURLE_OPERATION_TIMEDOUT) {
		if (rc == CURLE_OUT_OF_MEMORY || plat_monotonic_ms() < f->deadline_ms)
			goto failed;
		ib_fail(err, IB_ETIMEOUT, "%s", why);
		deadline_passed(f, shown, err);
		return OUT_TIMEOUT;
	}
	if (rc == CURLE_RANGE_ERROR ||
	    (s->offset && !s->no_range && (status == 200 || status == 416))) {
		ib_fail(err, IB_ENET, "%s: server did not resume at byte %llu (HTTP %ld)", shown,
		        (unsigned long long)s->offset, status);
		return OUT_RESTART;
	}
	if (rc == CURLE_OK || s->abort == ABORT_STATUS) {
		if (status == s->expect) {
			/* A body without a length may end early; the file sink knows what to
			 * expect. */
			if (s->file && s->done < s->limit) {
				ib_fail(err, IB_ENET, "%s: body ended at byte %llu of %llu", shown,
				        (unsigned long long)s->done, (unsigned long long)s->limit);
				return OUT_RETRY;
			}
			return OUT_OK;
		}
		if (retry_after > 0)
			ib_fail(err, IB_ENET, "%s: HTTP %ld (Retry-After %lld s)", shown, status,
			        (long long)retry_after);
		else
			ib_fail(err, IB_ENET, "%s: HTTP %ld", shown, status);
		return retryable_status(status) ? OUT_RETRY : OUT_NEXT;
	}
failed:
	ib_fail(err,
	        rc == CURLE_OUT_OF_MEMORY        ? IB_ENOMEM
	        : rc == CURLE_OPERATION_TIMEDOUT ? IB_ETIMEOUT
	                                         : IB_ENET,
	        "%s: %s", shown, why);
	if (rc == CURLE_OUT_OF_MEMORY)
		return OUT_FATAL;
	return retryable_curl_code(rc) ? OUT_RETRY : OUT_NEXT;
}

/*
 * Fetches url into s with retries. Returns 0, or an IB_E* code with err
 * filled; *stop is set when no other mirror should be tried.
 */
static int fetch_url(struct fetch *f, const char *url, const char *shown, struct sink *s, int *stop,
                     struct ib_err *err)
{
	const struct ib_fetch_opts *o = f->o;
	unsigned retries = 0;
	uint64_t retry_after_s, wait_ms;

	for (;;) {
		enum outcome oc = attempt(f, url, shown, s, &retry_after_s, err);
		int gave_up;
		size_t len;

		if (oc == OUT_RETRY && s->file && s->done == s->limit)
			oc = OUT_OK; /* all bytes arrived before the failure: verification decides
			              */
		if (oc == OUT_OK) {
			report_progress(s, 1);
			return 0;
		}
		if (oc >= OUT_TIMEOUT)
			*stop = 1;
		if (oc >= OUT_NEXT)
			return err->code;
		if (oc == OUT_RESTART)
			s->no_range = 1;
		wait_ms = retry_after_s * 1000;
		if (!wait_ms && oc == OUT_RETRY) {
			uint64_t ceiling = o->backoff_max_ms;
			uint32_t r;

			if (retries < 32 && ((uint64_t)o->backoff_ms << retries) < ceiling)
				ceiling = (uint64_t)o->backoff_ms << retries;
			/* Full jitter: a fleet that failed together does not come back together. */
			randombytes_buf(&r, sizeof r);
			wait_ms = r % (ceiling + 1);
		}
		gave_up = retries >= o->max_retries;
		if (!gave_up && plat_monotonic_ms() + wait_ms >= f->deadline_ms) {
			if (retry_after_s)
				/* Waiting is pointless; another mirror may answer now. */
				return ib_fail(err, IB_ETIMEOUT,
				               "%s: Retry-After %llu s is past the deadline", shown,
				               (unsigned long long)retry_after_s);
			/* No retry fits before the deadline: the last failure is the answer (a
			 * refused connection stays "unreachable", a stall stays a timeout). */
			if (err->code == IB_ETIMEOUT)
				return deadline_passed(f, shown, err);
		} else if (!gave_up) {
			retries++;
			ib_warn("%s; retrying in %llu ms", err->msg, (unsigned long long)wait_ms);
			/* In short naps: a reader that has given up must not wait for the backoff.
			 */
			for (uint64_t slept = 0; slept < wait_ms; slept += 100) {
				if (s->feed && ib_readahead_closed(s->feed)) {
					/* The reader's failure is the one reported. */
					s->abort = ABORT_CLOSED;
					return err->code;
				}
				plat_sleep_ms(
				        (unsigned)(wait_ms - slept < 100 ? wait_ms - slept : 100));
			}
			continue;
		}
		len = strlen(err->msg);
		snprintf(err->msg + len, sizeof err->msg - len,
		         gave_up ? " (gave up after %u attempts)" : " (%u s deadline reached)",
		         gave_up ? retries + 1 : o->deadline_seconds);
		return err->code;
	}
}

/*
 * One mirror's bundle: its body, produced for the bundle reader on its worker
 * thread, and what becomes of it in the cache.
 */
struct body {
	struct fetch *f;
	const char *url;
	const char *shown;
	const struct ib_read_opts *read; /* the caller's, or NULL */
	struct ib_outfile of;
	char *bundle_path;
	struct sink sink;
	int stop; /* the failure ends the whole download (deadline, cache folder) */
};

static int produce_body(void *ctx, struct ib_readahead *r, struct ib_err *err)
{
	struct body *b = ctx;
	int rc;

	b->sink.feed = r;
	rc = fetch_url(b->f, b->url, b->shown, &b->sink, &b->stop, err);
	if (b->sink.abort == ABORT_CLOSED)
		b->stop = 0; /* the reader stopped first: its failure is the one that counts */
	return rc;
}

/*
 * The reader's prepare, once the signature's trusted comment has verified:
 * the signed name and file checked, the temporary file opened in the cache,
 * then the caller's prepare.
 */
static int prepare_body(void *ctx, const char *shown, const struct ib_bundle_claims *claims,
                        struct ib_err *err)
{
	struct body *b = ctx;
	char name_ibb[sizeof claims->name + sizeof ".ibb"];
	const char *base;
	size_t base_len = url_base(b->url, &base);
	int rc;

	if (strncmp(claims->file, base, base_len) || claims->file[base_len])
		return ib_fail(err, IB_EVERIFY, "%s: signed for file '%s', not '%.*s'", shown,
		               claims->file, (int)base_len, base);
	snprintf(name_ibb, sizeof name_ibb, "%s.ibb", claims->name);
	b->bundle_path = ib_path_join(b->f->o->cache_dir, name_ibb);
	if (!b->bundle_path)
		return ib_oom(err);
	ib_info("%s: %s, %llu bytes, sequence %llu", shown, claims->name,
	        (unsigned long long)claims->size, (unsigned long long)claims->sequence);
	rc = ib_outfile_open(&b->of, b->bundle_path, 0644, err);
	if (rc) {
		b->stop = 1;
		return rc;
	}
	b->sink.file = &b->of;
	b->sink.limit = claims->size;
	if (b->read && b->read->prepare)
		rc = b->read->prepare(b->read->prepare_ctx, shown, claims, err);
	return rc;
}

/*
 * One mirror: the signature, then the bundle, read (verified, maybe
 * extracted) as it streams into a temporary file in the cache, which is
 * renamed into place once the read has verified everything.
 */
static int try_mirror(struct fetch *f, const char *url, char **path_out, struct ib_bundle *bundle,
                      int *stop, struct ib_err *err)
{
	const struct ib_fetch_opts *o = f->o;
	struct ib_read_opts ro = {0};
	char shown[1024], sig_shown[1024];
	char sig_text[IB_FETCH_SIG_MAX + 1];
	char *sig_url = url_with_suffix(url, ".minisig"), *sig_path = NULL;
	struct sink s = {.f = f, .buf = sig_text, .limit = IB_FETCH_SIG_MAX};
	struct ib_sig sig;
	struct body body = {.f = f, .url = url, .shown = shown, .read = o->read};
	int rc;

	if (!sig_url)
		return ib_oom(err);
	url_display(url, shown, sizeof shown);
	url_display(sig_url, sig_shown, sizeof sig_shown);
	rc = fetch_url(f, sig_url, sig_shown, &s, stop, err);
	free(sig_url);
	if (rc)
		return rc;
	sig_text[s.done] = '\0';
	/* A signature that is not one is a bad mirror, like one that does not verify. */
	rc = ib_sig_parse(sig_text, (size_t)s.done, sig_shown, &sig, err);
	if (rc)
		return rc == IB_ENOMEM ? rc : (err->code = IB_EVERIFY);
	body.sink.f = f;
	if (o->read)
		ro = *o->read;
	ro.keys = o->keys;
	ro.n_keys = o->n_keys;
	/* The download's progress (o->progress) stands for the read's too: one bar, not two. */
	ro.quiet = 1;
	ro.prepare = prepare_body;
	ro.prepare_ctx = &body;
	ro.produce = produce_body;
	ro.produce_ctx = &body;
	ro.sig = &sig;
	rc = ib_bundle_read(shown, &ro, bundle, err);
	if (rc) {
		/* Another mirror may serve a good bundle; nothing else is its to fix. */
		*stop = body.stop || !(rc == IB_EVERIFY || rc == IB_ENET || rc == IB_ETIMEOUT);
		goto out;
	}
	/*
	 * No waiting for the disk: a cached bundle is verified in full whenever it
	 * is used, and one damaged by a crash is removed and fetched again.
	 * The signature last: a cached signature always has its bundle beside it.
	 */
	body.of.no_sync = 1;
	rc = ib_outfile_commit(&body.of, 1, err);
	sig_path = rc ? NULL : ib_sig_path_for(body.bundle_path);
	if (rc == 0 && !sig_path)
		rc = ib_oom(err);
	if (rc == 0)
		rc = ib_outfile_printf(sig_path, err, "%s", sig_text);
	if (rc) {
		ib_bundle_release(bundle);
		*stop = 1;
		goto out;
	}
	ib_info("%s: verified, saved as %s", shown, body.bundle_path);
	*path_out = body.bundle_path;
	body.bundle_path = NULL;
out:
	ib_outfile_abort(&body.of);
	free(body.bundle_path);
	free(sig_path);
	return rc;
}

static int setup_curl(struct fetch *f, struct ib_err *err)
{
	/* The options whose values never change; libcurl fails on none without a failed allocation.
	 */
	static const struct {
		int option, value;
	} fixed[] = {
	        {CURLOPT_NOSIGNAL, 1},
	        {CURLOPT_FOLLOWLOCATION, 1},
	        {CURLOPT_MAXREDIRS, 5},
	        /* The bytes hashed must be the bytes served. */
	        {CURLOPT_HTTP_CONTENT_DECODING, 0},
	        /* Fewer callbacks than with libcurl's 16 KiB, for little memory. */
	        {CURLOPT_BUFFERSIZE, 128 * 1024},
	};
	const struct ib_fetch_opts *o = f->o;
	/* Also sets up libcurl's global state, thread-safely since libcurl 7.84. */
	CURL *c = curl_easy_init();
	unsigned bad = 0;

	if (!c)
		return ib_fail(err, IB_EINTERNAL, "cannot set up libcurl");
	f->curl = c;
	for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++)
		bad |= curl_easy_setopt(c, (CURLoption)fixed[i].option, (long)fixed[i].value);
	bad |= curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long)o->connect_timeout_seconds);
	bad |= curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, (long)o->low_speed_limit);
	bad |= curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, (long)o->low_speed_seconds);
	bad |= curl_easy_setopt(c, CURLOPT_ERRORBUFFER, f->curl_msg);
	bad |= curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	bad |= curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	bad |= curl_easy_setopt(c, CURLOPT_USERAGENT, "ibdrv/" IBDRV_VERSION);
	bad |= curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	if (o->cacert)
		bad |= curl_easy_setopt(c, CURLOPT_CAINFO, o->cacert);
	if (bad)
		return ib_fail(err, IB_EINTERNAL, "cannot set up libcurl");
	return 0;
}

int ib_fetch_bundle(const struct ib_fetch_opts *o, char **bundle_path_out, struct ib_bundle *bundle,
                    struct ib_err *err)
{
	struct fetch f = {0};
	int rc, stop = 0;

	*bundle_path_out = NULL;
	memset(bundle, 0, sizeof *bundle);
	ib_err_clear(err);
	if (!o->n_urls || !o->n_keys || !o->cache_dir || !*o->cache_dir)
		return ib_fail(err, IB_EUSAGE, "download: no URL, trusted key or cache folder");
	for (size_t i = 0; i < o->n_urls; i++) {
		const char *base;
		char shown[1024];

		if (!url_base(o->urls[i], &base)) {
			url_display(o->urls[i], shown, sizeof shown);
			return ib_fail(err, IB_EUSAGE, "%s: URL names no file", shown);
		}
	}
	f.o = o;
	f.deadline_ms = plat_monotonic_ms() + (uint64_t)o->deadline_seconds * 1000;

	rc = plat_mkdir_p(o->cache_dir, 0755, err);
	if (rc == 0)
		rc = setup_curl(&f, err);
	stop = rc != 0;
	for (size_t i = 0; i < o->n_urls && !stop; i++) {
		if (i > 0)
			ib_warn("%s; trying the next mirror", err->msg);
		rc = try_mirror(&f, o->urls[i], bundle_path_out, bundle, &stop, err);
		if (rc == 0)
			break;
	}
	if (f.curl)
		curl_easy_cleanup(f.curl);
	return rc;
}

void ib_fetch_progress_bar(void *ctx, uint64_t done, uint64_t total, double rate)
{
	struct ib_fetch_bar *bar = ctx;
	uint64_t now = plat_monotonic_ms();
	int complete = done >= total;

	if (!bar->started || done < bar->last_done) {
		/* First call, or the body started again from zero. */
		ib_fetch_bar_end(bar);
		bar->started = 1;
		bar->last_done = 0;
		bar->last_ms = now;
		ib_progress_start(&bar->bar, "download", total, 0);
		bar->drawn = bar->bar.active;
	}
	if (bar->drawn) {
		ib_progress_add(&bar->bar, done - bar->last_done);
		bar->last_done = done;
		if (complete)
			ib_fetch_bar_end(bar);
		return;
	}
	bar->last_done = done;
	if (!complete && now - bar->last_ms < BAR_LOG_EVERY_MS)
		return;
	bar->last_ms = now;
	ib_info("download: %.1f of %.1f MiB (%u%%), %.1f MiB/s, %.0f s left",
	        (double)(int64_t)done / 1048576.0, (double)(int64_t)total / 1048576.0,
	        total ? (unsigned)(done * 100 / total) : 100, rate / 1048576.0,
	        rate > 0 ? (double)(int64_t)(total - done) / rate : 0.0);
}

void ib_fetch_bar_end(struct ib_fetch_bar *bar)
{
	ib_progress_end(&bar->bar);
}
