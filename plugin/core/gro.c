/*
 * gro.c - the receive side of UDP GRO: trains split back into datagrams.
 *
 * Copyright 2026 The dgrambatch authors.
 * SPDX-License-Identifier: Apache-2.0
 *
 * See core.h for the contract.  Everything here runs under the socket's
 * lock (struct dgb_sock_rx), so the store needs no atomics of its own.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <linux/sock_diag.h>

#include "core.h"
#include "internal.h"
#include "probe/probe.h"

#ifndef SO_RXQ_OVFL
#define SO_RXQ_OVFL 40
#endif
#ifndef SO_PEEK_OFF
#define SO_PEEK_OFF 42
#endif

#ifndef SO_MEMINFO
#define SO_MEMINFO 55
#endif

/*
 * Room for the control messages of one receive: the module's (local
 * address, segment size, drop count) and those the program may have asked
 * for on the socket (timestamps, marks), which the kernel puts first.
 */
#define SLOT_CMSG_SPACE 512

/* SO_PEEK_OFF when off: a peek reads the head of the queue. */
#define PEEK_OFF_NONE (-1)

/* One buffer of the store and what was received into it. */
struct train {
	unsigned int len;  /* bytes */
	unsigned int seg;  /* bytes per datagram; the last may be shorter */
	unsigned int nseg; /* datagrams in all (a lone one, even empty, is 1) */
	unsigned int done; /* datagrams delivered */
	/* Read with MSG_PEEK: still at the head of the socket's queue. */
	int in_kernel;
	int ctrunc; /* MSG_CTRUNC as the kernel set it */
	socklen_t namelen;
	struct sockaddr_in6 name;
	size_t controllen;
	union {
		char buf[SLOT_CMSG_SPACE];
		struct cmsghdr align;
	} ctl;
};

struct dgb_gro_store {
	unsigned char *data; /* DGB_GRO_SLOTS buffers of DGB_GRO_SLOT_BYTES */
	struct train t[DGB_GRO_SLOTS];
	/*
	 * Trains with datagrams still to deliver, oldest first: t[first] up to
	 * t[first + kept - 1].  New receives start only when none is kept, so
	 * they always fill the store from t[0].
	 */
	unsigned int first, kept;
	/* Datagrams per receive lately, in sixteenths; picks how to read. */
	unsigned int avg16;
	/*
	 * The socket's SO_PEEK_OFF as the core left it: PEEK_OFF_NONE, or an
	 * offset the kernel moves on with every peek and back with every
	 * receive, as the core mirrors.  can_list: the socket takes it.
	 */
	int peek_off, can_list;
	/*
	 * An empty datagram was seen.  Once peeked, the kernel skips an empty
	 * datagram in every later peek at an offset, so a list may miss one
	 * that is queued: then only head peeks (offset off) are trusted to
	 * wait for data or to say the queue is empty.
	 */
	int empty_seen;
	/* The socket's drop count last seen (SO_RXQ_OVFL). */
	uint32_t drops;
	/*
	 * What the socket had before GRO went on, to put back at release
	 * (set_rxq_ovfl: the core turned it on), and which socket it was.
	 */
	int set_rxq_ovfl, old_peek_off;
	dev_t dev;
	ino_t ino;
	struct mmsghdr mh[DGB_GRO_SLOTS];
	struct iovec iov[DGB_GRO_SLOTS];
};

static unsigned char *slot_data(struct dgb_gro_store *s, unsigned int i)
{
	return s->data + (size_t)i * DGB_GRO_SLOT_BYTES;
}

/* msghdr receiving into buffer i of the store, with room for all of a train. */
static void slot_msg(struct dgb_gro_store *s, unsigned int i, struct msghdr *mh)
{
	s->iov[i].iov_base = slot_data(s, i);
	s->iov[i].iov_len = DGB_GRO_SLOT_BYTES;
	memset(mh, 0, sizeof(*mh));
	mh->msg_name = &s->t[i].name;
	mh->msg_namelen = sizeof(s->t[i].name);
	mh->msg_iov = &s->iov[i];
	mh->msg_iovlen = 1;
	mh->msg_control = s->t[i].ctl.buf;
	mh->msg_controllen = sizeof(s->t[i].ctl.buf);
}

/*
 * Whether control message c lies whole inside mh's control buffer.
 * CMSG_NXTHDR checks this of every message but the first, which
 * CMSG_FIRSTHDR hands out whatever its length says; a length past the
 * buffer (or near SIZE_MAX, where CMSG_SPACE wraps) must not be followed.
 */
