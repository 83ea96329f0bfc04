/*
 * fuzz_bio_ctrl.c - sequences of BIO controls and calls on the module's
 * BIO over a real loopback socket pair: any control number (every
 * BIO_CTRL_DGRAM_*, the generic ones, the module's private ones, and the
 * numbers between), any num, a pointer to NULL, to a buffer of input
 * bytes, to the BIO itself, to a real address or time, interleaved with
 * BIO_read/BIO_write/BIO_puts, the batched calls, datagrams and GRO trains
 * from the other end, BIO_dup_chain() of the BIO (used, then freed) and
 * BIO_free at the end.
 *
 * Left out, as misuse rather than input: BIO_CTRL_DUP by hand (its
 * pointer must be a BIO; BIO_dup_chain makes it), BIO_C_SET_FD with a
 * descriptor other than the pair's or with BIO_CLOSE, BIO_C_SET_NBIO
 * (a blocking read would wait forever); the socket is made non-blocking
 * again after every step, since some controls set its timeouts.
 *
 * Invariants: no crash, no sanitizer report, no leak (LeakSanitizer at
 * exit and per input), BIO_read/BIO_write never report more than asked.
 *
 * Copyright 2026 The dgrambatch authors.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "config.h"

#include <sys/time.h>

#include "fuzz_bio.h"

#define MAX_DUPS 3

static const int dgram_cmds[] = {
	BIO_CTRL_RESET, BIO_CTRL_EOF, BIO_CTRL_INFO, BIO_CTRL_GET_CLOSE, BIO_CTRL_SET_CLOSE,
	BIO_CTRL_PENDING, BIO_CTRL_FLUSH, BIO_CTRL_WPENDING, BIO_C_GET_FD,
	BIO_CTRL_DGRAM_CONNECT, BIO_CTRL_DGRAM_SET_CONNECTED, BIO_CTRL_DGRAM_SET_RECV_TIMEOUT,
	BIO_CTRL_DGRAM_GET_RECV_TIMEOUT, BIO_CTRL_DGRAM_SET_SEND_TIMEOUT,
	BIO_CTRL_DGRAM_GET_SEND_TIMEOUT, BIO_CTRL_DGRAM_GET_RECV_TIMER_EXP,
	BIO_CTRL_DGRAM_GET_SEND_TIMER_EXP, BIO_CTRL_DGRAM_MTU_DISCOVER, BIO_CTRL_DGRAM_QUERY_MTU,
	BIO_CTRL_DGRAM_GET_FALLBACK_MTU, BIO_CTRL_DGRAM_GET_MTU, BIO_CTRL_DGRAM_SET_MTU,
	BIO_CTRL_DGRAM_MTU_EXCEEDED, BIO_CTRL_DGRAM_GET_PEER, BIO_CTRL_DGRAM_SET_PEER,
	BIO_CTRL_DGRAM_SET_NEXT_TIMEOUT, BIO_CTRL_DGRAM_SET_DONT_FRAG,
	BIO_CTRL_DGRAM_GET_MTU_OVERHEAD, BIO_CTRL_DGRAM_SET_PEEK_MODE,
	/* dgrambatch.h defines these where OpenSSL (3.0, 3.1) does not. */
	BIO_CTRL_DGRAM_GET_LOCAL_ADDR_CAP, BIO_CTRL_DGRAM_GET_LOCAL_ADDR_ENABLE,
	BIO_CTRL_DGRAM_SET_LOCAL_ADDR_ENABLE,
#ifdef BIO_CTRL_DGRAM_GET_CAPS
	BIO_CTRL_DGRAM_GET_EFFECTIVE_CAPS, BIO_CTRL_DGRAM_GET_CAPS, BIO_CTRL_DGRAM_SET_CAPS,
#endif
#ifdef BIO_CTRL_DGRAM_GET_NO_TRUNC
	BIO_CTRL_DGRAM_GET_NO_TRUNC, BIO_CTRL_DGRAM_SET_NO_TRUNC,
