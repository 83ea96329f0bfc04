/*
 * fuzz_gro_split.c - the GRO splitter (gro.c received/deliver/copy_to_iov
 * through deliver_kept): a coalesced receive of any length with any
 * segment size, split into a caller array of any count, any iovec layout
 * and sizes, peeking or not.
 *
 * Input: len (u16), the UDP_GRO value (i32, any sign; or none), flags
 * (MSG_TRUNC/MSG_CTRUNC from the kernel, peek, a sender or not), the
 * number of caller messages (1 to 64), then per message 1 to 3 iovecs of
 * 0 to 2047 bytes each.  The payload is a known pattern.
 *
 * Invariants: the count delivered is min(n, datagrams in the train), or 1
 * when peeking; datagram j is bytes [j*seg, min(len, (j+1)*seg)) of the
 * train, in that message only, cut to the message's room with MSG_TRUNC
 * set exactly when cut; msg_len is what was copied; the sender is the
 * train's; MSG_CTRUNC carried; every buffer is allocated to its exact
 * size and surrounded by ASan, so any write outside is a crash.
 *
 * Copyright 2026 The dgrambatch authors.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "config.h"

#include <netinet/in.h>
#include <netinet/udp.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "fuzz.h"
#include "core/internal.h"

#define MAX_MSGS 64
#define MAX_IOV 3

static unsigned char pat[65536];

static unsigned char pattern(size_t i)
{
	return (unsigned char)(i * 131 + (i >> 8) * 7 + 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct in in = { data, size };
	unsigned int len = in_u16(&in);
	int32_t gro = (int32_t)in_u32(&in);
	uint8_t flags = in_u8(&in);
	unsigned int n = in_u8(&in) % MAX_MSGS + 1;
	int peek = flags & 4;
	unsigned char *train;
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct sockaddr_in6 from, *names;
	struct msghdr km;
	struct mmsghdr *out;
	struct iovec *iov;
	unsigned int seg, nseg, want;
	int r;

	if (len > 65535)
		len = 65535;
	train = malloc(len ? len : 1);
	if (pat[0] == 0)
		for (size_t i = 0; i < sizeof(pat); i++)
			pat[i] = pattern(i);
	memcpy(train, pat, len);
	memset(&km, 0, sizeof(km));
	memset(&from, 0, sizeof(from));
	from.sin6_family = AF_INET6;
	from.sin6_port = htons(4433);
	from.sin6_addr.s6_addr[15] = 1;
	if (flags & 8) {
		km.msg_name = &from;
		km.msg_namelen = sizeof(from);
	}
	if (flags & 16) {
		struct cmsghdr *c = &ctl.align;

		memset(&ctl, 0, sizeof(ctl));
		c->cmsg_level = SOL_UDP;
		c->cmsg_type = UDP_GRO;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &gro, sizeof(gro));
		km.msg_control = ctl.buf;
		km.msg_controllen = sizeof(ctl.buf);
	}
	km.msg_flags = (flags & 1 ? MSG_TRUNC : 0) | (flags & 2 ? MSG_CTRUNC : 0);

	/* What the splitter must do, worked out here on its own. */
	seg = (flags & 16) && gro > 0 ? (unsigned int)gro : 0;
	nseg = seg > 0 && seg < len ? (len + seg - 1) / seg : 1;
	if (nseg == 1)
		seg = len;
	want = peek ? 1 : (n < nseg ? n : nseg);

	out = calloc(n, sizeof(*out));
	iov = calloc((size_t)n * MAX_IOV, sizeof(*iov));
	names = calloc(n, sizeof(*names));
	for (unsigned int i = 0; i < n; i++) {
		unsigned int k = in_u8(&in) % MAX_IOV + 1;

		for (unsigned int v = 0; v < k; v++) {
			size_t l = in_u16(&in) & 0x7ff;

			iov[i * MAX_IOV + v].iov_base = malloc(l ? l : 1);
			iov[i * MAX_IOV + v].iov_len = l;
		}
		out[i].msg_hdr.msg_iov = &iov[i * MAX_IOV];
		out[i].msg_hdr.msg_iovlen = k;
		out[i].msg_hdr.msg_name = &names[i];
		out[i].msg_hdr.msg_namelen = sizeof(names[i]);
		out[i].msg_len = 0xdeadbeef;
	}

	r = dgb_gro_split(&km, train, len, out, n, peek);
	CHECK(r >= 0 && (unsigned int)r == want);
	for (unsigned int j = 0; j < n; j++) {
		struct msghdr *h = &out[j].msg_hdr;
		size_t off = (size_t)j * seg, dlen, room = 0, done = 0;

		if (j >= (unsigned int)r) {
			CHECK(out[j].msg_len == 0xdeadbeef);
			continue;
		}
		dlen = len - off < seg ? len - off : seg;
		for (size_t v = 0; v < h->msg_iovlen; v++)
			room += h->msg_iov[v].iov_len;
		CHECK(out[j].msg_len == (dlen < room ? dlen : room));
		CHECK(!!(h->msg_flags & MSG_TRUNC) == (dlen > room));
		CHECK(!!(h->msg_flags & MSG_CTRUNC) == !!(flags & 2));
		for (size_t v = 0; v < h->msg_iovlen && done < out[j].msg_len; v++) {
			size_t k = h->msg_iov[v].iov_len < out[j].msg_len - done
					   ? h->msg_iov[v].iov_len
					   : out[j].msg_len - done;

			CHECK(memcmp(h->msg_iov[v].iov_base, pat + off + done, k) == 0);
			done += k;
		}
		CHECK(done == out[j].msg_len);
		if (flags & 8) {
			CHECK(h->msg_namelen == sizeof(from));
			CHECK(memcmp(&names[j], &from, sizeof(from)) == 0);
		} else {
			CHECK(h->msg_namelen == 0);
		}
	}
	for (size_t i = 0; i < (size_t)n * MAX_IOV; i++)
		free(iov[i].iov_base);
	free(iov);
	free(names);
	free(out);
	free(train);
	return 0;
}