static int cmsg_whole(const struct msghdr *mh, const struct cmsghdr *c)
{
	size_t at = (size_t)((const char *)c - (const char *)mh->msg_control);

	return c->cmsg_len >= CMSG_LEN(0) && at <= mh->msg_controllen &&
	       c->cmsg_len <= mh->msg_controllen - at;
}

/* The segment size the kernel gave for a train (UDP_GRO), 0 for none. */
static unsigned int gro_size(const struct msghdr *mh)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c != NULL && cmsg_whole(mh, c);
	     c = CMSG_NXTHDR((struct msghdr *)mh, c)) {
		int v;

		if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO &&
		    c->cmsg_len >= CMSG_LEN(sizeof(v))) {
			memcpy(&v, CMSG_DATA(c), sizeof(v));
			return v > 0 ? (unsigned int)v : 0;
		}
	}
	return 0;
}

static unsigned int segments(unsigned int len, unsigned int seg)
{
	return seg > 0 && seg < len ? (len + seg - 1) / seg : 1;
}

/* Count what a drop counter (SO_RXQ_OVFL) on a received message adds. */
static void note_drops(struct dgb_gro_store *s, const struct msghdr *mh)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c != NULL && cmsg_whole(mh, c);
	     c = CMSG_NXTHDR((struct msghdr *)mh, c)) {
		uint32_t v;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SO_RXQ_OVFL ||
		    c->cmsg_len < CMSG_LEN(sizeof(v)))
			continue;
		memcpy(&v, CMSG_DATA(c), sizeof(v));
		/* The count only grows; it wraps at 2^32. */
		if (v != s->drops) {
			dgb_count(DGB_RX_KERNEL_DROPS, (uint32_t)(v - s->drops));
			s->drops = v;
		}
	}
}

/* Record what buffer i received: len bytes, with mh's sender and controls. */
static void received(struct dgb_gro_store *s, unsigned int i, const struct msghdr *mh,
		     unsigned int len)
{
	struct train *t = &s->t[i];

	t->len = len;
	t->seg = gro_size(mh);
	t->nseg = segments(len, t->seg);
	if (t->nseg == 1)
		t->seg = len;
	t->done = 0;
	t->in_kernel = 0;
	t->ctrunc = mh->msg_flags & MSG_CTRUNC;
	/* The segment size may be among what the kernel had to leave out. */
	if (t->ctrunc)
		dgb_count(DGB_RX_TRUNCATED, 1);
	t->namelen = mh->msg_name != NULL ? mh->msg_namelen : 0;
	t->controllen = mh->msg_controllen;
	if (len == 0)
		s->empty_seen = 1;
	note_drops(s, mh);
	/* A buffer of 64 KB holds any datagram: the kernel should never cut one. */
	if (mh->msg_flags & MSG_TRUNC)
		dgb_count(DGB_RX_TRUNCATED, 1);
	if (t->nseg > 1) {
		dgb_count(DGB_GRO_RECEIVES, 1);
		dgb_count(DGB_GRO_SEGMENTS, t->nseg);
	}
	s->avg16 = (s->avg16 * 3 + 16 * t->nseg) / 4;
}

static size_t copy_to_iov(const struct iovec *iov, size_t iovlen, const unsigned char *p,
			  size_t len)
{
	size_t done = 0;

	for (size_t i = 0; i < iovlen && done < len; i++) {
		size_t k = iov[i].iov_len < len - done ? iov[i].iov_len : len - done;

		if (k > 0)
			memcpy(iov[i].iov_base, p + done, k);
		done += k;
	}
	return done;
}

/* The local-address messages, which the caller's buffer must hold first. */
static int is_pktinfo(const struct cmsghdr *c)
{
	return (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) ||
	       (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO);
}

/*
 * The control messages of a datagram of train t, as the kernel would have
 * given them for it alone: all but the train's segment size and the drop
 * count the core asked for, each whole or not at all (MSG_CTRUNC).  The
 * local address goes first, so that messages the program asked for on the
 * socket (timestamps) cannot crowd it out of the module's own buffer.
 */
