#include "sysparse.h"

#include <stdlib.h>
#include <string.h>

static char *dup_range(const char *s, size_t n)
{
	char *out = malloc(n + 1);

	if (!out)
		return NULL;
	memcpy(out, s, n);
	out[n] = '\0';
	return out;
}

/* Unquotes an os-release value (one line, without its newline) into a new string. */
static char *unquote(const char *v, size_t n)
{
	char *out = malloc(n + 1), *o = out, quote = 0;

	for (const char *end = v + n; out && v < end; v++) {
		if (quote ? *v == quote : *v == '"' || *v == '\'') {
			quote ^= *v; /* opens, or closes the open one */
			continue;
		}
		/* Shell rules: inside double quotes only these are escapes. */
		if (*v == '\\' && quote != '\'' && v + 1 < end &&
		    (!quote || strchr("\\\"$`", v[1])))
			v++;
		*o++ = *v;
	}
	if (out)
		*o = '\0';
	return out;
}

int ib_os_release_get(const char *text, const char *key, char **value, struct ib_err *err)
{
	size_t klen = strlen(key);

	*value = NULL;
	for (const char *p = text, *end; *p; p = end + (*end != '\0')) {
		const char *s = p + strspn(p, " \t");

		end = p + strcspn(p, "\n");
		if (!strncmp(s, key, klen) && s[klen] == '=') {
			const char *v = s + klen + 1, *ve = end;

			while (ve > v && strchr("\r \t", ve[-1]))
				ve--;
			/* Later assignments win, as when the file is sourced by a shell. */
			free(*value);
			if (!(*value = unquote(v, (size_t)(ve - v))))
				return ib_oom(err);
		}
	}
	return 0;
}

int ib_kvp_lookup(const unsigned char *data, size_t len, const char *key, char **value,
                  struct ib_err *err)
{
	*value = NULL;
	for (size_t off = 0; off + IB_KVP_RECORD_BYTES <= len; off += IB_KVP_RECORD_BYTES) {
		const unsigned char *k = data + off, *v = k + IB_KVP_KEY_BYTES;
		size_t vlen = 0;
		int printable = 1;

		/* The key NUL-padded in its field (never read past it). */
		if (strncmp((const char *)k, key, IB_KVP_KEY_BYTES))
			continue;
		for (; vlen < IB_KVP_VALUE_BYTES && v[vlen]; vlen++)
			if (v[vlen] < 0x20 || v[vlen] > 0x7e)
				printable = 0;
		if (printable && vlen > 0) {
			*value = dup_range((const char *)v, vlen);
			if (!*value)
				return ib_oom(err);
		}
		return 1;
	}
	return 0;
}

int ib_sysfs_hex(const char *text, char *out, size_t out_size)
{
	size_t digits = out_size - 1;

	if (text[0] != '0' || (text[1] | 0x20) != 'x')
		return -1;
	text += 2;
	/* Then the end of the text or of the line (strchr finds the NUL too). */
	if (strspn(text, "ABCDEF0123456789abcdef") != digits || !strchr("\n", text[digits]))
		return -1;
	for (size_t i = 0; i < digits; i++)
		out[i] = (char)(text[i] | 0x20); /* lower case; digits have the bit already */
	out[digits] = '\0';
	return 0;
}

char *ib_sysfs_line(char *text)
{
	text[strcspn(text, "\r\n")] = '\0';
	return text;
}
