/*
 * core.c - the batched-syscall core.
 *
 * Copyright 2026 The dgrambatch authors.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core.h"
#include "probe/probe.h"

struct dgb_counters dgb_counters;

#define COUNT(c, v) atomic_fetch_add_explicit(&dgb_counters.c, (v), memory_order_relaxed)

enum dgb_errclass dgb_errclass(int err)
{
	switch (err) {
	case EAGAIN:
#if EWOULDBLOCK != EAGAIN
	case EWOULDBLOCK:
#endif
	case EINTR:
	case ENOBUFS:
		return DGB_ERR_TRANSIENT;
	case ECONNREFUSED:
	case EHOSTUNREACH:
	case ENETUNREACH:
	case EHOSTDOWN:
	case ENETDOWN:
	case EPROTO:
		return DGB_ERR_ICMP;
	default:
		return DGB_ERR_FATAL;
	}
}

/* Record an error's class and hand back -err for the caller to return. */
static int fail(int err)
{
	if (dgb_errclass(err) == DGB_ERR_ICMP)
		COUNT(icmp_errors, 1);
	return -err;
}

/* Count one single-datagram call; r is its result. */
static ssize_t counted_tx(ssize_t r)
{
	COUNT(tx_syscalls, 1);
	if (r < 0)
		return fail(errno);
	COUNT(tx_datagrams, 1);
	COUNT(tx_bytes, (uint64_t)r);
	return r;
}

static ssize_t counted_rx(ssize_t r)
{
	COUNT(rx_syscalls, 1);
	if (r < 0)
		return fail(errno);
	COUNT(rx_datagrams, 1);
	COUNT(rx_bytes, (uint64_t)r);
	return r;
}

ssize_t dgb_sendmsg(int fd, const struct msghdr *msg, int flags)
{
	return counted_tx(sendmsg(fd, msg, flags));
}

ssize_t dgb_write1(int fd, const void *buf, size_t len)
{
	return counted_tx(write(fd, buf, len));
}

ssize_t dgb_recvmsg(int fd, struct msghdr *msg, int flags)
{
	return counted_rx(recvmsg(fd, msg, flags));
}

/*
 * The one-at-a-time fallback keeps sendmmsg(2)'s contract: it stops at the
 * first error and reports it only when nothing was processed.  Each message
 * is counted by dgb_sendmsg/dgb_recvmsg.
 */
static int send_loop(int fd, struct mmsghdr *msgs, unsigned int n, int flags)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		ssize_t r = dgb_sendmsg(fd, &msgs[i].msg_hdr, flags);

		if (r < 0)
			return i > 0 ? (int)i : (int)r;
		msgs[i].msg_len = (unsigned int)r;
	}
	return (int)i;
}

static int recv_loop(int fd, struct mmsghdr *msgs, unsigned int n, int flags)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		/*
		 * recvmmsg(2) without MSG_WAITFORONE blocks for every message
		 * on a blocking socket; after the first, the loop only takes
		 * what is already queued, which is what callers want and what
		 * recvmmsg does with MSG_WAITFORONE.
		 */
		ssize_t r = dgb_recvmsg(fd, &msgs[i].msg_hdr,
					i > 0 ? flags | MSG_DONTWAIT : flags);

		if (r < 0)
			return i > 0 ? (int)i : (int)r;
		msgs[i].msg_len = (unsigned int)r;
	}
	return (int)i;
}

static uint64_t sum_len(const struct mmsghdr *msgs, int n)
{
	uint64_t total = 0;

	for (int i = 0; i < n; i++)
		total += msgs[i].msg_len;
	return total;
}

int dgb_sendmmsg(int fd, struct mmsghdr *msgs, unsigned int n, int flags)
{
	if (n > DGB_MAX_BATCH)
		n = DGB_MAX_BATCH;
#ifdef HAVE_SENDMMSG
	if (dgb_cap_usable(DGB_CAP_SENDMMSG)) {
		int r = sendmmsg(fd, msgs, n, flags);

		COUNT(tx_syscalls, 1);
		if (r >= 0) {
			COUNT(tx_datagrams, (uint64_t)r);
			COUNT(tx_bytes, sum_len(msgs, r));
			return r;
		}
		if (errno != ENOSYS)
			return fail(errno);
		dgb_caps_revoke(DGB_CAP_SENDMMSG);
	}
#endif
	COUNT(fallback_batches, 1);
	return send_loop(fd, msgs, n, flags);
}

int dgb_recvmmsg(int fd, struct mmsghdr *msgs, unsigned int n, int flags)
{
	if (n > DGB_MAX_BATCH)
		n = DGB_MAX_BATCH;
#ifdef HAVE_RECVMMSG
	if (dgb_cap_usable(DGB_CAP_RECVMMSG)) {
		int r = recvmmsg(fd, msgs, n, flags | MSG_WAITFORONE, NULL);

		COUNT(rx_syscalls, 1);
		if (r >= 0) {
			COUNT(rx_datagrams, (uint64_t)r);
			COUNT(rx_bytes, sum_len(msgs, r));
			return r;
		}
		if (errno != ENOSYS)
			return fail(errno);
		dgb_caps_revoke(DGB_CAP_RECVMMSG);
	}
#endif
	COUNT(fallback_batches, 1);
	return recv_loop(fd, msgs, n, flags);
}

static pthread_key_t batch_key;
static pthread_once_t batch_once = PTHREAD_ONCE_INIT;
static int batch_key_ok;
static _Thread_local struct dgb_batch *batch;

static void batch_key_init(void)
{
	batch_key_ok = pthread_key_create(&batch_key, free) == 0;
}

struct dgb_batch *dgb_batch_get(void)
{
	if (batch != NULL)
		return batch;
	pthread_once(&batch_once, batch_key_init);
	if (!batch_key_ok)
		return NULL;
	batch = calloc(1, sizeof(*batch));
	/* The key's destructor frees it when the thread exits. */
	if (batch != NULL && pthread_setspecific(batch_key, batch) != 0) {
		free(batch);
		batch = NULL;
	}
	return batch;
}
