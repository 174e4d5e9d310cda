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
#define NAME_MAX_LEN 128

/* What one attempt at a URL came to. */
enum outcome {
	OUT_OK,      /* the whole body is here */
	OUT_RETRY,   /* a transient failure: back off and try this URL again */
	OUT_RESTART, /* the server would not resume: start the body again from zero */
	OUT_NEXT,    /* this URL will not work: try the next mirror */
	OUT_TIMEOUT, /* the overall deadline passed */
	OUT_FATAL    /* a local failure no mirror can fix (cache folder, memory) */
};

enum abort_reason { ABORT_NONE, ABORT_STATUS, ABORT_TOO_BIG, ABORT_IO };

struct fetch {
	const struct ib_fetch_opts *o;
	CURL *curl;
	uint64_t deadline_ms;
	char curl_msg[CURL_ERROR_SIZE];
};

/* Where a body goes: a bounded memory buffer, or a temporary file hashed as it is written. */
struct sink {
	struct fetch *f;
	char *buf; /* memory sink: cap + 1 bytes */
	struct ib_outfile *file;
	struct ib_hash *hash;
	uint64_t limit;  /* most bytes the body may have */
	uint64_t done;   /* bytes held, including those kept from earlier attempts */
	uint64_t offset; /* bytes held when the current attempt started */
	int status_checked;
	long status;
	enum abort_reason abort;
	int io_errno;
	uint64_t attempt_ms;
	uint64_t progress_ms;
};

void ib_fetch_opts_init(struct ib_fetch_opts *o)
{
	memset(o, 0, sizeof *o);
	o->deadline_seconds = 600;
	o->connect_timeout_seconds = 30;
	o->low_speed_limit = 1024;
	o->low_speed_seconds = 60;
	o->max_retries = 10;
	o->backoff_ms = 1000;
	o->backoff_max_ms = 60000;
}

/* A malloc'd copy of the first len bytes of s (NULL when out of memory). */
static char *copy_n(const char *s, size_t len)
{
	char *out = malloc(len + 1);

	if (out) {
		memcpy(out, s, len);
		out[len] = '\0';
	}
	return out;
}

/* The URL for messages: no user:password@ and no query string (either may hold a secret). */
static void url_display(const char *url, char *out, size_t cap)
{
	const char *scheme_end = strstr(url, "://");
	const char *host = scheme_end ? scheme_end + 3 : url;
	size_t host_len = strcspn(host, "/?#");
	const char *at = memchr(host, '@', host_len);
	size_t query = strcspn(url, "?#");

	if (at) {
		snprintf(out, cap, "%.*s***%.*s%s", (int)(host - url), url,
		         (int)(query - (size_t)(at - url)), at, url[query] ? "?..." : "");
	} else {
		snprintf(out, cap, "%.*s%s", (int)query, url, url[query] ? "?..." : "");
	}
}

/* The last segment of the URL's path, or NULL when it has none. Caller frees. */
static char *url_basename(const char *url)
{
	const char *scheme_end = strstr(url, "://");
	const char *path = scheme_end ? scheme_end + 3 : url;
	size_t len, start;

	path += strcspn(path, "/?#");
	len = strcspn(path, "?#");
	start = len;
	while (start > 0 && path[start - 1] != '/')
		start--;
	if (start == len)
		return NULL;
	return copy_n(path + start, len - start);
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

static int valid_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > NAME_MAX_LEN || s[0] == '.' || s[0] == '-')
		return 0;
	return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._+-") == n;
}

/* The fields of a bundle's trusted comment that the download relies on. */
struct signed_info {
	struct ib_bundle_claims claims;
	char file[256];
};

static int read_signed_info(const struct ib_sig *sig, const char *source, struct signed_info *si,
                            struct ib_err *err)
{
	int rc = ib_bundle_parse_claims(sig->trusted_comment, &si->claims, err);

