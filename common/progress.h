/*
 * progress.h - a progress bar on stderr for long operations.
 *
 * It draws only when stderr is a terminal, quiet is off and the total is at
 * least IB_PROGRESS_MIN_BYTES; otherwise every call is a no-op, so callers
 * never test for it. The bar is redrawn at most ten times a second.
 */
#ifndef IBDRV_PROGRESS_H
#define IBDRV_PROGRESS_H

#include <stdint.h>

#define IB_PROGRESS_MIN_BYTES (8u << 20)

struct ib_progress {
	const char *label;
	uint64_t total;
	uint64_t done;
	uint64_t start_ms;
	uint64_t last_draw_ms;
	int active;
};

void ib_progress_start(struct ib_progress *p, const char *label, uint64_t total, int quiet);
void ib_progress_add(struct ib_progress *p, uint64_t bytes);
/* Clears the bar's line. */
void ib_progress_end(struct ib_progress *p);

#endif
