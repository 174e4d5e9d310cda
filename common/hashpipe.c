/*
 * A ring of buffers between one feeding thread and one worker per stage.
 * Counters only grow: chunk k lives in slot k % SLOTS, is queued for a stage
 * while that stage's consumed <= k < submitted, and its slot is free again
 * once every stage has consumed it. The job record and the bytes of a slot
 * are written by the feeder only while the slot is free and read by the
 * workers only while it is queued; the monitor orders both.
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

struct stage {
	struct ib_hashpipe *pipe;
	int index;
	struct plat_thread *thread;
	uint64_t consumed; /* guarded by the pipe's monitor */
	int idle;          /* guarded: the worker waits for a chunk */
};

struct ib_hashpipe {
	struct plat_monitor *mon;
	struct job jobs[IB_HASHPIPE_SLOTS];
	struct stage stages[IB_HASHPIPE_MAX_STAGES];
	int n_stages;
	/* Guarded by mon. */
	uint64_t submitted;
	int stopping;
	uint64_t wake_at; /* the feeder waits for every stage to reach this (0: not waiting) */
	int rc;           /* first consumer failure */
	struct ib_err err;
	/* The feeder's own: a slot being filled by ib_hashpipe_write. */
	size_t fill;
	ib_hashpipe_fn fill_fn;
	void *fill_ctx;
	_Alignas(16) unsigned char slots[]; /* SLOTS * CHUNK bytes, aligned as malloc would */
};

int ib_hashpipe_hash(void *ctx, int stage, const unsigned char *data, size_t len,
                     struct ib_err *err)
{
	(void)stage;
	(void)err;
	ib_hash_update(ctx, data, len);
	return 0;
}

static unsigned char *slot(struct ib_hashpipe *p, uint64_t k)
{
	return p->slots + (size_t)(k % IB_HASHPIPE_SLOTS) * IB_HASHPIPE_CHUNK;
}

/* Inside the monitor: chunks every stage is done with. */
static uint64_t done(const struct ib_hashpipe *p)
{
	uint64_t least = p->stages[0].consumed;

	for (int i = 1; i < p->n_stages; i++)
		if (p->stages[i].consumed < least)
			least = p->stages[i].consumed;
	return least;
}

static int any_idle(const struct ib_hashpipe *p)
{
	for (int i = 0; i < p->n_stages; i++)
		if (p->stages[i].idle)
			return 1;
	return 0;
}

static void worker(void *arg)
{
	struct stage *s = arg;
	struct ib_hashpipe *p = s->pipe;
	struct ib_err err;

	plat_monitor_enter(p->mon);
	for (;;) {
		struct job job;
		uint64_t k;
		int rc = 0;

		while (s->consumed == p->submitted && !p->stopping) {
			s->idle = 1;
			plat_monitor_wait(p->mon);
			s->idle = 0;
		}
		if (s->consumed == p->submitted)
			break;
		k = s->consumed;
		job = p->jobs[k % IB_HASHPIPE_SLOTS];
		if (p->rc == 0 && !p->stopping) {
			plat_monitor_leave(p->mon);
			rc = job.fn(job.ctx, s->index, slot(p, k), job.len, &err);
			plat_monitor_enter(p->mon);
		}
		if (rc && p->rc == 0) {
			p->rc = rc;
			p->err = err;
		}
		s->consumed = k + 1;
		if (p->wake_at && (p->rc || done(p) >= p->wake_at))
			plat_monitor_notify(p->mon);
	}
	plat_monitor_leave(p->mon);
}

int ib_hashpipe_start(struct ib_hashpipe **out, int stages, struct ib_err *err)
{
	struct ib_hashpipe *p;
	int rc;

	*out = NULL;
	if (stages < 1 || stages > IB_HASHPIPE_MAX_STAGES)
		return ib_fail(err, IB_EINTERNAL, "hashpipe: %d stages", stages);
	/* Large enough for fresh pages: calloc need not clear them. */
	p = calloc(1, sizeof *p + (size_t)IB_HASHPIPE_SLOTS * IB_HASHPIPE_CHUNK);
	if (!p)
		return ib_oom(err);
	rc = plat_monitor_new(&p->mon, err);
	if (rc) {
		free(p);
		return rc;
	}
	for (; p->n_stages < stages; p->n_stages++) {
		struct stage *s = &p->stages[p->n_stages];

		s->pipe = p;
		s->index = p->n_stages;
		rc = plat_thread_start(&s->thread, worker, s, err);
		if (rc) {
			ib_hashpipe_stop(p);
			return rc;
		}
	}
	*out = p;
	return 0;
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
	if (p->submitted - done(p) >= IB_HASHPIPE_SLOTS && p->rc == 0) {
		/* Then half the ring: both sides work in bursts, not chunk by chunk. */
		p->wake_at = p->submitted - IB_HASHPIPE_SLOTS / 2;
		while (done(p) < p->wake_at && p->rc == 0)
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
	if (any_idle(p))
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
	while (done(p) != p->submitted)
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
	for (int i = 0; i < p->n_stages; i++)
		plat_thread_join(p->stages[i].thread);
	plat_monitor_free(p->mon);
	free(p);
}