	if (rc == 0)
		rc = ib_tc_get(sig->trusted_comment, "file", si->file, sizeof si->file, err);
	if (rc) {
		ib_err_prefix(err, "%s", source);
		return IB_EVERIFY;
	}
	/* The name becomes a file name in the cache folder. */
	if (!valid_name(si->claims.name))
		return ib_fail(err, IB_EVERIFY, "%s: trusted comment has a bad bundle name '%s'",
		               source, si->claims.name);
	return 0;
}

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
	secs = (double)(now - s->attempt_ms) / 1000.0;
	o->progress(o->progress_ctx, s->done, s->limit,
	            secs > 0 ? (double)(s->done - s->offset) / secs : 0.0);
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *ctx)
{
	struct sink *s = ctx;
	size_t len = size * nmemb;

	if (!s->status_checked) {
		s->status_checked = 1;
		curl_easy_getinfo(s->f->curl, CURLINFO_RESPONSE_CODE, &s->status);
		/* Only the body we asked for may reach the file; the rest is classified later. */
		if (s->status != (s->offset ? 206 : 200)) {
			s->abort = ABORT_STATUS;
			return 0;
		}
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
		ib_hash_update(s->hash, data, len);
	} else {
		memcpy(s->buf + s->done, data, len);
	}
	s->done += len;
	report_progress(s, 0);
	return len;
}

/* Empties the sink so the body can be fetched again from its first byte. */
static int sink_reset(struct sink *s, struct ib_err *err)
{
	int rc;

	s->done = 0;
	if (!s->file)
		return 0;
	ib_hash_abort(s->hash);
	rc = ib_hash_init(s->hash, IB_HASH_SIG_BYTES, err);
	if (rc)
		return rc;
	char *path = copy_n(s->file->path, strlen(s->file->path));
	if (!path)
		return ib_fail(err, IB_ENOMEM, "out of memory");
	ib_outfile_abort(s->file);
	rc = ib_outfile_open(s->file, path, 0644, err);
	free(path);
	return rc;
}

static int retryable_curl_code(CURLcode rc)
{
	switch (rc) {
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_PARTIAL_FILE:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return 1;
	default:
		return 0;
	}
}

static int retryable_status(long status)
{
	return status == 408 || status == 429 || (status >= 500 && status <= 599);
}

/*
 * One GET of url into s, resuming from s->done. Fills err (naming shown_url)
 * for every outcome but OUT_OK; *retry_after gets the server's Retry-After.
 */
static enum outcome attempt(struct fetch *f, const char *url, const char *shown_url, struct sink *s,
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
		if (err->code)
			ib_err_prefix(err, "%s: deadline of %u s passed; last error", shown_url,
			              f->o->deadline_seconds);
		else
			ib_fail(err, IB_ETIMEOUT, "%s: deadline of %u s passed", shown_url,
			        f->o->deadline_seconds);
		err->code = IB_ETIMEOUT;
		return OUT_TIMEOUT;
	}
	s->offset = s->done;
	s->status_checked = 0;
	s->status = 0;
	s->abort = ABORT_NONE;
	s->attempt_ms = now;
	s->progress_ms = now;
	f->curl_msg[0] = '\0';
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, s);
	curl_easy_setopt(c, CURLOPT_RESUME_FROM_LARGE, (curl_off_t)s->done);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)(f->deadline_ms - now));
	if (s->done)
		ib_info("%s: resuming at byte %llu", shown_url, (unsigned long long)s->done);
	rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(c, CURLINFO_RETRY_AFTER, &retry_after);
	if (retry_after > 0)
		*retry_after_s = (uint64_t)retry_after;
	why = f->curl_msg[0] ? f->curl_msg : curl_easy_strerror(rc);

	if (s->abort == ABORT_IO) {
		ib_fail_errno(err, IB_EIO, s->io_errno, "%s: cannot write", s->file->tmp_path);
		return OUT_FATAL;
	}
	if (s->abort == ABORT_TOO_BIG) {
		ib_fail(err, IB_EVERIFY, "%s: body is larger than %s (%llu bytes); stopped",
		        shown_url, s->file ? "the signed size" : "a signature may be",
		        (unsigned long long)s->limit);
		return OUT_NEXT;
	}
	if (rc == CURLE_OUT_OF_MEMORY) {
		ib_fail(err, IB_ENOMEM, "%s: out of memory", shown_url);
		return OUT_FATAL;
	}
	if (rc == CURLE_RANGE_ERROR || (s->offset && (status == 200 || status == 416))) {
		ib_fail(err, IB_ENET, "%s: server did not resume at byte %llu (HTTP %ld)",
		        shown_url, (unsigned long long)s->offset, status);
		return OUT_RESTART;
	}
	if (rc == CURLE_OPERATION_TIMEDOUT) {
		if (plat_monotonic_ms() >= f->deadline_ms) {
			ib_fail(err, IB_ETIMEOUT, "%s: deadline of %u s passed: %s", shown_url,
			        f->o->deadline_seconds, why);
			return OUT_TIMEOUT;
		}
		ib_fail(err, IB_ETIMEOUT, "%s: %s", shown_url, why);
		return OUT_RETRY;
	}
	if (rc == CURLE_OK || s->abort == ABORT_STATUS) {
		if (status == (s->offset ? 206 : 200)) {
			/* A body without a length may end early; the file sink knows what to
			 * expect. */
			if (s->file && s->done < s->limit) {
				ib_fail(err, IB_ENET, "%s: body ended at byte %llu of %llu",
				        shown_url, (unsigned long long)s->done,
				        (unsigned long long)s->limit);
				return OUT_RETRY;
			}
			return OUT_OK;
		}
		if (retry_after > 0)
			ib_fail(err, IB_ENET, "%s: HTTP %ld (Retry-After %lld s)", shown_url,
			        status, (long long)retry_after);
		else
			ib_fail(err, IB_ENET, "%s: HTTP %ld", shown_url, status);
		return retryable_status(status) ? OUT_RETRY : OUT_NEXT;
	}
	ib_fail(err, IB_ENET, "%s: %s", shown_url, why);
	return retryable_curl_code(rc) ? OUT_RETRY : OUT_NEXT;
}

