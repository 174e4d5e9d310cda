/*
 * download.h - fetch a signed bundle over HTTP(S), reading it as it streams.
 *
 * Promises: nothing lands in the cache folder unless its minisign signature
 * checks out against one of the trusted keys; the bundle is read once, as it
 * arrives: the bundle reader (bundle.h) verifies it, and extracts what the
 * caller chose, from the same bytes that are written to the cache (memory
 * stays flat whatever its size); a body larger than the size in the signed
 * trusted comment is cut off as soon as it grows past it. Only http and
 * https are ever spoken, also after redirects. Every failure message names
 * the URL (query string hidden: it may hold an access token) and the last
 * error seen: the HTTP status or libcurl's text.
 *
 * For each mirror, in order: URL.minisig (at most IB_FETCH_SIG_MAX bytes) is
 * fetched and its trusted comment checked, which gives the bundle's name,
 * size and file name; the signed "file" must be the URL's last path segment.
 * Then the bundle is fetched into a temporary file in the cache folder and
 * handed to the reader, resumed with a Range request after a cut connection
 * (fetched from byte 0 again, skipping what was already read, when the
 * server ignores the range), and renamed to <cache>/<name>.ibb beside
 * <cache>/<name>.ibb.minisig once the reader has verified it all. Connection
 * errors, stalls below the low-speed limit, 408, 429 and 5xx are retried
 * with exponential backoff and full jitter (Retry-After is honoured); other
 * HTTP errors, refused redirects, TLS failures and verification failures
 * move on to the next mirror, with a fresh read.
 *
 * Finding a bundle already in the cache is the caller's job (locate.h).
 * The cache folder belongs to one process at a time (the installer's lock).
 * Proxies come from the usual environment variables (libcurl's defaults).
 */
#ifndef IBDRV_DOWNLOAD_H
#define IBDRV_DOWNLOAD_H

#include "bundle.h"
#include "err.h"
#include "minisign.h"
#include "progress.h"

#include <stddef.h>
#include <stdint.h>

/* Largest .minisig accepted from a server. */
#define IB_FETCH_SIG_MAX 16384

/*
 * Called during the bundle's transfer, at most every few hundred
 * milliseconds and once when it completes: done and total in bytes (done
 * counts bytes kept from an earlier, resumed attempt), rate in bytes per
 * second over the current attempt.
 */
typedef void (*ib_fetch_progress_fn)(void *ctx, uint64_t done, uint64_t total, double rate);

struct ib_fetch_opts {
	const char *const *urls; /* mirrors, tried in order */
	size_t n_urls;
	const struct ib_pubkey *keys; /* trusted keys (several during a rotation) */
	size_t n_keys;
	const char *cache_dir;            /* created (0755) when missing */
	const char *cacert;               /* PEM CA bundle for https, NULL for the system store */
	unsigned deadline_seconds;        /* for the whole call; past it: IB_ETIMEOUT */
	unsigned connect_timeout_seconds; /* per connection attempt */
	unsigned low_speed_limit;         /* bytes per second ... */
	unsigned low_speed_seconds;       /* ... below which for this long counts as a stall */
	unsigned max_retries;             /* per URL, after the first attempt */
	unsigned backoff_ms;              /* first backoff ceiling; doubles per retry */
	unsigned backoff_max_ms;          /* largest backoff ceiling */
	ib_fetch_progress_fn progress;    /* NULL for none; called on the reader's worker */
	void *progress_ctx;
	/*
	 * How each bundle is read (prepare, choice, extraction); keys, source and
	 * quiet are set here. Its prepare runs before the mirror's bundle is
	 * requested. NULL: verify only.
	 */
	const struct ib_read_opts *read;
};

/*
 * Fills o with the defaults: deadline 600 s, connect timeout 30 s, low speed
 * 1024 B/s for 60 s, 10 retries, backoff from 1 s up to 60 s, no CA file, no
 * progress. The caller then sets urls, keys and cache_dir.
 */
void ib_fetch_opts_init(struct ib_fetch_opts *o);

/*
 * Downloads and reads a bundle from the first of o->urls that serves a good
 * one. On success *bundle_path_out is its path in the cache (malloc'd, the
 * caller frees it; the signature is that path plus ".minisig") and *bundle
 * what the read found (release with ib_bundle_release). Returns 0 or:
 * IB_ETIMEOUT (the deadline passed, or the last mirror stalled), IB_EVERIFY
 * (the last mirror served a signature or bundle that does not verify, or a
 * body longer than signed), IB_ENET (the last mirror could not be reached or
 * answered an HTTP error), IB_EIO (the cache folder, extraction), IB_EUSAGE
 * (bad options), IB_ENOMEM, IB_EINTERNAL, or the code of a failed prepare or
 * choice (read opts), which ends the download at once. When several mirrors
 * fail, the code and message are the last one's, and each earlier failure is
 * logged as a warning. err must not be NULL.
 */
int ib_fetch_bundle(const struct ib_fetch_opts *o, char **bundle_path_out, struct ib_bundle *bundle,
                    struct ib_err *err);

/*
 * A ready-made progress callback: the project's progress bar (bytes, rate,
 * ETA) on stderr where it is drawn (progress.h: a terminal, 8 MiB or more);
 * otherwise an info log line every few seconds and one at the end (handler
 * mode). Pass a zeroed struct ib_fetch_bar as its ctx, and call
 * ib_fetch_bar_end once ib_fetch_bundle has returned.
 */
struct ib_fetch_bar {
	struct ib_progress bar;
	int started;
	int drawn; /* a bar, not log lines */
	uint64_t last_ms;
	uint64_t last_done;
};
void ib_fetch_progress_bar(void *ctx, uint64_t done, uint64_t total, double rate);
/* Clears the terminal bar's line. */
void ib_fetch_bar_end(struct ib_fetch_bar *bar);

#endif
