/*
 * A ring between one reading worker and one caller. Counters only grow:
 * piece k lives in slot k % SLOTS; the worker writes it while k >= filled and
 * the slot is free (k - released < SLOTS); the caller reads pieces below
 * filled and releases the one it holds when it asks for the next. The
 * monitor orders every hand-over. The worker runs one producer per stream:
 * a file's reads straight into the slots; another fills piece `filled`
 * through ib_readahead_put, which publishes it once full, and the end of its
 * stream publishes the last, partial one.
 */
#include "readahead.h"

#include "platform.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct ib_readahead {
	struct plat_monitor *mon;
	struct plat_thread *thread;
	/* Guarded by mon. */
	size_t lens[IB_READAHEAD_SLOTS];
	ib_produce_fn produce;
	void *produce_ctx;
	unsigned char *put_slot; /* the piece being produced (the worker's alone) ... */
	size_t put_len;          /* ... and the bytes in it */
	struct ib_hash *h;
	const char *path;
	int active;  /* the worker may run produce */
	int at_end;  /* produce has returned */
	int reading; /* the worker is running produce (h, a slot) outside the monitor */
	uint64_t filled;
	uint64_t taken;
	uint64_t released;
	int rc; /* read failure of the current file */
	struct ib_err err;
	int worker_idle;
	int caller_waiting;
	int stopping;
	_Alignas(16) unsigned char slots[]; /* SLOTS * CHUNK bytes, aligned as malloc would */
};

static unsigned char *slot(struct ib_readahead *r, uint64_t k)
{
	return r->slots + (size_t)(k % IB_READAHEAD_SLOTS) * IB_READAHEAD_CHUNK;
}

/*
 * For the worker: a free slot for piece `filled`, waiting for one; NULL once
 * the caller has closed the stream.
 */
static unsigned char *reserve(struct ib_readahead *r)
{
	int active;

	plat_monitor_enter(r->mon);
	while (r->active && r->filled - r->released >= IB_READAHEAD_SLOTS) {
		r->worker_idle = 1;
		plat_monitor_wait(r->mon);
		r->worker_idle = 0;
	}
	active = r->active;
	plat_monitor_leave(r->mon);
	return active ? slot(r, r->filled) : NULL;
}

/* For the worker: hands piece `filled`, len bytes, to the caller unless it has closed the stream.
 */
static void publish(struct ib_readahead *r, size_t len)
{
	plat_monitor_enter(r->mon);
	if (r->active) {
		r->lens[r->filled % IB_READAHEAD_SLOTS] = len;
		r->filled++;
		if (r->caller_waiting)
			plat_monitor_notify(r->mon);
	}
	plat_monitor_leave(r->mon);
}

int ib_readahead_put(struct ib_readahead *r, const void *data, size_t len)
{
	const unsigned char *p = data;

	while (len > 0) {
		size_t n = IB_READAHEAD_CHUNK - r->put_len;

		if (r->put_len == 0 && !(r->put_slot = reserve(r)))
			return -1;
		if (n > len)
			n = len;
		memcpy(r->put_slot + r->put_len, p, n);
		if (r->h)
			ib_hash_update(r->h, p, n);
		r->put_len += n;
		p += n;
		len -= n;
		if (r->put_len == IB_READAHEAD_CHUNK) {
			publish(r, IB_READAHEAD_CHUNK);
			r->put_len = 0;
		}
	}
	return 0;
}

int ib_readahead_closed(struct ib_readahead *r)
{
	int closed;

	plat_monitor_enter(r->mon);
	closed = !r->active;
	plat_monitor_leave(r->mon);
	return closed;
}

int ib_readahead_file(void *ctx, struct ib_readahead *r, struct ib_err *err)
{
	unsigned char *buf;
	size_t n;

	while ((buf = reserve(r)) != NULL) {
		n = fread(buf, 1, IB_READAHEAD_CHUNK, ctx);
		if (n == 0)
			return ferror(ctx) ? ib_fail_errno(err, IB_EIO, errno, "%s: read error",
			                                   r->path)
			                   : 0;
		if (r->h)
			ib_hash_update(r->h, buf, n);
		publish(r, n);
	}
	return 0;
}