/*
 * Fetches url into s with retries. Returns 0, or an IB_E* code with err
 * filled; *stop is set when no other mirror should be tried.
 */
static int fetch_url(struct fetch *f, const char *url, struct sink *s, int *stop,
                     struct ib_err *err)
{
	const struct ib_fetch_opts *o = f->o;
	char shown[1024];
	unsigned retries = 0;
	uint64_t retry_after_s, wait_ms, now;
	int rc;

	url_display(url, shown, sizeof shown);
	for (;;) {
		enum outcome oc = attempt(f, url, shown, s, &retry_after_s, err);

		if (oc == OUT_RETRY && s->file && s->done == s->limit)
			oc = OUT_OK; /* all bytes arrived before the failure: verification decides
			              */
		switch (oc) {
		case OUT_OK:
			report_progress(s, 1);
			return 0;
		case OUT_TIMEOUT:
		case OUT_FATAL:
			*stop = 1;
			return err->code;
		case OUT_NEXT:
			return err->code;
		case OUT_RESTART:
		case OUT_RETRY:
			break;
		}
		if (retries >= o->max_retries) {
			size_t len = strlen(err->msg);

			snprintf(err->msg + len, sizeof err->msg - len,
			         " (gave up after %u attempts)", retries + 1);
			return err->code;
		}
		retries++;
		if (oc == OUT_RESTART) {
			ib_warn("%s; starting again from byte 0", err->msg);
			rc = sink_reset(s, err);
			if (rc) {
				*stop = 1;
				return rc;
			}
			continue;
		}
		if (retry_after_s) {
			wait_ms = retry_after_s * 1000;
		} else {
			uint64_t ceiling = o->backoff_max_ms;

			if (retries - 1 < 32 &&
			    ((uint64_t)o->backoff_ms << (retries - 1)) < ceiling)
				ceiling = (uint64_t)o->backoff_ms << (retries - 1);
			/* Full jitter: a fleet that failed together does not come back together. */
			wait_ms = randombytes_uniform(
			        (uint32_t)(ceiling > UINT32_MAX - 1 ? UINT32_MAX - 1 : ceiling) +
			        1);
		}
		now = plat_monotonic_ms();
		if (now + wait_ms >= f->deadline_ms) {
			if (retry_after_s) {
				/* Waiting is pointless; another mirror may answer now. */
				ib_fail(err, IB_ETIMEOUT,
				        "%s: server asks to retry after %llu s, past the deadline",
				        shown, (unsigned long long)retry_after_s);
				return err->code;
			}
			/* No retry fits before the deadline: the last failure is the answer (a
			 * refused connection stays "unreachable", a stall stays a timeout). */
			size_t len = strlen(err->msg);

			if (err->code == IB_ETIMEOUT) {
				ib_err_prefix(err, "%s: deadline of %u s passed; last error", shown,
				              o->deadline_seconds);
				return err->code;
			}
			snprintf(err->msg + len, sizeof err->msg - len,
			         " (no time left for another attempt before the %u s deadline)",
			         o->deadline_seconds);
			return err->code;
		}
		ib_warn("%s; retrying in %llu ms", err->msg, (unsigned long long)wait_ms);
		plat_sleep_ms((unsigned)wait_ms);
	}
}