static void copy_cmsgs(const struct train *t, struct msghdr *h)
{
	struct msghdr from = { .msg_control = (void *)t->ctl.buf, .msg_controllen = t->controllen };
	size_t room = h->msg_control != NULL ? h->msg_controllen : 0, used = 0;

	for (int pass = 0; pass < 2; pass++) {
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&from); c != NULL;
		     c = CMSG_NXTHDR(&from, c)) {
			size_t space;

			if (!cmsg_whole(&from, c))
				break;
			if ((c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO) ||
			    (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL) ||
			    is_pktinfo(c) != (pass == 0))
				continue;
			space = CMSG_SPACE(c->cmsg_len - CMSG_LEN(0));
			if (used + space > room) {
				h->msg_flags |= MSG_CTRUNC;
				continue;
			}
			memcpy((char *)h->msg_control + used, c, c->cmsg_len);
			used += space;
		}
	}
	h->msg_controllen = used;
}

/*
 * Datagram t->done of buffer i into the caller's message m, advanced past
 * unless peeking.  Returns the bytes copied.
 */
static unsigned int deliver(struct dgb_gro_store *s, unsigned int i, struct mmsghdr *m,
			    int peek)
{
	struct train *t = &s->t[i];
	struct msghdr *h = &m->msg_hdr;
	size_t off = (size_t)t->done * t->seg;
	size_t len = t->len - off < t->seg ? t->len - off : t->seg;
	size_t copied = copy_to_iov(h->msg_iov, h->msg_iovlen, slot_data(s, i) + off, len);

	h->msg_flags = t->ctrunc | (copied < len ? MSG_TRUNC : 0);
	if (h->msg_name != NULL) {
		memcpy(h->msg_name, &t->name, h->msg_namelen < t->namelen ? h->msg_namelen
									     : t->namelen);
		h->msg_namelen = t->namelen;
	}
	copy_cmsgs(t, h);
	m->msg_len = (unsigned int)copied;
	if (!peek)
		t->done++;
	return (unsigned int)copied;
}

/* The system calls one receive made and the bytes it delivered. */
struct tally {
	unsigned int calls;
	uint64_t bytes;
	/* The error of a removal that failed (drop_head), else 0. */
	int err;
};

/* How often a removal is tried again at once (see drop_head). */
#define DROP_TRIES 8

/*
 * Remove the train at the head of the socket's queue, read before with
 * MSG_PEEK (offset off) and now delivered, without copying it again.
 * Returns 1 when it is off the socket (or was already: EAGAIN).
 *
 * The receive fails without taking anything when an ICMP error is pending
 * on the socket (the kernel reports it first, once) or a signal comes; it
 * is then made again.  Should it still fail, the train stays kept, all
 * delivered, and the next call removes it before anything else: a train
 * left on the socket would otherwise be delivered twice.
 */
static int drop_head(int fd, struct tally *tl)
{
	for (int tries = 0; tries < DROP_TRIES; tries++) {
		struct msghdr mh;
		ssize_t r;

		memset(&mh, 0, sizeof(mh));
		r = dgb_sys_result(recvmsg(fd, &mh, MSG_TRUNC | MSG_DONTWAIT));
		tl->calls++;
		if (r >= 0 || r == -EAGAIN || r == -EWOULDBLOCK)
			return 1;
		tl->err = dgb_fail((int)-r);
		if (r != -EINTR && dgb_errclass((int)-r) != DGB_ERR_ICMP)
			return 0;
	}
	return 0;
}

/* Deliver what earlier calls kept, oldest first. */
static unsigned int deliver_kept(int fd, struct dgb_gro_store *s, struct mmsghdr *out,
				 unsigned int n, int peek, struct tally *tl)
{
	unsigned int got = 0;

	while (s->kept > 0 && got < n) {
		struct train *t = &s->t[s->first];

		while (t->done < t->nseg && got < n) {
			tl->bytes += deliver(s, s->first, &out[got++], peek);
			if (peek)
				return got;
		}
		if (t->done < t->nseg || (t->in_kernel && !drop_head(fd, tl)))
			break;
		s->first++;
		s->kept--;
	}
	if (s->kept == 0)
		s->first = 0;
	if (got > 0)
		dgb_count(DGB_GRO_CARRIED, got);
	return got;
}

/* Set the socket's SO_PEEK_OFF to v unless it is v already. */
static int set_peek_off(int fd, struct dgb_gro_store *s, int v, struct tally *tl)
{
	if (s->peek_off == v)
		return 0;
	tl->calls++;
	if (setsockopt(fd, SOL_SOCKET, SO_PEEK_OFF, &v, sizeof(v)) != 0)
		return -errno;
	s->peek_off = v;
	return 0;
}

