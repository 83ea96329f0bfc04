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
#include "internal.h"
#include "probe/probe.h"

/*
 * Per-thread counters.  A thread's block is written by that thread alone
 * (relaxed loads and stores, no read-modify-write), read by dgb_counter()
 * under stats_lock, and folded into `retired` when the thread exits.
 *
 * The thread-local pointers here use the default TLS model.  The
 * initial-exec model would spare each access a call to __tls_get_addr, but
 * in a module that is dlopen'ed it draws on glibc's small static-TLS
 * surplus, and once that is used up dlopen fails.  A counted call makes one
 * access (dgb_count_io); measured with callgrind, initial-exec would save 14
 * instructions of it, about 0.5% of a loopback write and read.
 */
struct thread_stats {
	atomic_uint_least64_t v[DGB_NCOUNTERS];
	struct thread_stats *prev, *next;
};

static pthread_mutex_t stats_lock = PTHREAD_MUTEX_INITIALIZER;
static struct thread_stats *stats_live;
static uint64_t stats_retired[DGB_NCOUNTERS];
/* Counts from threads that could not get a block of their own. */
static atomic_uint_least64_t stats_spill[DGB_NCOUNTERS];
static pthread_key_t stats_key;
static pthread_once_t stats_once = PTHREAD_ONCE_INIT;
static int stats_key_ok;
static __thread struct thread_stats *my_stats;

static void stats_exit(void *arg)
{
	struct thread_stats *t = arg;

	/*
	 * Runs in the exiting thread; another key's destructor may still count
	 * after this one, and then gets a new block, which the next round of
	 * destructors retires in turn.
	 */
	my_stats = NULL;
	pthread_mutex_lock(&stats_lock);
	for (int i = 0; i < DGB_NCOUNTERS; i++)
		stats_retired[i] += atomic_load_explicit(&t->v[i], memory_order_relaxed);
	if (t->prev != NULL)
		t->prev->next = t->next;
	else
		stats_live = t->next;
	if (t->next != NULL)
		t->next->prev = t->prev;
	pthread_mutex_unlock(&stats_lock);
	free(t);
}

/*
 * The counters are the process's own: a child of fork() starts from zero,
 * with only the forking thread's block, so that what each process of a
 * forking server reports is what it moved.  The lock is held across
 * fork(), so the child never inherits it taken by a thread it does not
 * have (reading the counters there would wait forever).
 */
static void stats_fork_prepare(void)
{
	pthread_mutex_lock(&stats_lock);
}

static void stats_fork_parent(void)
{
	pthread_mutex_unlock(&stats_lock);
}

static void stats_fork_child(void)
{
	struct thread_stats *t = stats_live, *next;

	for (; t != NULL; t = next) {
		next = t->next;
		if (t != my_stats)
			free(t);
	}
	stats_live = my_stats;
	if (my_stats != NULL) {
		my_stats->prev = my_stats->next = NULL;
		for (int i = 0; i < DGB_NCOUNTERS; i++)
			atomic_store_explicit(&my_stats->v[i], 0, memory_order_relaxed);
	}
	for (int i = 0; i < DGB_NCOUNTERS; i++) {
		stats_retired[i] = 0;
		atomic_store_explicit(&stats_spill[i], 0, memory_order_relaxed);
	}
	pthread_mutex_unlock(&stats_lock);
}

static void stats_key_init(void)
{
	stats_key_ok = pthread_key_create(&stats_key, stats_exit) == 0 &&
		       pthread_atfork(stats_fork_prepare, stats_fork_parent, stats_fork_child) == 0;
}

/*
 * This thread's block, made on its first count.  The allocation may change
 * errno even when it succeeds (glibc leaves ENOMEM behind when a new arena
 * cannot be mapped and it falls back to another), so errno is put back:
 * the callers read it after counting.
 */
static struct thread_stats *stats_new(void)
{
	struct thread_stats *t;
	int saved = errno;