/* Checks path's size and signature against sig and key; IB_EVERIFY when they do not match. */
static int verify_file(const char *path, uint64_t size, const struct ib_sig *sig,
                       const struct ib_pubkey *key, struct ib_err *err)
{
	unsigned char hash[IB_HASH_SIG_BYTES];
	enum plat_kind kind;
	uint64_t actual;
	int rc = plat_lstat(path, &kind, &actual, err);

	if (rc)
		return rc;
	if (kind != PLAT_REGULAR)
		return ib_fail(err, IB_EVERIFY, "%s: not a regular file", path);
	if (actual != size)
		return ib_fail(err, IB_EVERIFY, "%s: %llu bytes, signed size is %llu", path,
		               (unsigned long long)actual, (unsigned long long)size);
	rc = ib_hash_file(path, IB_HASH_SIG_BYTES, hash, err);
	if (rc == 0)
		rc = ib_sig_check_hash(sig, key, hash, err);
	if (rc == IB_EVERIFY)
		ib_err_prefix(err, "%s", path);
	return rc;
}

static int url_has_basename(const struct ib_fetch_opts *o, const char *file)
{
	for (size_t i = 0; i < o->n_urls; i++) {
		char *base = url_basename(o->urls[i]);
		int same = base && !strcmp(base, file);

		free(base);
		if (same)
			return 1;
	}
	return 0;
}

/*
 * Looks in the cache for a bundle signed as one of the URLs' files. *found
 * gets the path of the verified one with the highest sequence, or NULL.
 * Cached files signed by a trusted key that fail to verify are deleted.
 */
static int cache_lookup(const struct ib_fetch_opts *o, char **found, struct ib_err *err)
{
	static const char suffix[] = ".ibb.minisig";
	char **names = NULL;
	size_t count = 0;
	uint64_t best_seq = 0;
	int rc;

	*found = NULL;
	rc = plat_list_dir(o->cache_dir, &names, &count, err);
	if (rc)
		return rc;
	for (size_t i = 0; i < count; i++) {
		size_t len = strlen(names[i]);
		struct ib_sig sig;
		struct signed_info si;
		struct ib_err e;
		size_t which;
		char *sig_path = NULL, *bundle_path = NULL;

		if (len <= sizeof suffix - 1 ||
		    strcmp(names[i] + len - (sizeof suffix - 1), suffix))
			continue;
		sig_path = ib_path_join(o->cache_dir, names[i]);
		if (!sig_path) {
			rc = ib_fail(err, IB_ENOMEM, "out of memory");
			break;
		}
		/* Files of other publishers or of other URLs are left alone. */
		if (ib_sig_load(sig_path, &sig, &e) ||
		    ib_sig_check_comment(&sig, o->keys, o->n_keys, &which, &e) ||
		    read_signed_info(&sig, sig_path, &si, &e) || !url_has_basename(o, si.file) ||
		    strlen(si.claims.name) + sizeof suffix - 1 != len ||
		    strncmp(names[i], si.claims.name, strlen(si.claims.name))) {
			free(sig_path);
			continue;
		}
		bundle_path = copy_n(sig_path, strlen(sig_path) - strlen(".minisig"));
		if (!bundle_path) {
			free(sig_path);
			rc = ib_fail(err, IB_ENOMEM, "out of memory");
			break;
		}
		if (verify_file(bundle_path, si.claims.size, &sig, &o->keys[which], &e) == 0) {
			if (!*found || si.claims.sequence > best_seq) {
				free(*found);
				*found = bundle_path;
				bundle_path = NULL;
				best_seq = si.claims.sequence;
			}
		} else if (e.code == IB_EVERIFY) {
			ib_warn("cache: %s; removing it", e.msg);
			plat_remove(bundle_path, NULL);
			plat_remove(sig_path, NULL);
		} else if (e.code == IB_ENOMEM) {
			rc = ib_fail(err, IB_ENOMEM, "out of memory");
		} else {
			ib_warn("cache: %s; not using it", e.msg);
		}
		free(bundle_path);
		free(sig_path);
		if (rc)
			break;
	}
	plat_free_names(names, count);
	if (rc) {
		free(*found);
		*found = NULL;
	}
	return rc;
}

static int write_small_file(const char *path, const char *data, size_t len, struct ib_err *err)
{
	struct ib_outfile of;
	int rc = ib_outfile_open(&of, path, 0644, err);

	if (rc)
		return rc;
	if (fwrite(data, 1, len, of.fp) != len) {
		rc = ib_fail_errno(err, IB_EIO, errno, "%s: cannot write", of.tmp_path);
		ib_outfile_abort(&of);
		return rc;
	}
	return ib_outfile_commit(&of, 1, err);
}

