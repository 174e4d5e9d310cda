#include "readfile.h"

#include "platform.h"

#include <stdio.h>
#include <stdlib.h>

int ib_read_file(const char *path, size_t max, char **data, size_t *len, struct ib_err *err)
{
	FILE *f = NULL;
	char *buf = NULL;
	size_t n = 0, cap = 0, got = 1;
	int rc;

	*data = NULL;
	*len = 0;
	rc = plat_open_read(path, &f, err);
	if (rc)
		return rc;
	/* sysfs reports 4096 bytes for every attribute, so size from reading, not stat. */
	while (got) {
		if (n > max) {
			rc = ib_fail(err, IB_EINPUT, "%s: larger than %zu bytes", path, max);
			goto out;
		}
		if (cap - n < 2) {
			/* cap stays at most max + 2, which n <= max leaves room in. */
			size_t ncap = cap ? cap * 2 : 4096;
			char *grown;

			if (ncap > max + 2)
				ncap = max + 2;
			grown = realloc(buf, ncap);
			if (!grown) {
				rc = ib_oom(err);
				goto out;
			}
			buf = grown;
			cap = ncap;
		}
		got = fread(buf + n, 1, cap - n - 1, f);
		n += got;
	}
	if (ferror(f)) {
		rc = ib_fail(err, IB_EIO, "%s: read error", path);
		goto out;
	}
	buf[n] = '\0';
	*data = buf;
	*len = n;
	buf = NULL;
out:
	free(buf);
	fclose(f);
	return rc;
}
