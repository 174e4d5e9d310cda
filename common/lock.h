/*
 * lock.h - one at a time: an exclusive lock on a file.
 *
 * The lock belongs to the open file, so it goes away when its holder exits
 * or is killed and is never left stale; the file itself stays (removing lock
 * files races with the next waiter). While held, the file records the
 * holder's process id and what it is doing, so that whoever finds the lock
 * busy can say who holds it. Lock descriptors are not inherited by programs
 * the holder starts.
 */
#ifndef IBDRV_LOCK_H
#define IBDRV_LOCK_H

#include "err.h"

#include <stddef.h>
#include <stdint.h>

#define IB_LOCK_WAIT_MS_DEFAULT 30000
#define IB_LOCK_WHAT_MAX 256

struct ib_lock; /* opaque; released (and freed) by ib_lock_release */

/*
 * Creates path if needed (its folder must exist) and takes the lock, waiting
 * up to wait_ms for the holder to let go (0: try once). what (one line) is
 * recorded for others to see. Busy after the wait: IB_EBUSY, "<path>: held by
 * pid N (<what>); gave up after S s".
 */
int ib_lock_acquire(const char *path, const char *what, unsigned wait_ms, struct ib_lock **out,
                    struct ib_err *err);

/* Lets go of the lock; NULL is fine. */
void ib_lock_release(struct ib_lock *lock);

/*
 * Whether someone holds the lock at path right now, without taking it for
 * long. When held, *pid and what tell who, as far as recorded (0 and "" when
 * not). A missing file means not held.
 */
int ib_lock_probe(const char *path, int *held, int64_t *pid, char *what, size_t cap,
                  struct ib_err *err);

#endif
