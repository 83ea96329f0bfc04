/*
 * fuzz_gso_group.c - the GSO grouping of a send (mmsg.c group_size, as
 * dgb_bio_sendmmsg walks the array): any message sizes, destinations and
 * local addresses, connected or not, either segment limit, any stride.
 *
 * Input: flags (GSO on, connected, the 64-segment limit), the stride's
 * extra bytes, the count (1 to 300, past twice the segment limit), then
 * per message a size class and an address choice.
 *
 * Invariants: the groups cover every message exactly once, in order; with
 * GSO off, or for a message of 0 bytes or over DGB_GSO_MAX_BYTES / 2 to
 * start, a group is one message; a group has at most the socket's segment
 * limit (128, or 64), at most DGB_GSO_MAX_BYTES (65507) in all, a segment
 * size that fits UDP_SEGMENT's u16, the first message's destination
 * (unless connected) and local address throughout, all messages of the
 * first's size but the last, which is not longer and not empty.
 *
 * Copyright 2026 The dgrambatch authors.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "dgrambatch.h"
#include "fuzz.h"
#include "glue/dgram.h"

#define MAX_N 300
#define NADDR 4

static BIO_ADDR *addrs[NADDR];

static void make_addrs(void)
{
	struct in_addr a4;
	struct in6_addr a6;

	if (addrs[0] != NULL)
		return;
	for (int i = 0; i < NADDR; i++)
		addrs[i] = BIO_ADDR_new();
	inet_pton(AF_INET, "127.0.0.1", &a4);
	inet_pton(AF_INET6, "::1", &a6);
	BIO_ADDR_rawmake(addrs[0], AF_INET, &a4, sizeof(a4), htons(1000));
	BIO_ADDR_rawmake(addrs[1], AF_INET, &a4, sizeof(a4), htons(1001));
	BIO_ADDR_rawmake(addrs[2], AF_INET6, &a6, sizeof(a6), htons(1000));
	/* Equal to the first in content, another object. */
	BIO_ADDR_rawmake(addrs[3], AF_INET, &a4, sizeof(a4), htons(1000));
}

static int same(const BIO_ADDR *a, const BIO_ADDR *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return BIO_ADDR_family(a) == BIO_ADDR_family(b) &&
	       BIO_ADDR_rawport(a) == BIO_ADDR_rawport(b) &&
	       (a == b || (a == addrs[0] && b == addrs[3]) || (a == addrs[3] && b == addrs[0]));
}

static const BIO_ADDR *pick(uint8_t v)
{
	v %= NADDR + 1;
	return v == NADDR ? NULL : addrs[v];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct in in = { data, size };
	uint8_t flags = in_u8(&in);
	size_t stride = sizeof(DGB_MSG) + 8 * (in_u8(&in) & 3);
	unsigned int n = in_u16(&in) % MAX_N + 1, max, groups = 0;
	int gso = flags & 1;
	struct dgb_bio d;
	char *msgs;

	make_addrs();
	memset(&d, 0, sizeof(d));
	d.connected = !!(flags & 2);
	atomic_init(&d.tx.gso, gso);
	atomic_init(&d.tx.old_max, !!(flags & 4));
	max = flags & 4 ? DGB_GSO_OLD_MAX_SEGMENTS : DGB_GSO_MAX_SEGMENTS;
	msgs = calloc(n, stride);
	for (unsigned int i = 0; i < n; i++) {
		DGB_MSG *m = (DGB_MSG *)(msgs + i * stride);
		uint8_t c = in_u8(&in);

		/* Mostly a few sizes, so that runs form; sometimes any. */
		switch (c >> 5) {
		case 0:
			m->data_len = 1200;
			break;
		case 1:
			m->data_len = 1200 - (c & 0x1f);
			break;
		case 2:
			m->data_len = 0;
			break;
		case 3:
			m->data_len = in_u16(&in);
			break;
		case 4:
			m->data_len = (size_t)in_u32(&in) << (c & 0x1f);
			break;
		default:
			m->data_len = 512u << (c & 7);
			break;
		}
		m->peer = (BIO_ADDR *)pick(in_u8(&in) & 0x0f ? 0 : in_u8(&in));
		m->local = (BIO_ADDR *)pick(in_u8(&in) & 0x0f ? NADDR : in_u8(&in));
		m->data = NULL;
	}

	for (unsigned int i = 0; i < n; groups++) {
		unsigned int k = dgb_mmsg_group_size(&d, msgs, stride, i, n, gso);
		const DGB_MSG *f = (const DGB_MSG *)(msgs + i * stride);
		size_t total = 0;

		CHECK(k >= 1 && k <= n - i);
		if (!gso || f->data_len == 0 || f->data_len > DGB_GSO_MAX_BYTES / 2)
			CHECK(k == 1);
		if (k > 1) {
			CHECK(k <= max);
			CHECK(f->data_len <= UINT16_MAX);
			for (unsigned int t = 0; t < k; t++) {
				const DGB_MSG *m = (const DGB_MSG *)(msgs + (i + t) * stride);

				total += m->data_len;
				CHECK(m->data_len > 0);
				if (t < k - 1)
					CHECK(m->data_len == f->data_len);
				else
					CHECK(m->data_len <= f->data_len);
				if (!d.connected)
					CHECK(same(m->peer, f->peer));
				CHECK(same(m->local, f->local));
			}
			CHECK(total <= DGB_GSO_MAX_BYTES);
		}
		i += k;
	}
	CHECK(groups >= 1 && groups <= n);
	free(msgs);
	return 0;
}
