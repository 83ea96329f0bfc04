/*
 * dgram.h - the state of a dgrambatch datagram BIO, shared by the
 * single-datagram paths (bio_method.c) and the batched ones (mmsg.c).
 *
 * Copyright 2026 The dgrambatch authors.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef DGB_DGRAM_H
#define DGB_DGRAM_H

#include <stdatomic.h>
#include <stdint.h>
#include <sys/time.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <openssl/bio.h>

#include "addr.h"
#include "core/core.h"


struct dgb_bio {
	int fd;
	/* Use send/recv semantics: BIO_ctrl_set_connected or a connected fd. */
	int connected;
	/* MSG_PEEK on reads. */
	int peek;
	int local_addr_enabled;
	/* errno of the last read or write that set a retry flag, else 0. */
	int last_errno;
	/* BIO_CTRL_DGRAM_SET_MTU / QUERY_MTU; unsigned as in OpenSSL. */
	unsigned int mtu;
	union dgb_addr peer;
	/* The socket's own address, read when the fd is attached. */
	union dgb_addr local;
	/*
	 * DTLS's retransmission deadline (wall clock, as OpenSSL keeps it) and
	 * the receive timeout that reads lower temporarily to meet it.
	 */
	struct timeval next_timeout;
	struct timeval socket_timeout;
	/*
	 * Batched receives may run in several threads at once and each
	 * updates the peer; this flag serialises those few bytes.  Nothing
	 * else in the BIO is written on the batched paths.
	 */
	atomic_flag peer_lock;
	/* Segmented sends (UDP GSO) on or off for this socket; see core.h. */
	struct dgb_sock_tx tx;
	/* Coalesced receives (UDP GRO) for this socket; see core.h. */
	struct dgb_sock_rx rx;
	/* DGB_set_gro(b, 0): never turn GRO on for this BIO. */
	int gro_refused;
};

/*
 * Decide, at the first batched receive, whether the BIO's socket gets
 * UDP_GRO: where the kernel has it, the configuration allows it and
 * DGB_set_gro() did not refuse it.
 */
void dgb_bio_gro_decide(struct dgb_bio *d);


/*
 * BIO_sendmmsg/BIO_recvmmsg on a dgrambatch BIO, as BIO_sendmmsg(3)
 * describes them: msg is an array of BIO_MSG (DGB_MSG on OpenSSL 3.0)
 * with the given stride.  *msgs_processed is written on every path.
 */
int dgb_bio_sendmmsg(BIO *b, void *msg, size_t stride, size_t num_msg, uint64_t flags,
		     size_t *msgs_processed);
int dgb_bio_recvmmsg(BIO *b, void *msg, size_t stride, size_t num_msg, uint64_t flags,
		     size_t *msgs_processed);

#ifdef DGB_FUZZ
/*
 * For the fuzz harnesses only (mmsg.c): the local address of a received
 * message (extract_local), and how many messages from first on go out as
 * one segmented send (group_size).
 */
void dgb_mmsg_extract_local(const struct dgb_bio *d, const struct msghdr *mh, BIO_ADDR *local);
unsigned int dgb_mmsg_group_size(const struct dgb_bio *d, const void *msg, size_t stride,
				 unsigned int first, unsigned int n, int gso);
#endif

#endif /* DGB_DGRAM_H */
