/*
 * core.h - the batched-syscall core.
 *
 * Copyright 2026 The dgrambatch authors.
 * SPDX-License-Identifier: Apache-2.0
 *
 * The core moves datagrams between message vectors and a socket.  It knows
 * sockets, not BIOs: the registration glue translates OpenSSL's structures
 * into msghdr/mmsghdr and the core's results back into OpenSSL's errors.
 *
 * Every function returns a count (of messages or bytes) or a negative errno;
 * errno itself is left as the syscall set it.  EINTR is not retried here: a
 * datagram BIO reports it as a retryable condition, and programs that use
 * signals to cut a blocking read short rely on that.
 */
#ifndef DGB_CORE_H
#define DGB_CORE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <limits.h>

/*
 * Most messages one sendmmsg/recvmmsg call takes: the kernel's UIO_MAXIOV,
 * which the C library names IOV_MAX (<linux/uio.h> cannot be included next
 * to <sys/uio.h>), not a number of ours.  The public header promises it as
 * DGB_MAX_MSGS, and the glue checks at compile time that the two agree.
 */
#define DGB_MAX_BATCH IOV_MAX

/*
 * How the module treats an errno from a socket call.  One table in core.c
 * decides all three answers; the public header's fallback keeps an inline
 * copy of dgb_err_raise_non_fatal(), which a test cross-checks against it.
 */
enum dgb_errclass {
	/* Nothing was wrong with the socket; try again (EAGAIN, EINTR, ENOBUFS). */
	DGB_ERR_TRANSIENT,
	/*
	 * An ICMP message earlier made the kernel queue this error on the
	 * socket (ECONNREFUSED, EHOSTUNREACH, ENETUNREACH, ...).  Anyone on the
	 * path can forge ICMP, so it must not be allowed to kill a connection.
	 * EMSGSIZE is one too (fragmentation needed, packet too big).
	 * The kernel reports such an error once and clears it, and a send that
	 * reports it has not sent its datagram, so the call can simply be made
	 * again.
	 */
	DGB_ERR_ICMP,
	/* The socket or the arguments are unusable. */
	DGB_ERR_FATAL,
};

enum dgb_errclass dgb_errclass(int err);

/*
 * Whether a send of len bytes that failed with err, after the same call
 * failed with prev (0 on the first try), is made again: ICMP errors are,
 * EMSGSIZE included, except a second EMSGSIZE for a datagram larger than
 * UDP carries (DGB_UDP_MAX_PAYLOAD), which is its own size.
 */
int dgb_icmp_retry(int err, int prev, size_t len);

/* The largest UDP payload over IPv4 (65535 - 8 - 20). */
#define DGB_UDP_MAX_PAYLOAD 65507

/*
 * What dgb_sock_send() returns (negated) for a datagram larger than UDP
 * carries that met EMSGSIZE twice in a row: the caller raises EMSGSIZE,
 * fatal, as OpenSSL does.
 */
#define DGB_ETOOBIG 4095

/*
 * Whether BIO_read/BIO_write set a retry flag after err: OpenSSL's own
 * datagram BIO's list (EAGAIN, EINTR, EPROTO, EINPROGRESS, EALREADY).
 */
int dgb_err_bio_retry(int err);

/*
 * Whether the batched calls raise err as BIO_R_NON_FATAL rather than as
 * ERR_LIB_SYS with the errno: errors that BIO_err_is_non_fatal() would
 * call fatal although the socket is fine (ENOBUFS, the ICMP class).
 */
int dgb_err_raise_non_fatal(int err);

/*
 * What the module moved.  Each thread counts into its own counters, which
 * only it writes, so the hot paths take no lock and share no cache line;
 * dgb_counter() adds up every thread's (and those of threads that have
 * exited) for the process-wide total.
 */