/* Runs each stream's producer to its end; a file's too. */
static void worker(void *arg)
{
	struct ib_readahead *r = arg;
	struct ib_err err;
	int rc;

	plat_monitor_enter(r->mon);
	for (;;) {
		while (!r->stopping && !(r->active && !r->at_end)) {
			r->worker_idle = 1;
			plat_monitor_wait(r->mon);
			r->worker_idle = 0;
		}
		if (r->stopping)
			break;
		r->reading = 1;
		r->put_len = 0;
		plat_monitor_leave(r->mon);
		rc = r->produce(r->produce_ctx, r, &err);
		if (r->put_len)
			publish(r, r->put_len);
		plat_monitor_enter(r->mon);
		r->reading = 0;
		if (r->active && rc) {
			r->rc = rc;
			r->err = err;
		}
		r->at_end = 1;
		if (r->caller_waiting)
			plat_monitor_notify(r->mon);
	}
	plat_monitor_leave(r->mon);
}

int ib_readahead_start(struct ib_readahead **out, struct ib_err *err)
{
	/* Large enough for fresh pages: calloc need not clear them. */
	struct ib_readahead *r =
	        calloc(1, sizeof *r + (size_t)IB_READAHEAD_SLOTS * IB_READAHEAD_CHUNK);
	int rc;

	*out = NULL;
	if (!r)
		return ib_oom(err);
	rc = plat_monitor_new(&r->mon, err);
	if (rc == 0)
		rc = plat_thread_start(&r->thread, worker, r, err);
	if (rc)
		goto fail;
	*out = r;
	return 0;
fail:
	plat_monitor_free(r->mon);
	free(r);
	return rc;
}

void ib_readahead_open_producer(struct ib_readahead *r, ib_produce_fn fn, void *ctx,
                                struct ib_hash *h, const char *path)
{
	plat_monitor_enter(r->mon);
	r->produce = fn;
	r->produce_ctx = ctx;
	r->h = h;
	r->path = path;
	r->active = 1;
	r->at_end = 0;
	r->rc = 0;
	if (r->worker_idle)
		plat_monitor_notify(r->mon);
	plat_monitor_leave(r->mon);
}

void ib_readahead_open(struct ib_readahead *r, FILE *fp, struct ib_hash *h, const char *path)
{
	ib_readahead_open_producer(r, ib_readahead_file, fp, h, path);
}

int ib_readahead_next(struct ib_readahead *r, const unsigned char **buf, size_t *len,
                      struct ib_err *err)
{
	int rc = 0;

	plat_monitor_enter(r->mon);
	r->released = r->taken;
	/* Wake the worker only once half the ring is free: it then reads in bursts. */
	if (r->worker_idle && r->active && !r->at_end &&
	    r->filled - r->released <= IB_READAHEAD_SLOTS / 2)
		plat_monitor_notify(r->mon);
	while (r->filled == r->taken && !r->at_end) {
		r->caller_waiting = 1;
		plat_monitor_wait(r->mon);
		r->caller_waiting = 0;
	}
	if (r->filled > r->taken) {
		*buf = slot(r, r->taken);
		*len = r->lens[r->taken % IB_READAHEAD_SLOTS];
		r->taken++;
	} else {
		*buf = NULL;
		*len = 0;
		rc = r->rc;
		if (rc && err)
			*err = r->err;
	}
	plat_monitor_leave(r->mon);
	return rc;
}

void ib_readahead_close(struct ib_readahead *r)
{
	plat_monitor_enter(r->mon);
	r->active = 0;
	/* A producer waiting for room must see that the stream is closed. */
	if (r->worker_idle)
		plat_monitor_notify(r->mon);
	while (r->reading) {
		r->caller_waiting = 1;
		plat_monitor_wait(r->mon);
		r->caller_waiting = 0;
	}
	/* Pieces read but never taken are dropped with the file. */
	r->taken = r->filled;
	r->released = r->filled;
	plat_monitor_leave(r->mon);
}

void ib_readahead_stop(struct ib_readahead *r)
{
	if (!r)
		return;
	ib_readahead_close(r);
	plat_monitor_enter(r->mon);
	r->stopping = 1;
	plat_monitor_notify(r->mon);
	plat_monitor_leave(r->mon);
	plat_thread_join(r->thread);
	plat_monitor_free(r->mon);
	free(r);
}
