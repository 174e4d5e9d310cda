/*
 * bundle.h - signed driver bundles (docs/bundle-format.md).
 *
 * A bundle is a tar (pax) archive, optionally gzip- or zstd-compressed, whose
 * first entry is the resolved manifest.json and whose other entries are the
 * drivers' files at "drivers/<id>/<path>", sorted. BUNDLE.minisig beside it
 * is a minisign prehashed signature whose trusted comment binds the bundle's
 * name, size, sequence and the BLAKE2b-256 of the manifest bytes.
 * Both directions stream: memory does not grow with the bundle's size.
 */
#ifndef IBDRV_BUNDLE_H
#define IBDRV_BUNDLE_H

#include "manifest.h"
#include "minisign.h"
#include "readahead.h"

#include <stdint.h>

#define IB_BUNDLE_TC_TAG "ibdrv-bundle:1"

enum ib_compression { IB_COMPRESS_NONE, IB_COMPRESS_GZIP, IB_COMPRESS_ZSTD };

struct ib_pack_opts {
	const char *manifest_path; /* input manifest (docs/manifest.md) */
	const char *out_path;      /* the bundle; out_path + ".minisig" is written too */
	enum ib_compression compression;
	int level;          /* compression level, -1 for the default (zstd 3, gzip 6) */
	uint64_t timestamp; /* the one time recorded: SOURCE_DATE_EPOCH */
	int quiet;          /* no progress bar */
	int overwrite;      /* replace an existing bundle */
};

/* What a successful pack produced (sizes for the caller's report). */
struct ib_pack_result {
	uint64_t bundle_size;
	uint64_t payload_bytes;
	size_t n_drivers;
	size_t n_files;
	char manifest_hash[IB_HASH_FILE_HEX];
};

/* Packs and signs with sk (already decrypted). Leaves no output behind on failure. */
int ib_bundle_pack(const struct ib_pack_opts *opts, const struct ib_seckey *sk,
                   struct ib_pack_result *result, struct ib_err *err);

/* The fields of a bundle signature's trusted comment. */
struct ib_bundle_claims {
	char name[128]; /* a file name: A-Z a-z 0-9 + . _ -, not starting with '.' or '-' */
	uint64_t size;
	uint64_t sequence;
	char manifest_hash[IB_HASH_FILE_HEX];
	char file[256]; /* the bundle's file name when it was packed */
};

/* Non-zero when a trusted comment is a bundle's; then fills claims (IB_EVERIFY if malformed). */
int ib_bundle_is_bundle_comment(const char *trusted_comment);
int ib_bundle_parse_claims(const char *trusted_comment, struct ib_bundle_claims *claims,
                           struct ib_err *err);

/*
 * Loads BUNDLE.minisig, checks that a trusted key signed its trusted comment
 * and returns the bundle's claims, without reading the bundle: enough to pick
 * among bundles or refuse a downgrade before any real work. Errors name the
 * signature file.
 */
int ib_bundle_signed_claims(const char *bundle_path, const struct ib_pubkey *keys, size_t n_keys,
                            struct ib_bundle_claims *claims, struct ib_err *err);

/*
 * Chooses, once the manifest is authenticated, which driver's files to
 * extract: set *driver to one of m's drivers, or NULL to extract nothing.
 * A non-zero return stops the read with that code.
 */
typedef int (*ib_choose_fn)(void *ctx, const struct ib_manifest *m, const struct ib_driver **driver,
                            struct ib_err *err);

/*
 * Called once the signature's trusted comment has verified, before a byte of
 * the bundle is read (or, for a download, requested), with the name the
 * read's messages use for the bundle: a non-zero return (a
 * refused downgrade, a staging folder that cannot be emptied) stops the read
 * with that code.
 */
typedef int (*ib_prepare_fn)(void *ctx, const char *bundle, const struct ib_bundle_claims *claims,
                             struct ib_err *err);

struct ib_read_opts {
	const struct ib_pubkey *keys; /* trusted keys */
	size_t n_keys;
	const char *sig_path;  /* NULL: bundle path + ".minisig" */
	ib_prepare_fn prepare; /* NULL: none */
	void *prepare_ctx;
	ib_choose_fn choose; /* NULL: extract nothing */
	void *choose_ctx;
	const char *extract_dir; /* existing private folder the chosen driver's files go to */
	int quiet;
	/*
	 * A bundle that is not in a file (a download): produce streams its bytes
	 * on a worker thread (readahead.h), sig is its signature, already
	 * fetched, and the path given to ib_bundle_read only names it in
	 * messages. A failure of produce ends the read with produce's code.
	 */
	ib_produce_fn produce;
	void *produce_ctx;
	const struct ib_sig *sig;
};

struct ib_bundle {
	struct ib_manifest *manifest; /* owned; free with ib_bundle_release */
	struct ib_bundle_claims claims;
	struct ib_sig sig;
	size_t key_index;               /* which trusted key signed it */
	const struct ib_driver *chosen; /* points into manifest, or NULL */
};

/*
 * Verifies a bundle in one pass: the signature's trusted comment first (then
 * prepare), then
 * the manifest against the signed hash, every entry against the manifest
 * (type, name, size, BLAKE2b-256; no extra, missing or duplicate entries),
 * and at the end the signature over the whole file. The chosen driver's files
 * are written under extract_dir as they stream by; on failure the caller
 * must discard extract_dir, nothing there is trustworthy.
 */
int ib_bundle_read(const char *path, const struct ib_read_opts *opts, struct ib_bundle *out,
                   struct ib_err *err);

/* Reads only the manifest (first entry) without any check: for inspect. */
int ib_bundle_peek_manifest(const char *path, struct ib_manifest **out, uint64_t *bundle_size,
                            struct ib_err *err);

void ib_bundle_release(struct ib_bundle *b);

#endif
