/*
 * fuzz.h - what the libFuzzer harnesses share: reading the input as a
 * stream of choices, and failing loudly when an invariant breaks.
 *
 * Copyright 2026 The dgrambatch authors.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef DGB_FUZZ_H
#define DGB_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The input, read from the front; past its end every read gives zeros. */
struct in {
	const uint8_t *p;
	size_t n;
};

static inline uint8_t in_u8(struct in *in)
{
	uint8_t v = 0;

	if (in->n > 0) {
		v = in->p[0];
		in->p++;
		in->n--;
	}
	return v;
}

static inline uint16_t in_u16(struct in *in)
{
	return (uint16_t)(in_u8(in) | in_u8(in) << 8);
}

static inline uint32_t in_u32(struct in *in)
{
	return (uint32_t)in_u16(in) | (uint32_t)in_u16(in) << 16;
}

/* Up to len bytes into dst, the rest zero; returns how many came from the input. */
static inline size_t in_bytes(struct in *in, void *dst, size_t len)
{
	size_t k = len < in->n ? len : in->n;

	memcpy(dst, in->p, k);
	memset((char *)dst + k, 0, len - k);
	in->p += k;
	in->n -= k;
	return k;
}

/* A broken invariant: say which and abort, which libFuzzer reports as a crash. */
#define CHECK(cond)                                                                  \
	do {                                                                         \
		if (!(cond)) {                                                       \
			fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__,   \
				__LINE__, #cond);                                    \
			abort();                                                     \
		}                                                                    \
	} while (0)

#endif /* DGB_FUZZ_H */
