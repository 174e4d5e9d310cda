/* strdup is POSIX, not C11. */

#include "path.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *ib_path_join(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	char *out = malloc(la + lb + 2);

	if (!out)
		return NULL;
	if (la == 0) {
		memcpy(out, b, lb + 1);
		return out;
	}
	memcpy(out, a, la);
	if (a[la - 1] != '/')
		out[la++] = '/';
	memcpy(out + la, b, lb + 1);
	return out;
}

/* The last '/' in path, or NULL. */
static const char *last_slash(const char *path)
{
	const char *slash = NULL;

	for (; *path; path++)
		if (*path == '/')
			slash = path;
	return slash;
}

char *ib_path_dirname(const char *path)
{
	const char *slash = last_slash(path);
	size_t len;
	char *out;

	if (!slash)
		return strdup(".");
	len = slash == path ? 1 : (size_t)(slash - path);
	out = malloc(len + 1);
	if (!out)
		return NULL;
	memcpy(out, path, len);
	out[len] = '\0';
	return out;
}

const char *ib_path_basename(const char *path)
{
	const char *slash = last_slash(path);

	return slash ? slash + 1 : path;
}

const char *ib_path_unsafe_reason(const char *rel)
{
	size_t len = strlen(rel);

	if (rel[0] == '/')
		return "is absolute";
	if (len >= 2 && rel[1] == ':')
		return "starts with a drive letter";
	if (strchr(rel, '\\'))
		return "contains a backslash (use /)";
	if (len == 0 || len > 255)
		return len ? "is longer than 255 bytes" : "is empty";
	for (const char *p = rel; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return "contains a control character";
	for (const char *p = rel; *p;) {
		size_t n = strcspn(p, "/");
		if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return n == 0 ? "has an empty component"
			              : "has a \".\" or \"..\" component";
		p += n;
		if (*p == '/' && *++p == '\0')
			return "has an empty component";
	}
	return NULL;
}

int ib_path_is_safe_relative(const char *rel)
{
	return ib_path_unsafe_reason(rel) == NULL;
}