	pthread_once(&stats_once, stats_key_init);
	if (!stats_key_ok || (t = calloc(1, sizeof(*t))) == NULL) {
		errno = saved;
		return NULL;
	}
	pthread_mutex_lock(&stats_lock);
	t->next = stats_live;
	if (stats_live != NULL)
		stats_live->prev = t;
	stats_live = t;
	pthread_mutex_unlock(&stats_lock);
	if (pthread_setspecific(stats_key, t) != 0) {
		stats_exit(t);
		t = NULL;
	}
	my_stats = t;
	errno = saved;
	return t;
}

static struct thread_stats *stats_self(void)
{
	struct thread_stats *t = my_stats;

	return t != NULL ? t : stats_new();
}

/* Add v to counter c of block t (NULL: the shared spill counters). */
static void add(struct thread_stats *t, enum dgb_counter c, uint64_t v)
{
	if (t == NULL) {
		atomic_fetch_add_explicit(&stats_spill[c], v, memory_order_relaxed);
		return;
	}
	atomic_store_explicit(&t->v[c], atomic_load_explicit(&t->v[c], memory_order_relaxed) + v,
			      memory_order_relaxed);
}

void dgb_count(enum dgb_counter c, uint64_t v)
{
	add(stats_self(), c, v);
}

/* The counters of each direction of traffic. */
static const struct {
	enum dgb_counter syscalls, datagrams, bytes;
} dir_counters[] = {
	[DGB_DIR_TX] = { DGB_TX_SYSCALLS, DGB_TX_DATAGRAMS, DGB_TX_BYTES },
	[DGB_DIR_RX] = { DGB_RX_SYSCALLS, DGB_RX_DATAGRAMS, DGB_RX_BYTES },
};

/* The thread's block is looked up once: one thread-local access per call. */
void dgb_count_io(enum dgb_dir dir, uint64_t calls, uint64_t n, uint64_t bytes)
{
	struct thread_stats *t = stats_self();

	add(t, dir_counters[dir].syscalls, calls);
	add(t, dir_counters[dir].datagrams, n);
	add(t, dir_counters[dir].bytes, bytes);
}

uint64_t dgb_counter(enum dgb_counter c)
{
	uint64_t sum;

	pthread_mutex_lock(&stats_lock);
	sum = stats_retired[c] + atomic_load_explicit(&stats_spill[c], memory_order_relaxed);
	for (struct thread_stats *t = stats_live; t != NULL; t = t->next)
		sum += atomic_load_explicit(&t->v[c], memory_order_relaxed);
	pthread_mutex_unlock(&stats_lock);
	return sum;
}

/*
 * The one table of errno values the module treats specially; anything not
 * listed is fatal, never retried and raised as ERR_LIB_SYS.
 */
static const struct errinfo {
	int err;
	enum dgb_errclass cls;
	/* BIO_read/BIO_write set a retry flag (OpenSSL's datagram BIO's list). */
	unsigned char bio_retry;
	/* The batched calls raise BIO_R_NON_FATAL instead of ERR_LIB_SYS. */
	unsigned char non_fatal;
} errtab[] = {
	{ EAGAIN, DGB_ERR_TRANSIENT, 1, 0 },
#if EWOULDBLOCK != EAGAIN
	{ EWOULDBLOCK, DGB_ERR_TRANSIENT, 1, 0 },
#endif
	{ EINTR, DGB_ERR_TRANSIENT, 1, 0 },
	/* The interface queue was full for a moment. */
	{ ENOBUFS, DGB_ERR_TRANSIENT, 0, 1 },
	{ ECONNREFUSED, DGB_ERR_ICMP, 0, 1 },
	{ EHOSTUNREACH, DGB_ERR_ICMP, 0, 1 },
	{ ENETUNREACH, DGB_ERR_ICMP, 0, 1 },
	{ EHOSTDOWN, DGB_ERR_ICMP, 0, 1 },
	{ ENETDOWN, DGB_ERR_ICMP, 0, 1 },
	/* Protocol unreachable (ICMP type 3, code 2). */
	{ ENOPROTOOPT, DGB_ERR_ICMP, 0, 1 },
	/* A parameter problem (ICMP type 12); OpenSSL already retries it. */
	{ EPROTO, DGB_ERR_ICMP, 1, 1 },
	/*
	 * Fragmentation needed (ICMP type 3, code 4) or packet too big
	 * (ICMPv6 type 2): the kernel lowers the path MTU and queues EMSGSIZE
	 * on a connected socket, for the next call, whatever it is.  A datagram
	 * larger than UDP carries fails with it too, again at once: the send
	 * paths return that one (see dgb_icmp_retry()).
	 */
	{ EMSGSIZE, DGB_ERR_ICMP, 0, 1 },
	/* Never seen on a UDP socket; retried because OpenSSL retries them. */
	{ EINPROGRESS, DGB_ERR_FATAL, 1, 0 },
	{ EALREADY, DGB_ERR_FATAL, 1, 0 },
};

