#include "locate.h"

#include "bundle.h"
#include "log.h"
#include "path.h"
#include "platform.h"

#include <stdlib.h>
#include <string.h>

static int has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n > m && !strcmp(s + n - m, suffix);
}

/* The sequence a bundle's signed trusted comment claims; non-zero when it does not verify. */
static int signed_sequence(const char *bundle, const struct ib_apply_opts *o, uint64_t *seq)
{
	struct ib_bundle_claims claims;
	struct ib_err err;
	int rc = ib_bundle_signed_claims(bundle, o->keys, o->n_keys, &claims, &err);

	if (rc)
		ib_warn("skipping %s: %s", bundle, err.msg);
	else
		*seq = claims.sequence;
	return rc;
}

/* The trusted bundle with the highest sequence in dir, or *best NULL. */
static int best_in_folder(const char *dir, const struct ib_apply_opts *o, char **best,
                          struct ib_err *err)
{
	char **names = NULL;
	size_t count = 0;
	uint64_t best_seq = 0;
	enum plat_kind kind;
	int rc;

	*best = NULL;
	rc = plat_lstat(dir, &kind, NULL, err);
	if (rc || kind != PLAT_DIR)
		return rc;
	rc = plat_list_dir(dir, &names, &count, err);
	for (size_t i = 0; rc == 0 && i < count; i++) {
		char *path;
		uint64_t seq = 0;

		if (!has_suffix(names[i], ".ibb"))
			continue;
		path = ib_path_join(dir, names[i]);
		if (!path) {
			rc = ib_oom(err);
			break;
		}
		if (signed_sequence(path, o, &seq) == 0 && (!*best || seq > best_seq)) {
			free(*best);
			*best = path;
			best_seq = seq;
		} else {
			free(path);
		}
	}
	plat_free_names(names, count);
	if (rc) {
		free(*best);
		*best = NULL;
	}
	return rc;
}

int ib_locate_bundle(const struct ib_apply_opts *o, const struct ib_paths *p, char **path_out,
                     const char **where, struct ib_err *err)
{
	static const char *const names[] = {"extension package", "image-baking folder",
	                                    IB_LOCATE_CACHE};
	char *package_bundles = NULL;
	const char *dirs[] = {NULL, p->bundles_dir, p->cache_dir};
	int rc = 0;

	*path_out = NULL;
	*where = NULL;
	if (o->bundle_path) {
		*path_out = strdup(o->bundle_path);
		*where = "--bundle";
		return *path_out ? 0 : ib_oom(err);
	}
	if (o->package_dir) {
		dirs[0] = package_bundles = ib_path_join(o->package_dir, "bundle");
		if (!package_bundles)
			return ib_oom(err);
	}
	for (size_t i = 0; i < 3; i++) {
		if (!dirs[i])
			continue;
		rc = best_in_folder(dirs[i], o, path_out, err);
		if (rc || *path_out) {
			*where = names[i];
			break;
		}
	}
	free(package_bundles);
	return rc;
}