/*
 * Read the train at the head of the queue with MSG_PEEK into buffer 0 and
 * deliver up to room of its datagrams.  Where all of it fits it is removed
 * from the socket; else it stays there and the store keeps it.  Returns
 * the datagrams delivered or -errno.
 */
static int take_head(int fd, struct dgb_gro_store *s, struct mmsghdr *out, unsigned int room,
		     int flags, int peek, struct tally *tl)
{
	struct msghdr mh;
	struct train *t = &s->t[0];
	unsigned int got = 0;
	ssize_t r;

	if ((r = set_peek_off(fd, s, PEEK_OFF_NONE, tl)) < 0)
		return (int)r;
	slot_msg(s, 0, &mh);
	r = dgb_sys_result(recvmsg(fd, &mh, flags | MSG_PEEK));
	tl->calls++;
	if (r < 0)
		return (int)r;
	received(s, 0, &mh, (unsigned int)r);
	t->in_kernel = 1;
	if (!peek && t->nseg <= room) {
		while (t->done < t->nseg)
			tl->bytes += deliver(s, 0, &out[got++], 0);
		if (!drop_head(fd, tl)) {
			s->first = 0;
			s->kept = 1;
		}
		return (int)got;
	}
	s->first = 0;
	s->kept = 1;
	do
		tl->bytes += deliver(s, 0, &out[got++], peek);
	while (!peek && got < room);
	return (int)got;
}

/*
 * List up to k datagrams or trains at the head of the queue without
 * copying them (MSG_PEEK | MSG_TRUNC from peek offset 0), each one's
 * datagram count in nseg.  Returns how many or -errno.
 */
static int list_queue(int fd, struct dgb_gro_store *s, unsigned int k, int flags,
		      unsigned int *nseg, struct tally *tl)
{
	int r;

	if ((r = set_peek_off(fd, s, 0, tl)) < 0)
		return r;
	for (unsigned int i = 0; i < k; i++) {
		struct msghdr *mh = &s->mh[i].msg_hdr;

		memset(mh, 0, sizeof(*mh));
		mh->msg_control = s->t[i].ctl.buf;
		mh->msg_controllen = sizeof(s->t[i].ctl.buf);
	}
	r = (int)dgb_sys_result(
		recvmmsg(fd, s->mh, k, flags | MSG_PEEK | MSG_TRUNC | MSG_WAITFORONE, NULL));
	tl->calls++;
	for (int i = 0; i < r; i++) {
		nseg[i] = segments(s->mh[i].msg_len, gro_size(&s->mh[i].msg_hdr));
		s->peek_off += (int)s->mh[i].msg_len;
		if (s->mh[i].msg_len == 0)
			s->empty_seen = 1;
	}
	return r;
}

/*
 * List the queue, take the whole trains that fit room in one recvmmsg, and
 * deliver them; a train that fits only in part is then read by take_head.
 * *more is set when the list was full, so the queue may hold more.
 * Returns the datagrams delivered or -errno.
 *
 * The receive takes what is queued, not what was listed, if something
 * else read the socket meanwhile or the list missed an empty datagram; a
 * missed one only takes the place of a listed train, so what is taken
 * still fits.  Each buffer is parsed for what it holds.
 */
static int take_listed(int fd, struct dgb_gro_store *s, struct mmsghdr *out, unsigned int room,
		       unsigned int k, int flags, int *more, struct tally *tl)
{
	unsigned int nseg[DGB_GRO_SLOTS], m = 0, fit = 0, got = 0;
	int w = list_queue(fd, s, k, flags, nseg, tl), c;

	*more = 0;
	if (w <= 0)
		return w;
	while (m < (unsigned int)w && fit + nseg[m] <= room)
		fit += nseg[m++];
	if (m == 0)
		return take_head(fd, s, out, room, MSG_DONTWAIT, 0, tl);
	for (unsigned int i = 0; i < m; i++)
		slot_msg(s, i, &s->mh[i].msg_hdr);
	c = (int)dgb_sys_result(recvmmsg(fd, s->mh, m, MSG_DONTWAIT, NULL));
	tl->calls++;
	if (c < 0)
		return c;
	for (int j = 0; j < c; j++) {
		struct train *t = &s->t[j];

		received(s, (unsigned int)j, &s->mh[j].msg_hdr, s->mh[j].msg_len);
		if (s->peek_off > 0)
			s->peek_off = (int)s->mh[j].msg_len < s->peek_off
					      ? s->peek_off - (int)s->mh[j].msg_len
					      : 0;
		while (t->done < t->nseg && got < room)
			tl->bytes += deliver(s, (unsigned int)j, &out[got++], 0);
		/*
		 * The list and the receive disagree only if something else read
		 * the socket in between: keep what does not fit, in order.
		 */
		if (t->done < t->nseg && s->kept == 0) {
			s->first = (unsigned int)j;
			s->kept = (unsigned int)(c - j);
		}
	}
	if (s->kept == 0 && m < (unsigned int)w && got < room) {
		int r = take_head(fd, s, out + got, room - got, MSG_DONTWAIT, 0, tl);

		if (r > 0)
			got += (unsigned int)r;
		else if (r < 0)
			/* The call succeeds with what it has; an ICMP error still counts. */
			(void)dgb_fail(-r);
		return (int)got;
	}
	*more = (unsigned int)w == k && got < room;
	return (int)got;
}