#endif
	/* Other numbers, the module's and OpenSSL's, come from the raw range below. */
#ifdef BIO_CTRL_GET_RPOLL_DESCRIPTOR
	BIO_CTRL_GET_RPOLL_DESCRIPTOR, BIO_CTRL_GET_WPOLL_DESCRIPTOR,
#endif
	DGB_CTRL_IDENTIFY, DGB_CTRL_GET_GSO, DGB_CTRL_SET_GSO, DGB_CTRL_GET_GRO,
	DGB_CTRL_SET_GRO, DGB_CTRL_SENDMMSG, DGB_CTRL_RECVMMSG,
	0x44474202, 0x44474203, /* 0.1.0's unversioned batched calls */
	0x44474200, 0x4447420a, 0x444742ff,
};

static int excluded(int cmd)
{
	return cmd == BIO_CTRL_DUP || cmd == BIO_C_SET_FD || cmd == BIO_C_SET_NBIO;
}

static void nonblocking(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl >= 0 && !(fl & O_NONBLOCK))
		(void)fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static long any_num(struct in *in)
{
	switch (in_u8(in) % 4) {
	case 0:
		return in_u8(in) % 3;
	case 1:
		return (int16_t)in_u16(in);
	case 2:
		return (long)(int32_t)in_u32(in);
	default:
		return (long)((uint64_t)in_u32(in) << 32 | in_u32(in));
	}
}

