/*
 * locate.h - which bundle on this machine to install from.
 *
 * Search order: an explicit path; the bundle baked into the extension package
 * (<package>/bundle/); the image-baking folder (<state>/bundles); the
 * download cache (<state>/cache). In a folder, every *.ibb whose .minisig is
 * signed by a trusted key counts (only the signature's trusted comment is
 * checked here, the rest when the bundle is read), and the one with the
 * highest sequence wins; the others are logged and skipped. The first place
 * that has one wins.
 */
#ifndef IBDRV_LOCATE_H
#define IBDRV_LOCATE_H

#include "minisign.h"

/* *where for a bundle found in the download cache. */
#define IB_LOCATE_CACHE "download cache"

struct ib_locate_opts {
	const char *bundle_path; /* explicit choice: used as is, even if it does not verify */
	const char *package_dir; /* NULL: none */
	const char *bundles_dir;
	const char *cache_dir;
	const struct ib_pubkey *keys;
	size_t n_keys;
};

/*
 * *path_out gets a malloc'd path (caller frees), or NULL when no place has
 * one; *where names the place ("--bundle", "extension package", ...).
 */
int ib_locate_bundle(const struct ib_locate_opts *o, char **path_out, const char **where,
                     struct ib_err *err);

#endif