static const struct errinfo *errinfo(int err)
{
	for (size_t i = 0; i < sizeof(errtab) / sizeof(errtab[0]); i++)
		if (errtab[i].err == err)
			return &errtab[i];
	return NULL;
}

/*
 * Whether a send of len bytes that failed with err (after an earlier try
 * of the same call failed with prev, or 0) is worth making again: an ICMP
 * error is absorbed.  EMSGSIZE is one too (a forged "fragmentation needed"
 * queues it, and a flood of them can meet two sends in a row), except
 * again for a datagram larger than UDP carries, which no path takes.
 */
int dgb_icmp_retry(int err, int prev, size_t len)
{
	return dgb_errclass(err) == DGB_ERR_ICMP &&
	       !(err == EMSGSIZE && prev == EMSGSIZE && len > DGB_UDP_MAX_PAYLOAD);
}

enum dgb_errclass dgb_errclass(int err)
{
	const struct errinfo *e = errinfo(err);

	return e != NULL ? e->cls : DGB_ERR_FATAL;
}

int dgb_err_bio_retry(int err)
{
	const struct errinfo *e = errinfo(err);

	return e != NULL && e->bio_retry;
}

int dgb_err_raise_non_fatal(int err)
{
	const struct errinfo *e = errinfo(err);

	return e != NULL && e->non_fatal;
}

int dgb_fail(int err)
{
	if (dgb_errclass(err) == DGB_ERR_ICMP)
		dgb_count(DGB_ICMP_ERRORS, 1);
	return -err;
}

/* Count one single-datagram call; r is its dgb_sys_result(). */
static ssize_t counted(enum dgb_dir dir, ssize_t r)
{
	if (r < 0) {
		dgb_count(dir_counters[dir].syscalls, 1);
		return dgb_fail((int)-r);
	}
	dgb_count_io(dir, 1, 1, (uint64_t)r);
	return r;
}

/*
 * One datagram out or in.  Without control messages and in one piece it
 * goes by sendto/recvfrom, which spare the kernel copying and parsing a
 * msghdr (OpenSSL's own BIO uses them too), else by sendmsg/recvmsg.
 */
static ssize_t send1(int fd, const struct msghdr *m, int flags)
{
	if (m->msg_controllen == 0 && m->msg_iovlen == 1)
		return dgb_sys_result(sendto(fd, m->msg_iov[0].iov_base, m->msg_iov[0].iov_len, flags,
					 m->msg_name, m->msg_namelen));
	return dgb_sys_result(sendmsg(fd, m, flags));
}

static ssize_t recv1(int fd, struct msghdr *m, int flags)
{
	if (m->msg_controllen == 0 && m->msg_iovlen == 1) {
		ssize_t r = dgb_sys_result(recvfrom(fd, m->msg_iov[0].iov_base, m->msg_iov[0].iov_len,
						flags, m->msg_name,
						m->msg_name != NULL ? &m->msg_namelen : NULL));

		m->msg_flags = 0;
		return r;
	}
	return dgb_sys_result(recvmsg(fd, m, flags));
}

