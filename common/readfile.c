#include "readfile.h"

#include "platform.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int ib_read_file(const char *path, size_t max, char **out, size_t *len, struct ib_err *err)
{
	FILE *f = NULL;
	char *buf = NULL;
	size_t n = 0, cap = 4096;
	int rc;

	*out = NULL;
	*len = 0;
	rc = plat_open_read(path, &f, err);
	if (rc)
		return rc;
	buf = malloc(cap);
	if (!buf) {
		rc = ib_fail(err, IB_ENOMEM, "out of memory");
		goto out;
	}
	for (;;) {
		size_t got;

		if (n + 1 >= cap) {
			char *grown;

			if (cap > max + 1) {
				rc = ib_fail(err, IB_EINPUT, "%s: larger than %zu bytes", path,
				             max);
				goto out;
			}
			grown = realloc(buf, cap * 2);
			if (!grown) {
				rc = ib_fail(err, IB_ENOMEM, "out of memory");
				goto out;
			}
			buf = grown;
			cap *= 2;
		}
		got = fread(buf + n, 1, cap - n - 1, f);
		n += got;
		if (n > max) {
			rc = ib_fail(err, IB_EINPUT, "%s: larger than %zu bytes", path, max);
			goto out;
		}
		if (got == 0) {
			if (ferror(f)) {
				rc = ib_fail(err, IB_EIO, "%s: read error", path);
				goto out;
			}
			break;
		}
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	buf = NULL;
out:
	free(buf);
	fclose(f);
	return rc;
}
