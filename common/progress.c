#include "progress.h"

#include "platform.h"

#include <stdio.h>
#include <string.h>

/* stderr is unbuffered: what is printed shows at once. */

void ib_progress_start(struct ib_progress *p, const char *label, uint64_t total, int quiet)
{
	memset(p, 0, sizeof *p);
	p->label = label;
	p->total = total;
	p->start_ms = plat_monotonic_ms();
	p->active = !quiet && total >= IB_PROGRESS_MIN_BYTES && plat_isatty(stderr);
}

/* Counts go through int64_t (far below 2^63): its conversion to double is shorter. */
static void draw(struct ib_progress *p, uint64_t now)
{
	enum { WIDTH = 30 };
	uint64_t elapsed = now - p->start_ms;
	double rate = elapsed ? (double)(int64_t)p->done * 1000.0 / (double)(int64_t)elapsed : 0.0;
	unsigned filled = p->total ? (unsigned)(p->done * WIDTH / p->total) : 0;
	char bar[WIDTH + 1];
	double eta =
	        rate > 0 && p->total > p->done ? (double)(int64_t)(p->total - p->done) / rate : 0.0;

	memset(bar, '#', filled);
	memset(bar + filled, '.', WIDTH - filled);
	bar[WIDTH] = '\0';
	fprintf(stderr, "\r%s [%s] %3u%% %7.1f MiB %6.1f MiB/s ETA %3.0fs", p->label, bar,
	        p->total ? (unsigned)(p->done * 100 / p->total) : 0,
	        (double)(int64_t)p->done / 1048576.0, rate / 1048576.0, eta);
}

void ib_progress_add(struct ib_progress *p, uint64_t bytes)
{
	uint64_t now;

	if (!p->active)
		return;
	p->done += bytes;
	now = plat_monotonic_ms();
	if (now - p->last_draw_ms >= 100 || p->done >= p->total) {
		p->last_draw_ms = now;
		draw(p, now);
	}
}

void ib_progress_end(struct ib_progress *p)
{
	if (!p->active)
		return;
	fprintf(stderr, "\r%*s\r", 80, "");
	p->active = 0;
}