ssize_t dgb_sock_sendmsg(int fd, const struct msghdr *msg, int flags)
{
	return counted(DGB_DIR_TX, send1(fd, msg, flags));
}

ssize_t dgb_sock_write(int fd, const void *buf, size_t len)
{
	return counted(DGB_DIR_TX, dgb_sys_result(write(fd, buf, len)));
}

ssize_t dgb_sock_recvmsg(int fd, struct msghdr *msg, int flags)
{
	return counted(DGB_DIR_RX, recv1(fd, msg, flags));
}

/*
 * The one-at-a-time fallback keeps recvmmsg(2)'s contract: it stops at the
 * first error and reports it only when nothing was processed.  Each
 * message is counted by dgb_sock_recvmsg.
 */
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
		ssize_t r = dgb_sock_recvmsg(fd, &msgs[i].msg_hdr,
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

/*
 * Send entries [0, n): one sendmsg for one entry (the same result, and a
 * shorter path through the kernel than a vector of one), else sendmmsg, or
 * one sendmsg per entry where sendmmsg is missing from the build, absent
 * from the kernel (ENOSYS) or disabled.  Returns the entries sent or
 * -errno when none was; *calls gets the system calls made.
 */
static int send_entries(int fd, struct mmsghdr *e, unsigned int n, int flags,
			unsigned int *calls)
{
	unsigned int i;

	*calls = 0;
#ifdef HAVE_SENDMMSG
	if (n > 1 && dgb_cap_usable(DGB_CAP_SENDMMSG)) {
		int r = (int)dgb_sys_result(sendmmsg(fd, e, n, flags));

		*calls = 1;
		if (r != -ENOSYS)
			return r;
		dgb_caps_revoke(DGB_CAP_SENDMMSG);
	}
#endif
	if (n > 1)
		dgb_count(DGB_FALLBACK_BATCHES, 1);
	for (i = 0; i < n; i++) {
		ssize_t r = send1(fd, &e[i].msg_hdr, flags);

		++*calls;
		if (r < 0)
			return i > 0 ? (int)i : (int)r;
		e[i].msg_len = (unsigned int)r;
	}
	return (int)i;
}

/*
 * The errors with which the kernel refuses a segmented send that the same
 * datagrams sent one by one may not meet, returned before anything of the
 * entry is queued: EIO (the device cannot take it), EINVAL (a segment
 * larger than the route allows on older kernels, more segments than the
 * kernel takes), EMSGSIZE (the same on newer kernels, or a whole too
 * large).  EOPNOTSUPP and ENOPROTOOPT are not among them: an ICMP message
 * can leave those on a socket, to be returned by the next send whatever it
 * carries.
 */
static int gso_refused(int err)
{
	return err == EIO || err == EINVAL || err == EMSGSIZE;
}

/*
 * Entry e, a segmented send the kernel refused with err, sent again as one
 * entry per datagram, in order, in one call.  Where the datagrams go out alone,
 * the fault was segmentation's: it is counted and, unless only a size was
 * at fault (EMSGSIZE, which the route of one destination can cause), GSO is
 * turned off for the socket.  Returns the datagrams sent, or -errno when
 * none was.
 */
/*
 * Part of a segmented entry sent as one datagram: the entry's control
 * messages end with UDP_SEGMENT (see dgb_sock_send), which is left off.
 */
static void drop_segment_cmsg(struct msghdr *m)
{
	m->msg_controllen -= CMSG_SPACE(sizeof(uint16_t));
	if (m->msg_controllen == 0)
		m->msg_control = NULL;
}

static int send_singly(int fd, const struct mmsghdr *e, unsigned int nseg, int flags,
		       struct dgb_sock_tx *tx, int err, unsigned int calls)
{
	struct mmsghdr one[DGB_GSO_MAX_SEGMENTS];
	unsigned int more;
	int r;

	for (unsigned int k = 0; k < nseg; k++) {
		one[k].msg_hdr = e->msg_hdr;
		one[k].msg_hdr.msg_iov = &e->msg_hdr.msg_iov[k];
		one[k].msg_hdr.msg_iovlen = 1;
		drop_segment_cmsg(&one[k].msg_hdr);
	}
	r = send_entries(fd, one, nseg, flags, &more);
	dgb_count_io(DGB_DIR_TX, calls + more, r > 0 ? (uint64_t)r : 0, r > 0 ? sum_len(one, r) : 0);
	/* EMSGSIZE again, alone, and larger than UDP carries: too big. */
	if (r == -EMSGSIZE && err == EMSGSIZE && nseg > 0 &&
	    one[0].msg_hdr.msg_iov[0].iov_len > DGB_UDP_MAX_PAYLOAD)
		return -DGB_ETOOBIG;
	if (r < 0)
		return dgb_fail(-r);
	dgb_count(DGB_GSO_FALLBACKS, 1);
	if (err != EMSGSIZE && tx != NULL)
		atomic_store_explicit(&tx->gso, 0, memory_order_relaxed);
	return r;
}

/*
 * Entry e, a segmented send of nseg > 64 datagrams that the kernel refused
 * as too many (nothing was sent), sent again as two: the first 64, and the
 * rest (with no UDP_SEGMENT if that is one datagram).  Returns what dgb_sock_send() returns for them.
 */
static int send_split(int fd, const struct mmsghdr *e, unsigned int nseg, int flags,
		      struct dgb_sock_tx *tx)
{
	struct mmsghdr two[2] = { *e, *e };
	uint16_t segs[2] = { DGB_GSO_OLD_MAX_SEGMENTS, (uint16_t)(nseg - DGB_GSO_OLD_MAX_SEGMENTS) };
	int r;

	two[0].msg_hdr.msg_iovlen = DGB_GSO_OLD_MAX_SEGMENTS;
	two[1].msg_hdr.msg_iov = &e->msg_hdr.msg_iov[DGB_GSO_OLD_MAX_SEGMENTS];
	two[1].msg_hdr.msg_iovlen = segs[1];
	if (segs[1] == 1)
		drop_segment_cmsg(&two[1].msg_hdr);
	r = dgb_sock_send(fd, two, 2, segs, flags, tx);

	/*
	 * Where 64 went out as one send, the count was at fault: the socket
	 * keeps 64.  Where the kernel refused those too, the fault was the
	 * route's or the device's, and segmentation is off already.  Several
	 * senders may meet the same refusal; each splits its own run.
	 */
	if (atomic_load_explicit(&tx->gso, memory_order_relaxed))
		atomic_store_explicit(&tx->old_max, 1, memory_order_relaxed);
	return r;
}

/* The bytes a message carries. */
static size_t msg_bytes(const struct msghdr *m)
{
	size_t sum = 0;

	for (size_t k = 0; k < m->msg_iovlen; k++)
		sum += m->msg_iov[k].iov_len;
	return sum;
}

int dgb_sock_send(int fd, struct mmsghdr *e, unsigned int n, const uint16_t *segs, int flags,
		  struct dgb_sock_tx *tx)
{
	unsigned int calls, datagrams = 0, gso_sends = 0, gso_segs = 0;
	int r;

	if (n > DGB_MAX_BATCH)
		n = DGB_MAX_BATCH;
	r = send_entries(fd, e, n, flags, &calls);
	/*
	 * EMSGSIZE on a datagram sent alone is a queued ICMP error (sent
	 * again: it is gone now), or the datagram's own size when it is
	 * larger than UDP carries (it comes again: fatal, as OpenSSL has it).
	 * Again under a flood of forged errors, it stays non-fatal: a forged
	 * ICMP must not end a connection.  A segmented one is sent alone below.
	 */
	if (r == -EMSGSIZE && (segs == NULL || segs[0] <= 1)) {
		unsigned int more;

		r = send_entries(fd, e, n, flags, &more);
		calls += more;
		if (r == -EMSGSIZE && msg_bytes(&e[0].msg_hdr) > DGB_UDP_MAX_PAYLOAD) {
			dgb_count(DGB_TX_SYSCALLS, calls);
			return -DGB_ETOOBIG;
		}
		if (r != -EMSGSIZE)
			dgb_count(DGB_ICMP_ERRORS, 1);
	}
	if (r == -EINVAL && segs != NULL && segs[0] > DGB_GSO_OLD_MAX_SEGMENTS && tx != NULL) {
		dgb_count(DGB_TX_SYSCALLS, calls);
		return send_split(fd, e, segs[0], flags, tx);
	}
	if (r < 0 && segs != NULL && segs[0] > 1 && gso_refused(-r))
		return send_singly(fd, e, segs[0], flags, tx, -r, calls);
	/*
	 * ENOBUFS on a segmented send may come after some of its segments went
	 * out (a device reports the last one's fate), and the caller would
	 * send them again: the entry counts as sent, its datagrams as lost in
	 * the network, as the kernel itself reports such a drop without
	 * IP_RECVERR.
	 */
	if (r == -ENOBUFS && segs != NULL && segs[0] > 1) {
		e[0].msg_len = 0;
		for (size_t k = 0; k < e[0].msg_hdr.msg_iovlen; k++)
			e[0].msg_len += (unsigned int)e[0].msg_hdr.msg_iov[k].iov_len;
		r = 1;
	}
	for (int i = 0; i < r; i++) {
		unsigned int k = segs != NULL ? segs[i] : 1;

		datagrams += k;
		if (k > 1) {
			gso_sends++;
			gso_segs += k;
		}
	}
	dgb_count_io(DGB_DIR_TX, calls, datagrams, r > 0 ? sum_len(e, r) : 0);
	if (gso_sends > 0) {
		dgb_count(DGB_GSO_SENDS, gso_sends);
		dgb_count(DGB_GSO_SEGMENTS, gso_segs);
	}
	return r < 0 ? dgb_fail(-r) : (int)datagrams;
}

int dgb_sock_sendmmsg(int fd, struct mmsghdr *msgs, unsigned int n, int flags)
{
	int r = dgb_sock_send(fd, msgs, n, NULL, flags, NULL);

	return r == -DGB_ETOOBIG ? -EMSGSIZE : r;
}

static int recv_one(int fd, struct mmsghdr *m, int flags)
{
	ssize_t r = dgb_sock_recvmsg(fd, &m->msg_hdr, flags);

	if (r < 0)
		return (int)r;
	m->msg_len = (unsigned int)r;
	return 1;
}

int dgb_sock_recvmmsg(int fd, struct mmsghdr *msgs, unsigned int n, int flags)
{
	if (n == 1)
		return recv_one(fd, msgs, flags);
	if (n > DGB_MAX_BATCH)
		n = DGB_MAX_BATCH;
#ifdef HAVE_RECVMMSG
	if (dgb_cap_usable(DGB_CAP_RECVMMSG)) {
		int r = (int)dgb_sys_result(recvmmsg(fd, msgs, n, flags | MSG_WAITFORONE, NULL));

		if (r >= 0) {
			dgb_count_io(DGB_DIR_RX, 1, (uint64_t)r, sum_len(msgs, r));
			return r;
		}
		dgb_count(DGB_RX_SYSCALLS, 1);
		if (r != -ENOSYS)
			return dgb_fail(-r);
		dgb_caps_revoke(DGB_CAP_RECVMMSG);
	}
#endif
	dgb_count(DGB_FALLBACK_BATCHES, 1);
	return recv_loop(fd, msgs, n, flags);
}

static pthread_key_t batch_key;
static pthread_once_t batch_once = PTHREAD_ONCE_INIT;
static int batch_key_ok;
static __thread struct dgb_batch *batch;

static void batch_exit(void *arg)
{
	/* As for the counters: a later user in this thread allocates again. */
	batch = NULL;
	free(arg);
}

static void batch_key_init(void)
{
	batch_key_ok = pthread_key_create(&batch_key, batch_exit) == 0;
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