static void one_ctrl(struct pair *p, BIO *b, struct in *in)
{
	uint8_t sel = in_u8(in), kind = in_u8(in);
	int cmd = sel < 200 ? dgram_cmds[sel % (sizeof(dgram_cmds) / sizeof(dgram_cmds[0]))]
			    : (int)in_u8(in);
	long num = any_num(in);
	union {
		unsigned char bytes[256];
		struct timeval tv;
		DGB_MMSG_ARGS args;
		long align;
	} buf;
	DGB_MSG msgs[4];
	unsigned char data[4][1500];
	size_t done = 0;
	BIO_ADDR *addr = NULL;
	void *ptr;

	if (excluded(cmd))
		return;
	if (cmd == BIO_CTRL_SET_CLOSE)
		num = BIO_NOCLOSE;
	switch (kind % 7) {
	case 0:
		ptr = NULL;
		break;
	case 1:
		in_bytes(in, buf.bytes, sizeof(buf.bytes));
		ptr = buf.bytes;
		break;
	case 2:
		/* The private controls take the BIO they are for; others would write into it. */
		ptr = (cmd & ~0xff) == 0x44474200 ? (void *)b : NULL;
		break;
	case 3:
		addr = BIO_ADDR_new();
		CHECK(addr != NULL);
		switch (in_u8(in) % 4) {
		case 0:
			BIO_ADDR_rawmake(addr, p->family, p->family == AF_INET
						      ? (const void *)&((struct sockaddr_in *)&p->peer_sa)->sin_addr
						      : (const void *)&p->peer_sa.sin6_addr,
					 p->family == AF_INET ? 4 : 16, BIO_ADDR_rawport(p->peer));
			break;
		case 1:
			BIO_ADDR_rawmake(addr, AF_INET, "\x7f\0\0\x01", 4, htons(9));
			break;
		case 2:
			BIO_ADDR_rawmake(addr, AF_INET6, &in6addr_loopback, 16, htons(9));
			break;
		default:
			break; /* AF_UNSPEC */
		}
		ptr = addr;
		break;
	case 4:
		memset(&buf, 0, sizeof(buf));
		buf.tv.tv_sec = in_u8(in) % 3;
		buf.tv.tv_usec = (long)(in_u32(in) % 2000000);
		if (in_u8(in) & 1) {
			struct timeval now;

			gettimeofday(&now, NULL);
			timeradd(&now, &buf.tv, &buf.tv);
		}
		ptr = &buf.tv;
		break;
	default:
		/* Well-formed batched-call arguments naming this BIO or another. */
		memset(&buf, 0, sizeof(buf));
		memset(msgs, 0, sizeof(msgs));
		for (int i = 0; i < 4; i++) {
			msgs[i].data = data[i];
			msgs[i].data_len = in_u16(in) % sizeof(data[i]);
			memset(data[i], i, sizeof(data[i]));
			msgs[i].peer = in_u8(in) & 1 ? p->peer : NULL;
		}
		buf.args.abi = in_u8(in) & 7 ? DGB_MMSG_ABI : in_u8(in);
		buf.args.size = in_u8(in) & 7 ? sizeof(buf.args) : in_u8(in);
		buf.args.bio = in_u8(in) & 7 ? b : p->b;
		buf.args.msg = msgs;
		buf.args.stride = sizeof(DGB_MSG);
		buf.args.num_msg = in_u8(in) % 5;
		buf.args.msgs_processed = &done;
		ptr = &buf.args;
		if (cmd == 0x44474202 || cmd == 0x44474203)
			ptr = NULL;
		break;
	}
	(void)BIO_ctrl(b, cmd, num, ptr);
	BIO_ADDR_free(addr);
	ERR_clear_error();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct in in = { data, size };
	uint8_t setup = in_u8(&in);
	BIO *dups[MAX_DUPS] = { NULL };
	unsigned int ndup = 0;
	struct pair p;
	char rbuf[2048];

	pair_open(&p, setup & 1);
	for (int step = 0; step < 24 && in.n > 0; step++) {
		uint8_t op = in_u8(&in);
		BIO *b = ndup > 0 && op & 0x80 ? dups[op % ndup] : p.b;

		switch (op % 10) {
		case 0:
		case 1:
		case 2:
		case 3:
			one_ctrl(&p, b, &in);
			break;
		case 4: {
			int len = in_u16(&in) % (int)sizeof(rbuf);
			char *out = malloc(len ? (size_t)len : 1);
			int r = BIO_read(b, out, len);

			CHECK(r <= len);
			free(out);
			break;
		}
		case 5: {
			int len = in_u16(&in) % 1500;
			char *src = malloc(len ? (size_t)len : 1);
			int r;

			in_bytes(&in, src, (size_t)len);
			r = in_u8(&in) & 1 ? BIO_write(b, src, len) : BIO_puts(b, "dgrambatch");
			CHECK(r <= (len > 10 ? len : 10));
			free(src);
			break;
		}
		case 6: {
			DGB_MSG m[8];
			unsigned char bufs[8][1600];
			size_t k = in_u8(&in) % 9, done = 0;
			int send = in_u8(&in) & 1;

			memset(m, 0, sizeof(m));
			for (size_t i = 0; i < k; i++) {
				m[i].data = bufs[i];
				m[i].data_len = send ? in_u16(&in) % 1500 : sizeof(bufs[i]);
				m[i].peer = send && in_u8(&in) & 1 ? p.peer : NULL;
				memset(bufs[i], 'a', sizeof(bufs[i]));
			}
			(void)(send ? DGB_sendmmsg(b, m, sizeof(m[0]), k, 0, &done)
				    : DGB_recvmmsg(b, m, sizeof(m[0]), k, 0, &done));
			CHECK(done <= k);
			break;
		}
		case 7:
			other_send(&p, in_u8(&in) % 40 + 1, in_u16(&in) % 2000, op & 0x40);
			break;
		case 8:
			if (ndup < MAX_DUPS) {
				dups[ndup] = BIO_dup_chain(b);
				if (dups[ndup] != NULL)
					ndup++;
			} else {
				BIO_free(dups[--ndup]);
			}
			break;
		default:
			other_drain(&p);
			break;
		}
		nonblocking(p.fd);
		ERR_clear_error();
	}
	while (ndup > 0)
		BIO_free(dups[--ndup]);
	pair_close(&p);
	return 0;
}
