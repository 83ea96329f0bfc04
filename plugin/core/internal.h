/*
 * internal.h - what the core's source files share and nothing else sees.
 *
 * Copyright 2026 The dgrambatch authors.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef DGB_CORE_INTERNAL_H
#define DGB_CORE_INTERNAL_H

#include <errno.h>
#include <stdint.h>
#include <sys/types.h>

#include "core.h"

enum dgb_dir { DGB_DIR_TX, DGB_DIR_RX };

/* Add v to this thread's counter c. */
void dgb_count(enum dgb_counter c, uint64_t v);

/* Count `calls` system calls that moved n datagrams of `bytes` in all. */
void dgb_count_io(enum dgb_dir dir, uint64_t calls, uint64_t n, uint64_t bytes);

/* Record an error's class and hand back -err for the caller to return. */
int dgb_fail(int err);

/*
 * A system call's result as the core returns it: the count, or -errno read
 * at once, before counting or anything else can change errno.
 */
static inline ssize_t dgb_sys_result(ssize_t r)
{
	return r < 0 ? -errno : r;
}

struct msghdr;
struct mmsghdr;

#ifdef DGB_FUZZ
/* For the fuzz harnesses only (gro.c): split one train as a receive would. */
int dgb_gro_split(const struct msghdr *km, const void *data, unsigned int len,
		  struct mmsghdr *out, unsigned int n, int peek);
#endif

#endif /* DGB_CORE_INTERNAL_H */