static int gro_recv(int fd, struct dgb_gro_store *s, struct mmsghdr *msgs, unsigned int n,
		    int flags)
{
	int peek = (flags & MSG_PEEK) != 0, r = 0, more = 1;
	struct tally tl = { 0, 0, 0 };
	unsigned int got;

	if (n > DGB_MAX_BATCH)
		n = DGB_MAX_BATCH;
	if (peek)
		n = 1;
	flags &= ~MSG_PEEK;
	got = deliver_kept(fd, s, msgs, n, peek, &tl);
	while (got < n && s->kept == 0 && more) {
		unsigned int room = n - got;
		int wait = got == 0 ? flags : flags | MSG_DONTWAIT;

		/*
		 * Trains as long as half the room or more are read one at a
		 * time; shorter ones and lone datagrams are listed first and
		 * taken several at once.
		 */
		if (peek || room == 1 || !s->can_list || s->avg16 * 2 >= room * 16 ||
		    (s->empty_seen && got == 0) || !dgb_cap_usable(DGB_CAP_RECVMMSG)) {
			r = take_head(fd, s, msgs + got, room, wait, peek, &tl);
		} else {
			/*
			 * Each listed entry is a datagram at least: listing more than
			 * room would leave the peek offset off zero, and cost a
			 * setsockopt the next time.
			 */
			unsigned int k = room * 16 / s->avg16 + 1;

			if (k > room)
				k = room;
			r = take_listed(fd, s, msgs + got, room, k < DGB_GRO_SLOTS ? k : DGB_GRO_SLOTS,
					wait, &more, &tl);
			/* A list that missed an empty datagram must not end the call. */
			if (r == -EAGAIN && s->empty_seen)
				r = take_head(fd, s, msgs + got, room, MSG_DONTWAIT, 0, &tl);
		}
		if (r <= 0)
			break;
		got += (unsigned int)r;
		if (peek)
			break;
	}
	dgb_count_io(DGB_DIR_RX, tl.calls, got, tl.bytes);
	/*
	 * An error after some datagrams ends the call without being reported,
	 * as with recvmmsg(2); the kernel has cleared it, so an ICMP error is
	 * counted here or never.
	 */
	if (r < 0 && got > 0)
		(void)dgb_fail(-r);
	if (got == 0 && r < 0)
		return dgb_fail(-r);
	/* Nothing delivered, and a delivered train could not be removed. */
	if (got == 0 && s->kept > 0 && tl.err < 0)
		return tl.err;
	return (int)got;
}

static size_t kept_bytes(const struct dgb_gro_store *s)
{
	size_t sum = 0;

	for (unsigned int i = s->first; i < s->first + s->kept; i++)
		if (s->t[i].done < s->t[i].nseg)
			sum += s->t[i].len - (size_t)s->t[i].done * s->t[i].seg;
	return sum;
}

/*
 * Once decided off, receives take no lock.  While undecided they do: GRO
 * goes on under the lock, and a receive into the caller's own buffers that
 * was under way meanwhile would get a train whole.
 */
int dgb_sock_recv(int fd, struct mmsghdr *msgs, unsigned int n, int flags,
		  struct dgb_sock_rx *rx)
{
	int r;