enum dgb_counter {
	DGB_TX_DATAGRAMS,
	DGB_RX_DATAGRAMS,
	DGB_TX_BYTES,
	DGB_RX_BYTES,
	DGB_TX_SYSCALLS,
	DGB_RX_SYSCALLS,
	DGB_ICMP_ERRORS,
	/* Batches that went one datagram at a time (no sendmmsg/recvmmsg). */
	DGB_FALLBACK_BATCHES,
	/* Segmented sends (UDP_SEGMENT), and the datagrams they carried. */
	DGB_GSO_SENDS,
	DGB_GSO_SEGMENTS,
	/* Segmented sends the kernel refused, sent again one datagram at a time. */
	DGB_GSO_FALLBACKS,
	/*
	 * Coalesced receives (UDP_GRO: a train of two or more datagrams), the
	 * datagrams they carried, and the datagrams of a train that
	 * did not fit the call that received it and went to a later call.
	 */
	DGB_GRO_RECEIVES,
	DGB_GRO_SEGMENTS,
	DGB_GRO_CARRIED,
	/*
	 * What the kernel dropped on the module's sockets for want of room
	 * (SO_RXQ_OVFL): datagrams, or whole trains, each counted once.
	 */
	DGB_RX_KERNEL_DROPS,
	/*
	 * Receives the kernel cut short although the module's buffers had room
	 * (MSG_TRUNC), or whose control messages it cut (MSG_CTRUNC).
	 */
	DGB_RX_TRUNCATED,
	DGB_NCOUNTERS
};

uint64_t dgb_counter(enum dgb_counter c);

/*
 * The core's calls are named for the layer: dgb_sock_*() take a socket and
 * kernel structures.  (The glue's dgb_bio_*() take a BIO and BIO_MSGs; the
 * public DGB_*() are the application's.)
 */

/* One datagram; returns the bytes moved or -errno. */
ssize_t dgb_sock_sendmsg(int fd, const struct msghdr *msg, int flags);
/*
 * One datagram on a connected socket with write(2), which, unlike send(2),
 * also works on descriptors that are not sockets, as BIO_s_datagram does.
 */
ssize_t dgb_sock_write(int fd, const void *buf, size_t len);
ssize_t dgb_sock_recvmsg(int fd, struct msghdr *msg, int flags);

/*
 * UDP generic segmentation offload (GSO): one send of up to a kernel's
 * number of datagrams of one size (the last may be shorter), at most
 * DGB_GSO_MAX_BYTES in all (what one IPv4 datagram can carry), that the
 * kernel cuts into datagrams.  Linux 6.9 and later take 128 segments,
 * earlier kernels 64; user space cannot ask which, so a socket starts at
 * 128 and keeps 64 once the kernel refused more (see dgb_sock_send).
 */
#define DGB_GSO_MAX_SEGMENTS 128
#define DGB_GSO_OLD_MAX_SEGMENTS 64
#define DGB_GSO_MAX_BYTES 65507

/*
 * What the core keeps for one socket that sends: whether segmented sends
 * are in use, and whether the kernel refused more than 64 segments.  The
 * glue keeps it with its socket and sets gso; the core turns gso off when
 * the kernel refuses segmentation for the socket's route or device.
 * Concurrent senders may share it.
 */
struct dgb_sock_tx {
	atomic_int gso;
	atomic_int old_max;
};

/* The most segments one send may carry on this socket now. */
static inline unsigned int dgb_gso_max_segments(const struct dgb_sock_tx *tx)
{
	return atomic_load_explicit(&tx->old_max, memory_order_relaxed) ? DGB_GSO_OLD_MAX_SEGMENTS
									 : DGB_GSO_MAX_SEGMENTS;
}

