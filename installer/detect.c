#include "detect.h"

#include "detect_os.h"
#include "imds.h"
#include "log.h"

#include <stdlib.h>
#include <string.h>

static void detect_vm_size(const struct ib_detect_opts *opts, struct ib_facts *f)
{
	struct ib_err err;
	char *size = NULL;

	if (opts->no_imds) {
		ib_debug("VM size unknown: metadata service: %s", "not asked");
	} else if (ib_imds_vm_size(opts->imds_url ? opts->imds_url : IB_IMDS_DEFAULT_URL, &size,
	                           &err)) {
		ib_warn("VM size unknown: metadata service: %s", err.msg);
	} else {
		ib_debug("VM size %s (metadata service)", size);
		free(f->vm_size);
		f->vm_size = size;
	}
}

int ib_detect(const struct ib_detect_opts *opts, struct ib_facts **out, struct ib_err *err)
{
	struct ib_facts *f = ib_facts_new();
	int rc = f ? ib_detect_os(opts, f, err) : ib_oom(err);

	if (!rc)
		rc = ib_detect_nics(opts, f, err);
	if (!rc)
		rc = ib_detect_nd(opts, f, err);
	if (!rc)
		detect_vm_size(opts, f);
	if (rc) {
		ib_facts_free(f);
		f = NULL;
	}
	*out = f;
	return rc;
}

int ib_facts_obtain(const char *facts_path, const struct ib_detect_opts *opts,
                    struct ib_facts **out, struct ib_err *err)
{
	const char *env = getenv(IB_FACTS_ENV);

	if (!facts_path && env && env[0])
		facts_path = env;
	if (facts_path) {
		ib_debug("facts from %s", facts_path);
		return ib_facts_load(facts_path, out, err);
	}
	return ib_detect(opts, out, err);
}