	if (rx == NULL ||
	    atomic_load_explicit(&rx->gro, memory_order_acquire) == DGB_GRO_OFF)
		return dgb_sock_recvmmsg(fd, msgs, n, flags);
	pthread_mutex_lock(&rx->lock);
	if (rx->store == NULL) {
		r = dgb_sock_recvmmsg(fd, msgs, n, flags);
	} else {
		r = gro_recv(fd, rx->store, msgs, n, flags);
		atomic_store_explicit(&rx->pending, kept_bytes(rx->store),
				      memory_order_relaxed);
	}
	pthread_mutex_unlock(&rx->lock);
	return r;
}

static int get_int(int fd, int level, int name, int dflt)
{
	int v;
	socklen_t len = sizeof(v);

	return getsockopt(fd, level, name, &v, &len) == 0 ? v : dflt;
}

/* The socket's drop count (SO_MEMINFO), what SO_RXQ_OVFL counts from. */
static uint32_t socket_drops(int fd)
{
	uint32_t mem[SK_MEMINFO_VARS];
	socklen_t len = sizeof(mem);

	if (getsockopt(fd, SOL_SOCKET, SO_MEMINFO, mem, &len) != 0 ||
	    len <= SK_MEMINFO_DROPS * sizeof(uint32_t))
		return 0;
	return mem[SK_MEMINFO_DROPS];
}

/*
 * Allocate the store and set the socket up for it; rx's lock is held.  A
 * store that shares its socket with another (a BIO_dup_chain() copy) reads
 * one train at a time and changes no option: the other owns them.
 */
static int start(struct dgb_sock_rx *rx, int fd, int shared)
{
	struct dgb_gro_store *s = calloc(1, sizeof(*s));
	int one = 1, zero = 0;
	struct stat st;

	if (s == NULL)
		return -ENOMEM;
	/* Not calloc: pages the kernel never writes stay unbacked. */
	s->data = malloc((size_t)DGB_GRO_SLOTS * DGB_GRO_SLOT_BYTES);
	if (s->data == NULL) {
		free(s);
		return -ENOMEM;
	}
	s->avg16 = 16;
	if (fstat(fd, &st) == 0) {
		s->dev = st.st_dev;
		s->ino = st.st_ino;
	}
	s->drops = socket_drops(fd);
	s->set_rxq_ovfl = !shared && get_int(fd, SOL_SOCKET, SO_RXQ_OVFL, 0) == 0 &&
			  setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof(one)) == 0;
	s->old_peek_off = get_int(fd, SOL_SOCKET, SO_PEEK_OFF, PEEK_OFF_NONE);
	s->can_list = !shared && s->old_peek_off == PEEK_OFF_NONE &&
		      setsockopt(fd, SOL_SOCKET, SO_PEEK_OFF, &zero, sizeof(zero)) == 0;
	s->peek_off = s->can_list ? 0 : s->old_peek_off;
	rx->store = s;
	atomic_store_explicit(&rx->gro, DGB_GRO_ON, memory_order_release);
	return 0;
}

void dgb_sock_rx_init(struct dgb_sock_rx *rx)
{
	memset(rx, 0, sizeof(*rx));
	pthread_mutex_init(&rx->lock, NULL);
	atomic_init(&rx->gro, DGB_GRO_UNDECIDED);
	atomic_init(&rx->pending, 0);
}

void dgb_sock_rx_destroy(struct dgb_sock_rx *rx)
{
	pthread_mutex_destroy(&rx->lock);
}

int dgb_sock_rx_attach(struct dgb_sock_rx *rx, int fd, int shared)
{
	int r = 0;

	pthread_mutex_lock(&rx->lock);
	if (fd >= 0 && rx->store == NULL && get_int(fd, SOL_UDP, UDP_GRO, 0) > 0)
		r = start(rx, fd, shared);
	pthread_mutex_unlock(&rx->lock);
	return r;
}

int dgb_sock_rx_enable(struct dgb_sock_rx *rx, int fd)
{
	int one = 1, r = 0;

	pthread_mutex_lock(&rx->lock);
	if (rx->store == NULL && get_int(fd, SOL_UDP, UDP_GRO, 0) > 0) {
		/* The program turned it on: it stays on at release. */
		r = start(rx, fd, 0);
	} else if (rx->store == NULL) {
		if (setsockopt(fd, SOL_UDP, UDP_GRO, &one, sizeof(one)) != 0) {
			r = -errno;
		} else if ((r = start(rx, fd, 0)) < 0) {
			int zero = 0;

			(void)setsockopt(fd, SOL_UDP, UDP_GRO, &zero, sizeof(zero));
		} else {
			rx->enabled_here = 1;
		}
	}
	pthread_mutex_unlock(&rx->lock);
	return r;
}