/* One mirror: signature, then bundle, then verification and the move into the cache. */
static int try_mirror(struct fetch *f, const char *url, char **path_out, int *stop,
                      struct ib_err *err)
{
	const struct ib_fetch_opts *o = f->o;
	char shown[1024], sig_shown[1024];
	char *sig_url = url_with_suffix(url, ".minisig");
	char *base = url_basename(url);
	char *sig_text = malloc(IB_FETCH_SIG_MAX + 1);
	char *bundle_path = NULL, *sig_path = NULL, *name_ibb = NULL;
	unsigned char hash[IB_HASH_SIG_BYTES];
	struct ib_outfile of = {0};
	struct ib_hash h = {0};
	struct ib_sig sig;
	struct signed_info si;
	struct sink s;
	size_t which, sig_len;
	int rc;

	url_display(url, shown, sizeof shown);
	if (!sig_url || !base || !sig_text) {
		rc = ib_fail(err, IB_ENOMEM, "out of memory");
		goto out;
	}
	url_display(sig_url, sig_shown, sizeof sig_shown);

	memset(&s, 0, sizeof s);
	s.f = f;
	s.buf = sig_text;
	s.limit = IB_FETCH_SIG_MAX;
	rc = fetch_url(f, sig_url, &s, stop, err);
	if (rc)
		goto out;
	sig_len = (size_t)s.done;
	sig_text[sig_len] = '\0';
	rc = ib_sig_parse(sig_text, sig_len, sig_shown, &sig, err);
	if (rc == 0)
		rc = ib_sig_check_comment(&sig, o->keys, o->n_keys, &which, err);
	if (rc == 0)
		rc = read_signed_info(&sig, sig_shown, &si, err);
	if (rc) {
		if (rc != IB_ENOMEM)
			err->code = rc = IB_EVERIFY;
		if (!strstr(err->msg, sig_shown))
			ib_err_prefix(err, "%s", sig_shown);
		goto out;
	}
	if (strcmp(si.file, base)) {
		rc = ib_fail(err, IB_EVERIFY, "%s: signed for file '%s', not '%s'", sig_shown,
		             si.file, base);
		goto out;
	}

	name_ibb = malloc(strlen(si.claims.name) + 5);
	if (!name_ibb) {
		rc = ib_fail(err, IB_ENOMEM, "out of memory");
		goto out;
	}
	sprintf(name_ibb, "%s.ibb", si.claims.name);
	bundle_path = ib_path_join(o->cache_dir, name_ibb);
	sig_path = bundle_path ? malloc(strlen(bundle_path) + 9) : NULL;
	if (!sig_path) {
		rc = ib_fail(err, IB_ENOMEM, "out of memory");
		goto out;
	}
	sprintf(sig_path, "%s.minisig", bundle_path);
	ib_info("%s: %s, %llu bytes, sequence %llu", shown, si.claims.name,
	        (unsigned long long)si.claims.size, (unsigned long long)si.claims.sequence);

	rc = ib_outfile_open(&of, bundle_path, 0644, err);
	if (rc) {
		*stop = 1;
		goto out;
	}
	rc = ib_hash_init(&h, IB_HASH_SIG_BYTES, err);
	if (rc) {
		*stop = 1;
		goto out;
	}
	memset(&s, 0, sizeof s);
	s.f = f;
	s.file = &of;
	s.hash = &h;
	s.limit = si.claims.size;
	rc = fetch_url(f, url, &s, stop, err);
	if (rc)
		goto out;
	ib_hash_final(&h, hash);
	rc = ib_sig_check_hash(&sig, &o->keys[which], hash, err);
	if (rc) {
		ib_err_prefix(err, "%s", shown);
		goto out;
	}
	/* The signature last: a cached signature always has its bundle beside it. */
	rc = ib_outfile_commit(&of, 1, err);
	if (rc == 0)
		rc = write_small_file(sig_path, sig_text, sig_len, err);
	if (rc) {
		*stop = 1;
		goto out;
	}
	ib_info("%s: verified, saved as %s", shown, bundle_path);
	*path_out = bundle_path;
	bundle_path = NULL;
out:
	ib_hash_abort(&h);
	ib_outfile_abort(&of);
	free(sig_url);
	free(base);
	free(sig_text);
	free(name_ibb);
	free(bundle_path);
	free(sig_path);
	return rc;
}

