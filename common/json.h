/*
 * json.h - strict reading of JSON documents with cJSON.
 *
 * cJSON on its own accepts trailing garbage and duplicate keys; ib_json_parse refuses both
 * (duplicates at any depth). Objects are read by one schema reader (ib_json_read) from tables of
 * rows that refuse unknown keys (the agent's files excepted) and check types, ranges and
 * lengths. Every error message names the source (a file name) and the key path:
 * "f.json: nics[0].device: expected a string, got 5".
 */
#ifndef IBDRV_JSON_H
#define IBDRV_JSON_H

#include "err.h"

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#define IB_JSON_PATH_MAX 256

/*
 * Parses exactly one JSON value from text[0..len) (only whitespace may follow), refusing what
 * cJSON lets through but JSON forbids (NUL bytes, "\u0000", control characters between tokens)
 * and keys given twice; errors name the byte offset, line and column. Free with cJSON_Delete.
 */
int ib_json_parse(const char *text, size_t len, const char *source, cJSON **out,
                  struct ib_err *err);

/* Reads the file at path (at most max bytes) and parses it as ib_json_parse does. */
int ib_json_load(const char *path, size_t max, cJSON **out, struct ib_err *err);

/*
 * The schema reader: every strict JSON input of the project (manifests, facts, the catalog, the
 * state and the handler's package file) is read by one walker from tables of rows, one a key, in
 * the order the keys are checked. A row says when its key may appear, what type the value has
 * and where it goes in the struct being filled; the walker checks type, range and length and
 * stores the value. What a row cannot say is done by its check, called with the path at the
 * value. Every message is "<source>: <path>: <what is wrong>", with "expected X, got Y" for a
 * value of the wrong type or range.
 */
enum ib_json_type {
	IB_T_STR,   /* strdup'd into a char *; lo..hi bytes, no control characters */
	IB_T_BUF,   /* copied into a char array of size bytes; at least lo bytes */
	IB_T_INT,   /* an integer from lo to hi, into an int or int64_t (size 0: not stored) */
	IB_T_BIG,   /* an integer from lo to 2^53 - 1 (doubles hold each exactly), into 8 bytes */
	IB_T_BOOL,  /* into an int */
	IB_T_ENUM,  /* one of the hi names of sub, strdup'd into a char * */
	IB_T_INDEX, /* one of the hi names of sub, its position into an int */
	IB_T_OBJ,   /* an object of the hi rows of sub */
	IB_T_RAW    /* any value, handed to the check alone */
};

/*
 * When a key may appear. Bits 0 and 1 make it required (0 while c->windows is 0, 1 while it is
 * 1), bits 2 and 3 refuse it ("only for windows", "only for linux"). IB_K_NO makes it an unknown
 * key. A document may have two forms (c->form 0 and 1, the manifest's input and resolved forms):
 * IB_K_NOT0 refuses the key in form 0 with c->refused, IB_K_NOT1 makes it unknown in form 1,
 * IB_K_REQ1 makes it required in form 1.
 */
enum {
	IB_K_OPT = 0,
	IB_K_REQ_LINUX = 1,
	IB_K_REQ_WIN = 2,
	IB_K_REQ = 3,
	IB_K_WIN_ONLY = 4,
	IB_K_LINUX_ONLY = 8,
	IB_K_NO = 16,
	IB_K_NOT0 = 32,
	IB_K_NOT1 = 64,
	IB_K_REQ1 = 128
};

struct ib_json_ctx;
struct ib_json_row;

/*
 * Called after each stored value (v, and i its position in an array) and once more with
 * v == NULL after an array's last item or when an optional key is absent. obj is the struct
 * being filled, c->obj[] the enclosing ones, c->row the row.
 */
typedef int (*ib_json_check)(struct ib_json_ctx *c, void *obj, const cJSON *v, size_t i);

struct ib_json_row {
	const char *key;
	int lo; /* T_INT, T_BIG: the lowest value; T_STR, T_BUF: the shortest */
	int hi; /* T_INT: the highest; T_STR: the longest; T_ENUM, T_OBJ: how many sub */
	unsigned char rule; /* IB_K_* */
	unsigned char type; /* enum ib_json_type: the value's, or each item's */
	unsigned char min;  /* array: the fewest items */
	unsigned char size; /* of the field (0: not stored), or of each item */
	unsigned short off; /* of the field, or of an array's pointer (its size_t count follows) */
	unsigned short max; /* not 0: an array of at most max items */
	const void *sub;    /* T_ENUM, T_INDEX: the names; T_OBJ: its rows; else the check's data */
	ib_json_check check;
};

