/*
 * fuzz_bio_mmsg.c - the BIO's batched calls (BIO_sendmmsg/BIO_recvmmsg
 * through DGB_sendmmsg/DGB_recvmmsg, and the private DGB_CTRL_SENDMMSG/
 * RECVMMSG controls of dgrambatch.h) with any arguments, on a real
 * loopback socket pair, IPv4 or IPv6, connected or not, local addresses,
 * GSO and GRO on or off, and datagrams (plain or GRO trains) from the
 * other end.
 *
 * Arguments: NULL array, stride below, at and above sizeof(BIO_MSG), counts
 * from 0 past DGB_MAX_MSGS, NULL msgs_processed (private control only:
 * OpenSSL's own BIO_sendmmsg writes it unconditionally), any flags,
 * NULL payloads with and without a length, peers of the right family, the
 * wrong one, none or a closed port, local addresses right, wrong port,
 * wrong family, or while local addresses are off.
 *
 * Invariants (BIO_sendmmsg(3)): the result is 1 or 0; *msgs_processed is
 * written on every path, at most the count, 0 on failure, and a failure
 * leaves an error on the stack; a processed message's flags are 0 and a
 * received length is within its buffer; no crash, no write outside any
 * buffer (each is its exact size), no leak.
 *
 * Copyright 2026 The dgrambatch authors.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "config.h"

#include "fuzz_bio.h"

#define MAX_N 80

/*
 * The "wrong port": a socket of the harness's own, opened once and never
 * read (what it is sent, the kernel drops once its buffer is full).  A
 * port picked next to the harness's own could be any other program's on
 * this machine, and that program would get the datagrams.
 */
static uint16_t sink_port(void)
{
	static uint16_t port; /* network order */

	if (port == 0) {
		struct sockaddr_in6 sa;
		BIO_ADDR *a = BIO_ADDR_new();

		CHECK(a != NULL);
		(void)udp_socket(AF_INET, a, &sa); /* kept open for the process's life */
		port = BIO_ADDR_rawport(a);
		BIO_ADDR_free(a);
	}
	return port;
}

