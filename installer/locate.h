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

#include "apply.h"
#include "state.h"

/* *where for a bundle found in the download cache. */
#define IB_LOCATE_CACHE "download cache"

/*
 * Searches for the engine's options o (bundle_path, package_dir, keys) and folders p:
 * o->bundle_path is used as is, even if it does not verify. *path_out gets a malloc'd
 * path (caller frees), or NULL when no place has one; *where names the place
 * ("--bundle", "extension package", ...).
 */
int ib_locate_bundle(const struct ib_apply_opts *o, const struct ib_paths *p, char **path_out,
                     const char **where, struct ib_err *err);

#endif