void dgb_sock_rx_release(struct dgb_sock_rx *rx, int fd, int restore)
{
	struct dgb_gro_store *s;
	struct stat st;

	pthread_mutex_lock(&rx->lock);
	s = rx->store;
	/* Only the socket the store was made for: the number may be reused. */
	if (s != NULL && fd >= 0 && (fstat(fd, &st) != 0 || st.st_dev != s->dev ||
				     st.st_ino != s->ino))
		fd = -1;
	/*
	 * A train partly delivered is still queued whole: left there, its
	 * delivered datagrams would reach the socket's next reader again (one
	 * sharing it, even where this BIO closes it).  Its others go with the
	 * BIO, as any BIO's buffered data does.
	 */
	if (s != NULL && fd >= 0 && s->kept > 0 && s->t[s->first].in_kernel &&
	    s->t[s->first].done > 0) {
		struct tally tl = { 0, 0, 0 };

		(void)drop_head(fd, &tl);
	}
	if (s != NULL && restore && fd >= 0) {
		int zero = 0;

		if (rx->enabled_here)
			(void)setsockopt(fd, SOL_UDP, UDP_GRO, &zero, sizeof(zero));
		if (s->set_rxq_ovfl)
			(void)setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &zero, sizeof(zero));
		if (s->can_list)
			(void)setsockopt(fd, SOL_SOCKET, SO_PEEK_OFF, &s->old_peek_off,
					 sizeof(s->old_peek_off));
	}
	if (s != NULL) {
		free(s->data);
		free(s);
	}
	rx->store = NULL;
	rx->enabled_here = 0;
	atomic_store_explicit(&rx->pending, 0, memory_order_relaxed);
	atomic_store_explicit(&rx->gro, DGB_GRO_UNDECIDED, memory_order_release);
	pthread_mutex_unlock(&rx->lock);
}

size_t dgb_sock_rx_pending(struct dgb_sock_rx *rx)
{
	return atomic_load_explicit(&rx->pending, memory_order_relaxed);
}

#ifdef DGB_FUZZ
/*
 * For the fuzz harnesses (fuzz/; scripts/fuzz.sh defines DGB_FUZZ), never
 * called by the module: one receive into buffer 0 of a store of its own,
 * as the kernel described it in km (len bytes at data; km's sender,
 * control messages and flags), split into out as the receive path splits
 * kept trains (deliver_kept), one call of up to n after another.  Returns
 * the datagrams delivered in all, or -ENOMEM.
 */
int dgb_gro_split(const struct msghdr *km, const void *data, unsigned int len,
		  struct mmsghdr *out, unsigned int n, int peek)
{
	struct dgb_gro_store *s = calloc(1, sizeof(*s));
	struct tally tl = { 0, 0, 0 };
	struct msghdr mh;
	unsigned int got = 0, k;

	if (s == NULL || (s->data = malloc(DGB_GRO_SLOT_BYTES)) == NULL) {
		free(s);
		return -ENOMEM;
	}
	if (len > DGB_GRO_SLOT_BYTES)
		len = DGB_GRO_SLOT_BYTES;
	memcpy(slot_data(s, 0), data, len);
	slot_msg(s, 0, &mh);
	/* As the kernel leaves them: no sender is a name of length 0. */
	mh.msg_namelen = km->msg_name == NULL ? 0
		       : km->msg_namelen < mh.msg_namelen ? km->msg_namelen : mh.msg_namelen;
	if (mh.msg_namelen > 0)
		memcpy(mh.msg_name, km->msg_name, mh.msg_namelen);
	mh.msg_controllen = km->msg_control == NULL ? 0
			  : km->msg_controllen < mh.msg_controllen ? km->msg_controllen
								    : mh.msg_controllen;
	if (mh.msg_controllen > 0)
		memcpy(mh.msg_control, km->msg_control, mh.msg_controllen);
	mh.msg_flags = km->msg_flags;
	received(s, 0, &mh, len);
	s->kept = 1;
	do {
		k = deliver_kept(-1, s, out + got, n - got, peek, &tl);
		got += k;
	} while (k > 0 && !peek && got < n);
	free(s->data);
	free(s);
	return (int)got;
}
#endif /* DGB_FUZZ */
