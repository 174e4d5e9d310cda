/*
 * A ring of buffers between one feeding thread and one worker. Counters only
 * grow: chunk k lives in slot k % SLOTS, is queued while consumed <= k <
 * submitted, and its slot is free again once consumed > k. The job record and
 * the bytes of a slot are written by the feeder only while the slot is free
 * and read by the worker only while it is queued; the monitor orders both.
 */
#include "hashpipe.h"

#include "platform.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct job {
	ib_hashpipe_fn fn;
	void *ctx;
	size_t len;
};

struct ib_hashpipe {
	struct plat_monitor *mon;
	struct plat_thread *thread;
	unsigned char *slots; /* SLOTS * CHUNK bytes */
	struct job jobs[IB_HASHPIPE_SLOTS];
	/* Guarded by mon. */
	uint64_t submitted;
	uint64_t consumed;
	int stopping;
	int worker_idle;  /* the worker waits for a chunk */
	uint64_t wake_at; /* the feeder waits for consumed to reach this (0: not waiting) */
	int rc;           /* first consumer failure */
	struct ib_err err;
	/* The feeder's own: a slot being filled by ib_hashpipe_write. */
	size_t fill;
	ib_hashpipe_fn fill_fn;
	void *fill_ctx;
};

int ib_hashpipe_hash(void *ctx, const unsigned char *data, size_t len, struct ib_err *err)
{
	(void)err;
	ib_hash_update(ctx, data, len);
	return 0;
}

static unsigned char *slot(struct ib_hashpipe *p, uint64_t k)
{
	return p->slots + (size_t)(k % IB_HASHPIPE_SLOTS) * IB_HASHPIPE_CHUNK;
}

static void worker(void *arg)
{
	struct ib_hashpipe *p = arg;
	struct ib_err err;

	plat_monitor_enter(p->mon);
	for (;;) {
		struct job job;
		uint64_t k;
		int rc = 0;

		while (p->consumed == p->submitted && !p->stopping) {
			p->worker_idle = 1;
			plat_monitor_wait(p->mon);
			p->worker_idle = 0;
		}
		if (p->consumed == p->submitted)
			break;
		k = p->consumed;
		job = p->jobs[k % IB_HASHPIPE_SLOTS];
		if (p->rc == 0 && !p->stopping) {
			plat_monitor_leave(p->mon);
			ib_err_clear(&err);
			rc = job.fn(job.ctx, slot(p, k), job.len, &err);
			plat_monitor_enter(p->mon);
		}
		if (rc && p->rc == 0) {
			p->rc = rc;
			p->err = err;
		}
		p->consumed = k + 1;
		if (p->wake_at && (p->consumed >= p->wake_at || p->rc))
			plat_monitor_notify(p->mon);
	}
	plat_monitor_leave(p->mon);
}

int ib_hashpipe_start(struct ib_hashpipe **out, struct ib_err *err)
{
	struct ib_hashpipe *p = calloc(1, sizeof *p);
	int rc;

	*out = NULL;
	if (!p)
		return ib_fail(err, IB_ENOMEM, "out of memory");
	p->slots = malloc((size_t)IB_HASHPIPE_SLOTS * IB_HASHPIPE_CHUNK);
	if (!p->slots) {
		rc = ib_fail(err, IB_ENOMEM, "out of memory");
		goto fail;
	}
	rc = plat_monitor_new(&p->mon, err);
	if (rc == 0)
		rc = plat_thread_start(&p->thread, worker, p, err);
	if (rc)
		goto fail;
	*out = p;
	return 0;
fail:
	plat_monitor_free(p->mon);
	free(p->slots);
	free(p);
	return rc;
}

/* Inside the monitor: the kept failure, copied to err. */
static int failure(struct ib_hashpipe *p, struct ib_err *err)
{
	if (p->rc && err)
		*err = p->err;
	return p->rc;
}

/* Waits for slot `submitted` to be free; the kept failure, if any. */
static int wait_free(struct ib_hashpipe *p, struct ib_err *err)
{
	int rc;

	plat_monitor_enter(p->mon);
	if (p->submitted - p->consumed >= IB_HASHPIPE_SLOTS && p->rc == 0) {
		p->wake_at = p->submitted - IB_HASHPIPE_SLOTS / 2;
		while (p->consumed < p->wake_at && p->rc == 0)
			plat_monitor_wait(p->mon);
		p->wake_at = 0;
	}
	rc = failure(p, err);
	plat_monitor_leave(p->mon);
	return rc;
}

static void queue(struct ib_hashpipe *p, ib_hashpipe_fn fn, void *ctx, size_t len)
{
	struct job *job;

	plat_monitor_enter(p->mon);
	job = &p->jobs[p->submitted % IB_HASHPIPE_SLOTS];
	job->fn = fn;
	job->ctx = ctx;
	job->len = len;
	p->submitted++;
	if (p->worker_idle)
		plat_monitor_notify(p->mon);
	plat_monitor_leave(p->mon);
}

static void flush_fill(struct ib_hashpipe *p)
{
	if (p->fill == 0)
		return;
	queue(p, p->fill_fn, p->fill_ctx, p->fill);
	p->fill = 0;
}

int ib_hashpipe_buffer(struct ib_hashpipe *p, unsigned char **buf, struct ib_err *err)
{
	int rc;

	flush_fill(p);
	rc = wait_free(p, err);
	*buf = rc ? NULL : slot(p, p->submitted);
	return rc;
}

void ib_hashpipe_submit(struct ib_hashpipe *p, ib_hashpipe_fn fn, void *ctx, size_t len)
{
	queue(p, fn, ctx, len);
}

int ib_hashpipe_write(struct ib_hashpipe *p, ib_hashpipe_fn fn, void *ctx, const void *data,
                      size_t len, struct ib_err *err)
{
	const unsigned char *src = data;

	while (len > 0) {
		size_t n;

		if (p->fill && (p->fill_fn != fn || p->fill_ctx != ctx))
			flush_fill(p);
		if (p->fill == 0) {
			int rc = wait_free(p, err);

			if (rc)
				return rc;
			p->fill_fn = fn;
			p->fill_ctx = ctx;
		}
		n = IB_HASHPIPE_CHUNK - p->fill;
		if (n > len)
			n = len;
		memcpy(slot(p, p->submitted) + p->fill, src, n);
		p->fill += n;
		src += n;
		len -= n;
		if (p->fill == IB_HASHPIPE_CHUNK)
			flush_fill(p);
	}
	return 0;
}

int ib_hashpipe_sync(struct ib_hashpipe *p, struct ib_err *err)
{
	int rc;

	flush_fill(p);
	plat_monitor_enter(p->mon);
	p->wake_at = p->submitted;
	while (p->consumed != p->submitted)
		plat_monitor_wait(p->mon);
	p->wake_at = 0;
	rc = failure(p, err);
	plat_monitor_leave(p->mon);
	return rc;
}

void ib_hashpipe_stop(struct ib_hashpipe *p)
{
	if (!p)
		return;
	plat_monitor_enter(p->mon);
	p->stopping = 1;
	plat_monitor_notify(p->mon);
	plat_monitor_leave(p->mon);
	plat_thread_join(p->thread);
	plat_monitor_free(p->mon);
	free(p->slots);
	free(p);
}
