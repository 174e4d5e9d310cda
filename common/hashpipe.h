/*
 * hashpipe.h - hands chunks of a stream to worker threads, in order.
 *
 * A pipe owns IB_HASHPIPE_SLOTS buffers of IB_HASHPIPE_CHUNK bytes, so its
 * memory is fixed whatever the stream's size, and one thread per stage. The
 * caller fills a buffer and submits it with a consumer (fn, ctx); every
 * stage's worker calls fn on each chunk, in submission order, with its stage
 * number, while the caller goes on (decompressing, compressing). With two
 * stages, stage 0 can hash a chunk while stage 1 writes it to a file; a
 * buffer is reused once every stage is done with it. When every buffer is
 * queued the caller waits until half of them are free again, so that the
 * threads work in bursts instead of waking each other for every chunk.
 *
 * One thread feeds a pipe. A consumer's ctx belongs to the caller, who must
 * not touch it (finalise a hash, close a file) before ib_hashpipe_sync has
 * returned. The first consumer failure is kept: later chunks are skipped and
 * every further call that can report it does, with its message.
 */
#ifndef IBDRV_HASHPIPE_H
#define IBDRV_HASHPIPE_H

#include "err.h"
#include "hash.h"

#include <stddef.h>

#define IB_HASHPIPE_CHUNK (512u << 10)
#define IB_HASHPIPE_SLOTS 2
#define IB_HASHPIPE_MAX_STAGES 2

struct ib_hashpipe;

/*
 * Consumes one chunk on stage's worker thread: 0, or a negative IB_E* code
 * with err filled. Stages run at the same time on different chunks.
 */
typedef int (*ib_hashpipe_fn)(void *ctx, int stage, const unsigned char *data, size_t len,
                              struct ib_err *err);

/* The consumer of a one-stage pipe that adds each chunk to a struct ib_hash (ctx). */
int ib_hashpipe_hash(void *ctx, int stage, const unsigned char *data, size_t len,
                     struct ib_err *err);

/* Starts a pipe with 1 to IB_HASHPIPE_MAX_STAGES stages. Free with ib_hashpipe_stop. */
int ib_hashpipe_start(struct ib_hashpipe **out, int stages, struct ib_err *err);

/*
 * Sets *buf to a free buffer of IB_HASHPIPE_CHUNK bytes for the caller to
 * fill, waiting if there is none. Taking a buffer and not submitting it is
 * fine: the next call returns it again.
 */
int ib_hashpipe_buffer(struct ib_hashpipe *p, unsigned char **buf, struct ib_err *err);

/* Queues the first len bytes of the buffer last returned for fn(ctx, ...). */
void ib_hashpipe_submit(struct ib_hashpipe *p, ib_hashpipe_fn fn, void *ctx, size_t len);

/*
 * Copies len bytes (any amount, from memory the caller may reuse at once) to
 * be consumed by fn(ctx, ...), gathering small writes into whole buffers.
 */
int ib_hashpipe_write(struct ib_hashpipe *p, ib_hashpipe_fn fn, void *ctx, const void *data,
                      size_t len, struct ib_err *err);

/* Waits until every byte given so far is consumed; the first failure, if any. */
int ib_hashpipe_sync(struct ib_hashpipe *p, struct ib_err *err);

/*
 * Skips what is still queued, waits for the chunks in hand, ends the threads
 * and frees everything. NULL is fine. Call it before freeing any ctx.
 */
void ib_hashpipe_stop(struct ib_hashpipe *p);

#endif