static int setup_curl(struct fetch *f, struct ib_err *err)
{
	const struct ib_fetch_opts *o = f->o;
	CURL *c = curl_easy_init();
	CURLcode rc = CURLE_OK;

	if (!c)
		return ib_fail(err, IB_EINTERNAL, "cannot initialise libcurl");
	f->curl = c;
#define SET(opt, val)                                                                              \
	do {                                                                                       \
		if (rc == CURLE_OK)                                                                \
			rc = curl_easy_setopt(c, opt, val);                                        \
	} while (0)
	SET(CURLOPT_ERRORBUFFER, f->curl_msg);
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_PROTOCOLS_STR, "http,https");
	SET(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	SET(CURLOPT_FOLLOWLOCATION, 1L);
	SET(CURLOPT_MAXREDIRS, 5L);
	SET(CURLOPT_FAILONERROR, 0L);
	/* The bytes hashed must be the bytes served. */
	SET(CURLOPT_HTTP_CONTENT_DECODING, 0L);
	SET(CURLOPT_CONNECTTIMEOUT, (long)o->connect_timeout_seconds);
	SET(CURLOPT_LOW_SPEED_LIMIT, (long)o->low_speed_limit);
	SET(CURLOPT_LOW_SPEED_TIME, (long)o->low_speed_seconds);
	SET(CURLOPT_USERAGENT, "ibdrv/" IBDRV_VERSION);
	SET(CURLOPT_WRITEFUNCTION, on_body);
	if (o->cacert)
		SET(CURLOPT_CAINFO, o->cacert);
#undef SET
	if (rc != CURLE_OK)
		return ib_fail(err, IB_EINTERNAL, "libcurl refuses an option: %s",
		               curl_easy_strerror(rc));
	return 0;
}

int ib_fetch_bundle(const struct ib_fetch_opts *o, char **bundle_path_out, struct ib_err *err)
{
	struct fetch f = {0};
	char *found = NULL;
	int rc, stop = 0, curl_ready = 0;

	*bundle_path_out = NULL;
	ib_err_clear(err);
	if (!o->n_urls || !o->n_keys || !o->cache_dir || !*o->cache_dir)
		return ib_fail(err, IB_EUSAGE,
		               "download needs a URL, a trusted key and a cache folder");
	for (size_t i = 0; i < o->n_urls; i++) {
		char *base = url_basename(o->urls[i]);
		char shown[1024];

		url_display(o->urls[i], shown, sizeof shown);
		free(base);
		if (!base)
			return ib_fail(err, IB_EUSAGE, "%s: URL names no file", shown);
	}
	f.o = o;
	f.deadline_ms = plat_monotonic_ms() + (uint64_t)o->deadline_seconds * 1000;

	rc = plat_mkdir_p(o->cache_dir, 0755, err);
	if (rc)
		return rc;
	rc = cache_lookup(o, &found, err);
	if (rc)
		return rc;
	if (found) {
		ib_info("using the verified bundle in the cache: %s", found);
		*bundle_path_out = found;
		return 0;
	}

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return ib_fail(err, IB_EINTERNAL, "cannot initialise libcurl");
	curl_ready = 1;
	rc = setup_curl(&f, err);
	if (rc)
		goto out;
	for (size_t i = 0; i < o->n_urls && !stop; i++) {
		if (i > 0)
			ib_warn("%s; trying the next mirror", err->msg);
		rc = try_mirror(&f, o->urls[i], bundle_path_out, &stop, err);
		if (rc == 0)
			break;
	}
out:
	if (f.curl)
		curl_easy_cleanup(f.curl);
	if (curl_ready)
		curl_global_cleanup();
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
		bar->tty = plat_isatty(stderr);
		bar->last_done = 0;
		bar->last_ms = now;
		if (bar->tty)
			ib_progress_start(&bar->bar, "download", total, 0);
	}
	if (bar->tty) {
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
	if (rate > 0 && !complete)
		ib_info("download: %.1f of %.1f MiB (%u%%), %.1f MiB/s, %.0f s left",
		        (double)done / 1048576.0, (double)total / 1048576.0,
		        total ? (unsigned)(done * 100 / total) : 100, rate / 1048576.0,
		        (double)(total - done) / rate);
	else
		ib_info("download: %.1f of %.1f MiB (%u%%)", (double)done / 1048576.0,
		        (double)total / 1048576.0, total ? (unsigned)(done * 100 / total) : 100);
}

void ib_fetch_bar_end(struct ib_fetch_bar *bar)
{
	if (bar->started && bar->tty)
		ib_progress_end(&bar->bar);
}
