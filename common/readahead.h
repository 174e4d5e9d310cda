/*
 * readahead.h - reads a file ahead of its user on a worker thread, hashing it.
 *
 * The worker reads the current file in IB_READAHEAD_CHUNK pieces into a ring
 * of IB_READAHEAD_SLOTS buffers, adds each piece to the file's hash and hands
 * the pieces over in file order: the caller decompresses or compresses one
 * piece while the next ones are read and hashed on another core. Memory is
 * fixed whatever the file's size. One thread uses a readahead; it reads one
 * file at a time and can be pointed at the next one.
 */
#ifndef IBDRV_READAHEAD_H
#define IBDRV_READAHEAD_H

#include "err.h"
#include "hash.h"

#include <stddef.h>
#include <stdio.h>

#define IB_READAHEAD_CHUNK (512u << 10)
#define IB_READAHEAD_SLOTS 2

struct ib_readahead;

/* Starts the worker, idle until ib_readahead_open. Free with ib_readahead_stop. */
int ib_readahead_start(struct ib_readahead **out, struct ib_err *err);

/*
 * Starts reading fp from its current position to its end, adding every byte
 * to h. fp and h stay the caller's but must not be touched (read, closed,
 * finalised) until ib_readahead_close. path names fp in messages.
 */
void ib_readahead_open(struct ib_readahead *r, FILE *fp, struct ib_hash *h, const char *path);

/*
 * Produces a stream on the worker thread, calling ib_readahead_put with its
 * bytes in order: 0 at the end of the stream, or a negative IB_E* code with
 * err filled, which the caller gets after the bytes put before it.
 */
typedef int (*ib_produce_fn)(void *ctx, struct ib_readahead *r, struct ib_err *err);

/*
 * Like ib_readahead_open, for the stream that fn(ctx, ...) produces: fn runs
 * on the worker, and every byte it puts is added to h. ctx and h must not be
 * touched until ib_readahead_close. path names the stream in the messages of
 * ib_readahead_file.
 */
void ib_readahead_open_producer(struct ib_readahead *r, ib_produce_fn fn, void *ctx,
                                struct ib_hash *h, const char *path);

/* The producer ib_readahead_open uses: ctx is the FILE *, read straight into the ring. */
int ib_readahead_file(void *ctx, struct ib_readahead *r, struct ib_err *err);

/*
 * For a producer: appends len bytes to the stream, waiting for room in the
 * ring. Non-zero when the caller has closed the stream: the producer should
 * stop and return at once (what it returns then is ignored).
 */
int ib_readahead_put(struct ib_readahead *r, const void *data, size_t len);

/* For a producer that waits (a retry's backoff): non-zero once the caller has closed the stream. */
int ib_readahead_closed(struct ib_readahead *r);

/*
 * The next piece in file order, valid until the next call. *len is 0 at the
 * end of the file: h has then seen every byte and the worker has let go of fp
 * and h. A read error is returned, with its message, after the pieces before it.
 */
int ib_readahead_next(struct ib_readahead *r, const unsigned char **buf, size_t *len,
                      struct ib_err *err);

/* Abandons the current file (if any) and waits until the worker has let go of fp and h. */
void ib_readahead_close(struct ib_readahead *r);

/* Closes the current file if any, ends the thread and frees everything. NULL is fine. */
void ib_readahead_stop(struct ib_readahead *r);

#endif