/*
 * Up to n entries (n <= DGB_MAX_BATCH) with sendmmsg(2), or a sendmsg loop
 * with the same results where sendmmsg is missing from the build, absent
 * from the kernel (ENOSYS) or disabled for testing.  segs[i] is the number
 * of datagrams entry i carries: 1, or 2 and more for a segmented send,
 * whose control messages end with UDP_SEGMENT (segs NULL: all 1).  Returns
 * the number of datagrams processed, or -errno when none was.
 *
 * As with sendmmsg(2), an error after the first entry ends the call and is
 * not reported: the caller resumes from the first unprocessed datagram and
 * meets the error then, if it persists.  When the kernel refuses the first
 * entry's segmentation (EIO, EINVAL, EMSGSIZE; nothing of it was sent),
 * its datagrams are sent one by one in the same call; where that works, the
 * fallback is counted and, unless only a size was at fault (EMSGSIZE),
 * tx->gso is turned off.  ENOBUFS on the first entry, a segmented one,
 * counts it as sent (some segments may have gone out).  EINVAL on a first
 * entry of more than 64 segments, on a socket not yet known to be limited
 * to 64, is how a kernel before 6.9 refuses more: the entry is sent as 64
 * and the rest in the same call, and the socket keeps 64 from then on.
 * The core never sends a datagram twice.
 */
int dgb_sock_send(int fd, struct mmsghdr *e, unsigned int n, const uint16_t *segs, int flags,
		  struct dgb_sock_tx *tx);

/*
 * dgb_sock_send() of single datagrams, and its receiving twin: up to n
 * datagrams with recvmmsg(2) (MSG_WAITFORONE: a blocking socket waits for
 * the first only), or a recvmsg loop.  Returns the number of messages
 * processed, each with msg_len set, or -errno when none was.
 */
int dgb_sock_sendmmsg(int fd, struct mmsghdr *msgs, unsigned int n, int flags);
int dgb_sock_recvmmsg(int fd, struct mmsghdr *msgs, unsigned int n, int flags);

/*
 * Room for every control message the module asks the kernel for on one
 * datagram: the destination address (IP_PKTINFO, or the larger
 * IPV6_PKTINFO), and the two the receive offload will add (the UDP_GRO
 * segment size, an int, and the SO_RXQ_OVFL drop count, a uint32).  Control
 * messages an application enables on the socket itself (timestamps, say)
 * come first and may crowd these out; the kernel then sets MSG_CTRUNC and
 * the module reports no local address rather than a wrong one.
 */
#define DGB_CMSG_SPACE                                                   \
	(CMSG_SPACE(sizeof(struct in6_pktinfo)) + CMSG_SPACE(sizeof(int)) + \
	 CMSG_SPACE(sizeof(uint32_t)))

/* A control buffer of DGB_CMSG_SPACE, aligned for struct cmsghdr. */
union dgb_cmsg_buf {
	char buf[DGB_CMSG_SPACE];
	struct cmsghdr align;
};

/*
 * Everything one batch of DGB_MAX_BATCH datagrams needs besides the
 * payloads.  Each thread gets its own, allocated on its first batch and
 * freed when it exits, so concurrent batches share nothing and no call
 * allocates.
 */
struct dgb_batch {
	struct mmsghdr mh[DGB_MAX_BATCH];
	/* The datagrams each entry of mh carries (segmented sends: 2 and more). */
	uint16_t segs[DGB_MAX_BATCH];
	struct iovec iov[DGB_MAX_BATCH];
	struct sockaddr_in6 name[DGB_MAX_BATCH];
	union dgb_cmsg_buf ctl[DGB_MAX_BATCH];
};

/* This thread's batch space, or NULL if it cannot be allocated. */
struct dgb_batch *dgb_batch_get(void);