/*
 * A row's size and off: a field, an array (which does not compile unless its count n follows
 * it), or nothing stored.
 */
#define IB_FIELD(type, m) sizeof((type *)0)->m, offsetof(type, m)
#define IB_ARRAY(type, m, n, item)                                                                 \
	sizeof(item),                                                                              \
	        offsetof(type, m) +                                                                \
	                0 * sizeof(char[offsetof(type, n) == offsetof(type, m) + sizeof(void *)    \
	                                        ? 1                                                \
	                                        : -1])
#define IB_NOSTORE 0, 0

/* How many rows a table (an array, not a pointer) has. */
#define IB_JSON_COUNT(rows) (sizeof(rows) / sizeof *(rows))

/* What the walker is doing: where errors go and the JSON path of the current value. */
struct ib_json_ctx {
	const char *source;
	struct ib_err *err;
	const char *refused; /* what IB_K_NOT0 keys are told in form 0 */
	int form;            /* which of a row's rules applies */
	int utf8;            /* strings must be valid UTF-8 */
	int windows;         /* set by checks: the object being read is for Windows */
	int agent;           /* the agent's files: keys of no row are ignored, null is absent */
	const struct ib_json_row *row;
	void *obj[4]; /* the structs being filled, outermost first */
	size_t depth;
	size_t plen;
	char path[IB_JSON_PATH_MAX];
};

/* Reads object v into obj by the n rows (at most 16); on failure obj may hold some values (free
 * them with ib_json_free). */
int ib_json_read(struct ib_json_ctx *c, const cJSON *v, const struct ib_json_row *rows, size_t n,
                 void *obj);
/* Frees what ib_json_read stored in obj (strings, arrays), not obj itself. */
void ib_json_free(const struct ib_json_row *rows, size_t n, void *obj);
/*
 * Reads a parsed document (root, or rc when parsing failed) into a new zeroed struct of size
 * bytes by the n rows, and deletes root. *out is the struct (the caller frees it with
 * ib_json_free, then free), or NULL on failure.
 */
int ib_json_read_new(cJSON *root, int rc, struct ib_json_ctx *c, const struct ib_json_row *rows,
                     size_t n, size_t size, void **out);
/* Adds the members of in to obj by the rows (T_RAW: a string, or null when NULL; a T_INT that
 * stores nothing: lo); -1 when out of memory. Absent optional values are left out. */
int ib_json_write(cJSON *obj, const struct ib_json_row *rows, size_t n, const void *in);

/* "<source>: <path>: <message>" (at the top level, "<source>: <message>"). */
__attribute__((format(printf, 2, 3))) int ib_json_fail(struct ib_json_ctx *c, const char *fmt, ...);
/* "expected <what>, got <v>". */
int ib_json_expected(struct ib_json_ctx *c, const cJSON *v, const char *what);
/* Appends ".key" (or "key" at the top), or "[i]" when key is NULL, to the path; returns what
 * ib_json_pop restores. */
size_t ib_json_push(struct ib_json_ctx *c, const char *key, size_t i);
void ib_json_pop(struct ib_json_ctx *c, size_t saved);
/* s as a short double-quoted string, safe to put on one line. */
const char *ib_json_quote(char *buf, size_t cap, const char *s);

/* The check of an OS family or platform ("windows", "linux"): sets c->windows for the rows after.
 */
int ib_json_check_windows(struct ib_json_ctx *c, void *obj, const cJSON *v, size_t i);

/* A T_STR row's sub: a test of the string and what is expected when it fails. */
struct ib_json_valid {
	int (*ok)(const char *s);
	const char *what;
};
/* The check of a T_STR row whose sub is a struct ib_json_valid. */
int ib_json_check_valid(struct ib_json_ctx *c, void *obj, const cJSON *v, size_t i);

/* Non-zero when s is well-formed UTF-8 (no overlong forms, surrogates or code points above
 * U+10FFFF): cJSON passes any bytes through. */
int ib_json_utf8_valid(const char *s);

/* A copy of s with invalid UTF-8 bytes replaced by '?' (cJSON writes strings as given). */
char *ib_json_clean_utf8(const char *s);

#endif