/* One batched call of either direction, built from the input. */
static void batch(struct pair *p, struct in *in, int send)
{
	uint8_t how = in_u8(in), nsel = in_u8(in);
	size_t n = nsel < 240 ? nsel % MAX_N : nsel == 255 ? DGB_MAX_MSGS + 7 : nsel - 200;
	size_t alloc_n = n < MAX_N ? n : MAX_N;
	size_t stride, done = 0xdead, cap[MAX_N];
	DGB_MSG *msg;
	BIO_ADDR *wrong = BIO_ADDR_new();
	int r;

	switch (how & 3) {
	case 0:
		stride = sizeof(DGB_MSG);
		break;
	case 1:
		stride = sizeof(DGB_MSG) + 8 * (in_u8(in) % 8);
		break;
	case 2:
		stride = sizeof(DGB_MSG) - 8 * (in_u8(in) % 4 + 1);
		break;
	default:
		stride = in_u8(in) & 1 ? 0 : sizeof(DGB_MSG) - 8;
		break;
	}
	/* A count past what is allocated only with a stride the call must refuse first. */
	if (n > alloc_n && stride >= sizeof(DGB_MSG))
		n = alloc_n;
	msg = calloc(alloc_n ? alloc_n : 1,
		     stride > sizeof(DGB_MSG) ? stride : sizeof(DGB_MSG));
	CHECK(msg != NULL && wrong != NULL);
	/* Another address family where the pair is IPv6, else another port. */
	BIO_ADDR_rawmake(wrong, AF_INET, "\x7f\0\0\x01", 4, sink_port());
	for (size_t i = 0; i < alloc_n; i++) {
		DGB_MSG *m = (DGB_MSG *)((char *)msg + i * (stride >= sizeof(DGB_MSG) ? stride
										 : sizeof(DGB_MSG)));
		uint8_t c = in_u8(in);

		cap[i] = c & 0x80 ? in_u16(in) : (c & 0x7f) * 16;
		m->data_len = cap[i];
		m->data = malloc(cap[i] ? cap[i] : 1);
		if (send && m->data != NULL)
			memset(m->data, (int)i, cap[i]);
		if ((c & 0x60) == 0x60 && in_u8(in) & 1) {
			free(m->data);
			m->data = NULL;
			if (in_u8(in) & 1)
				m->data_len = cap[i] = 0;
		}
		m->flags = in_u8(in) & 1 ? in_u32(in) : 0;
		switch (in_u8(in) % 6) {
		case 0:
			m->peer = NULL;
			break;
		case 1:
		case 2:
			m->peer = send ? p->peer : BIO_ADDR_new();
			break;
		case 3:
			m->peer = send ? p->closed : BIO_ADDR_new();
			break;
		case 4:
			m->peer = send ? wrong : BIO_ADDR_new();
			break;
		default:
			m->peer = send ? p->me : NULL;
			break;
		}
		switch (in_u8(in) % 5) {
		case 1:
			m->local = BIO_ADDR_new();
			if (send)
				BIO_ADDR_rawmake(m->local, BIO_ADDR_family(p->me),
						 BIO_ADDR_family(p->me) == AF_INET
							 ? (const void *)"\x7f\0\0\x01"
							 : (const void *)&in6addr_loopback,
						 BIO_ADDR_family(p->me) == AF_INET ? 4 : 16,
						 in_u8(in) & 1 ? 0 : BIO_ADDR_rawport(p->me));
			break;
		case 2:
			m->local = BIO_ADDR_new();
			if (send)
				BIO_ADDR_rawmake(m->local, AF_INET, "\x7f\0\0\x01", 4,
						 BIO_ADDR_rawport(p->me) + 1);
			break;
		default:
			m->local = NULL;
			break;
		}
	}

	if (how & 4) {
		DGB_MMSG_ARGS a;

		memset(&a, 0, sizeof(a));
		a.abi = DGB_MMSG_ABI;
		a.size = sizeof(a);
		a.bio = p->b;
		a.msg = how & 8 ? NULL : msg;
		a.stride = stride;
		a.num_msg = n;
		a.flags = how & 16 ? in_u32(in) : 0;
		a.msgs_processed = how & 32 ? NULL : &done;
		BIO_ctrl(p->b, send ? DGB_CTRL_SENDMMSG : DGB_CTRL_RECVMMSG, 0, &a);
		CHECK(a.handled == 1);
		r = a.result;
		if (a.msgs_processed == NULL) {
			CHECK(r == 0);
			CHECK(ERR_peek_error() != 0);
			goto out;
		}
	} else {
		r = send ? DGB_sendmmsg(p->b, how & 8 ? NULL : msg, stride, n, how & 16 ? in_u32(in) : 0, &done)
			 : DGB_recvmmsg(p->b, how & 8 ? NULL : msg, stride, n, how & 16 ? in_u32(in) : 0, &done);
	}
	CHECK(r == 0 || r == 1);
	CHECK(done != 0xdead);
	if (r == 0) {
		CHECK(done == 0);
		CHECK(ERR_peek_error() != 0);
	} else {
		CHECK(done <= n);
		CHECK(done == 0 || (msg != NULL && stride >= sizeof(DGB_MSG) && !(how & 8)));
		for (size_t i = 0; i < done; i++) {
			DGB_MSG *m = (DGB_MSG *)((char *)msg + i * stride);

			CHECK(m->flags == 0);
			CHECK(m->data_len <= cap[i]);
		}
	}
out:
	ERR_clear_error();
	for (size_t i = 0; i < alloc_n; i++) {
		DGB_MSG *m = (DGB_MSG *)((char *)msg + i * (stride >= sizeof(DGB_MSG) ? stride
										 : sizeof(DGB_MSG)));

		free(m->data);
		if (!send && m->peer != NULL)
			BIO_ADDR_free(m->peer);
		BIO_ADDR_free(m->local);
	}
	free(msg);
	BIO_ADDR_free(wrong);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct in in = { data, size };
	uint8_t setup = in_u8(&in);
	struct pair p;

	pair_open(&p, setup & 1);
	if (setup & 2) {
		CHECK(connect(p.fd, (struct sockaddr *)&p.peer_sa, p.salen) == 0);
		/* The module reads the socket's state when the fd is attached. */
		BIO_set_fd(p.b, p.fd, BIO_NOCLOSE);
	}
	if (setup & 4)
		BIO_ctrl(p.b, BIO_CTRL_DGRAM_SET_LOCAL_ADDR_ENABLE, 1, NULL);
	if (setup & 8)
		(void)DGB_set_gso(p.b, 1);
	if (setup & 16)
		(void)DGB_set_gro(p.b, 1);
	if (setup & 32)
		(void)DGB_set_gro(p.b, 0);
	if (setup & 64)
		BIO_ctrl(p.b, BIO_CTRL_DGRAM_SET_PEEK_MODE, 1, NULL);
	ERR_clear_error();

	for (int op = 0; op < 12 && in.n > 0; op++) {
		uint8_t o = in_u8(&in);

		switch (o % 4) {
		case 0:
			batch(&p, &in, 1);
			other_drain(&p);
			break;
		case 1:
			batch(&p, &in, 0);
			break;
		case 2:
			other_send(&p, in_u8(&in) % 70 + 1, in_u16(&in) % 3000, o & 4);
			break;
		default:
			other_drain(&p);
			break;
		}
	}
	pair_close(&p);
	return 0;
}
