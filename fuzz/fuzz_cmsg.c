/*
 * fuzz_cmsg.c - the receive side's control-message parsers on any control
 * buffer: the local address (IP_PKTINFO, IPV6_PKTINFO; mmsg.c
 * extract_local/cmsg_payload), the GRO segment size and drop count
 * (gro.c gro_size/note_drops), and the per-datagram copy of a train's
 * control messages (gro.c copy_cmsgs), with MSG_CTRUNC either way.
 *
 * Input: a flags byte, the socket's family and port, the caller's control
 * room, a payload length, then the control buffer as the kernel would have
 * left it (its length is whatever remains, at most 512).
 *
 * Invariants: nothing read outside the control buffer (each buffer is
 * allocated to its exact size), the local address is absent or of an IP
 * family with the socket's port; every control message handed to the
 * caller lies within the caller's room, is well formed, is one the kernel
 * gave (byte for byte, from inside the given length), never the segment
 * size or the drop count, and MSG_CTRUNC is kept.
 *
 * Copyright 2026 The dgrambatch authors.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "config.h"

#include <netinet/in.h>
#include <netinet/udp.h>
#include <sys/socket.h>

#include "dgrambatch.h"
#include "fuzz.h"
#include "glue/dgram.h"
#include "core/internal.h"

#ifndef SO_RXQ_OVFL
#define SO_RXQ_OVFL 40
#endif

#define MAX_CTL 512

static const void *find(const void *hay, size_t hn, const void *needle, size_t nn)
{
	for (size_t i = 0; nn <= hn && i <= hn - nn; i++)
		if (memcmp((const char *)hay + i, needle, nn) == 0)
			return (const char *)hay + i;
	return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct in in = { data, size };
	uint8_t flags = in_u8(&in);
	struct dgb_bio d;
	struct msghdr mh;
	BIO_ADDR *local;
	union dgb_addr got;
	size_t room = in_u8(&in), room8, ctllen;
	unsigned int len = in_u16(&in) & 0x3ff;
	uint16_t port = in_u16(&in);
	unsigned char *ctl, *payload, *out_ctl;
	struct sockaddr_in6 name;
	struct mmsghdr out[4];
	unsigned char bufs[4][256];
	struct iovec iov[4];
	int r;

	memset(&d, 0, sizeof(d));
	if (flags & 1) {
		d.local.s_in6.sin6_family = AF_INET6;
		d.local.s_in6.sin6_port = port;
	} else {
		d.local.s_in.sin_family = AF_INET;
		d.local.s_in.sin_port = port;
	}
	ctllen = in.n < MAX_CTL ? in.n : MAX_CTL;
	/* Exactly its size, so that ASan sees a read past its end. */
	ctl = malloc(ctllen ? ctllen : 1);
	in_bytes(&in, ctl, ctllen);

	memset(&mh, 0, sizeof(mh));
	mh.msg_control = ctllen ? ctl : NULL;
	mh.msg_controllen = ctllen;
	mh.msg_flags = flags & 2 ? MSG_CTRUNC : 0;

	/* The local address of a received message. */
	local = BIO_ADDR_new();
	CHECK(local != NULL);
	dgb_mmsg_extract_local(&d, &mh, local);
	memset(&got, 0, sizeof(got));
	memcpy(&got, local, sizeof(got) < sizeof(union dgb_addr) ? sizeof(got) : sizeof(got));
	switch (BIO_ADDR_family(local)) {
	case AF_UNSPEC:
		break;
	case AF_INET:
		CHECK(got.s_in.sin_port == port);
		break;
	case AF_INET6:
		CHECK(got.s_in6.sin6_port == port);
		break;
	default:
		CHECK(!"local address of an unknown family");
	}
	BIO_ADDR_free(local);

	/* A train with these controls, its datagrams into messages with room bytes of control. */
	payload = calloc(1, len ? len : 1);
	memset(&name, 0, sizeof(name));
	name.sin6_family = AF_INET6;
	mh.msg_name = &name;
	mh.msg_namelen = sizeof(name);
	/* Each caller's control buffer aligned as a cmsghdr must be. */
	room8 = (room + 7) & ~(size_t)7;
	out_ctl = malloc(4 * (room8 ? room8 : 1));
	memset(out, 0, sizeof(out));
	for (int i = 0; i < 4; i++) {
		iov[i].iov_base = bufs[i];
		iov[i].iov_len = sizeof(bufs[i]);
		out[i].msg_hdr.msg_iov = &iov[i];
		out[i].msg_hdr.msg_iovlen = 1;
		out[i].msg_hdr.msg_control = room ? out_ctl + i * room8 : NULL;
		out[i].msg_hdr.msg_controllen = room;
	}
	r = dgb_gro_split(&mh, payload, len, out, 4, flags & 4);
	CHECK(r >= 1 && r <= 4);
	for (int i = 0; i < r; i++) {
		struct msghdr *h = &out[i].msg_hdr;
		int pktinfo_done = 0;

		CHECK(h->msg_controllen <= room);
		if (flags & 2)
			CHECK(h->msg_flags & MSG_CTRUNC);
		if (h->msg_controllen == 0)
			continue;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(h); c != NULL; c = CMSG_NXTHDR(h, c)) {
			int pk = (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) ||
				 (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO);

			CHECK(c->cmsg_len >= CMSG_LEN(0));
			CHECK((unsigned char *)c + c->cmsg_len <=
			      (unsigned char *)h->msg_control + h->msg_controllen);
			CHECK(!(c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO));
			CHECK(!(c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL));
			/* The local address messages come first. */
			if (!pk)
				pktinfo_done = 1;
			else
				CHECK(!pktinfo_done);
			CHECK(find(ctl, ctllen, c, c->cmsg_len) != NULL);
		}
	}
	free(out_ctl);
	free(payload);
	free(ctl);
	return 0;
}