/*
 * UDP generic receive offload (GRO).  With UDP_GRO on, the kernel hands
 * over a train of same-sized datagrams from one sender as one buffer, with
 * the segment size in a control message; any receive may return one, so a
 * buffer smaller than the largest train (64 KB) would lose datagrams.  The
 * core receives into buffers of its own, DGB_GRO_SLOTS of
 * DGB_GRO_SLOT_BYTES for each socket, allocated when GRO goes on and
 * touched only as data fills them, and copies each datagram of a train into
 * the caller's next message, with the train's sender and control messages.
 *
 * A train with more datagrams than the call has room for is not taken off
 * the socket: it is read with MSG_PEEK, the datagrams that fit are
 * delivered, and the rest are kept for the next call, which delivers them
 * first and only then removes the train from the socket.  So while the
 * core keeps anything the socket stays readable, and a program that sleeps
 * in poll, select or on the BIO's read poll descriptor is woken as if the
 * datagrams were still queued, which they are.  To take several datagrams
 * in one call without taking a train that does not fit, the core first
 * lists the queue (recvmmsg with MSG_PEEK and MSG_TRUNC under SO_PEEK_OFF,
 * which copies nothing), then takes just the whole trains that fit.
 *
 * The state is per socket; several threads may receive on it at once, one
 * at a time through its lock.  Anything else that reads the socket while
 * GRO is on (the program itself, a second BIO) breaks the bookkeeping.
 */
#define DGB_GRO_SLOTS 32
#define DGB_GRO_SLOT_BYTES 65536

enum dgb_gro_state {
	/* Not decided yet: the glue decides at the first batched receive. */
	DGB_GRO_UNDECIDED,
	DGB_GRO_OFF,
	DGB_GRO_ON,
};

struct dgb_gro_store;

struct dgb_sock_rx {
	atomic_int gro; /* enum dgb_gro_state */
	/* Whether the core turned UDP_GRO on, and so turns it off at release. */
	int enabled_here;
	pthread_mutex_t lock;
	struct dgb_gro_store *store;
	/* Bytes kept for later calls (BIO_pending). */
	atomic_size_t pending;
};

/* Set rx up, undecided and with no socket; dgb_sock_rx_destroy() undoes it. */
void dgb_sock_rx_init(struct dgb_sock_rx *rx);
void dgb_sock_rx_destroy(struct dgb_sock_rx *rx);

/*
 * Take socket fd: where it has UDP_GRO on already (the program turned it
 * on, or another rx shares the socket: shared), every receive may be a
 * train, so rx goes on at once.  A shared rx changes no socket option.
 * Returns 0, or -errno when the buffers cannot be allocated.
 */
int dgb_sock_rx_attach(struct dgb_sock_rx *rx, int fd, int shared);

/*
 * Turn UDP_GRO on for fd (and SO_RXQ_OVFL, for the drop count) and receive
 * through the core's buffers from now on.  Returns 0 or -errno; on failure
 * the socket is left as it was and rx is off.
 */
int dgb_sock_rx_enable(struct dgb_sock_rx *rx, int fd);

/*
 * Let go of fd: free the buffers (datagrams kept in them are dropped, as a
 * BIO's buffer is when it is freed: a train partly delivered is taken off
 * the socket) and, where the socket stays open (restore), put back the
 * options the core changed.
 */
void dgb_sock_rx_release(struct dgb_sock_rx *rx, int fd, int restore);

/*
 * dgb_sock_recvmmsg(), through rx where GRO is on: up to n datagrams, each
 * exactly as the kernel would have delivered it alone (data truncated to
 * the caller's buffer with MSG_TRUNC, sender, control messages).  flags may
 * hold MSG_PEEK, which takes one datagram and leaves it to be read again.
 */
int dgb_sock_recv(int fd, struct mmsghdr *msgs, unsigned int n, int flags,
		  struct dgb_sock_rx *rx);

/* Bytes kept in rx for later calls. */
size_t dgb_sock_rx_pending(struct dgb_sock_rx *rx);

static inline int dgb_sock_rx_on(struct dgb_sock_rx *rx)
{
	return atomic_load_explicit(&rx->gro, memory_order_acquire) == DGB_GRO_ON;
}

#endif /* DGB_CORE_H */
