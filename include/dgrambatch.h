/*
 * dgrambatch.h - public interface of the dgrambatch OpenSSL module.
 *
 * Copyright 2026 The dgrambatch authors.
 * SPDX-License-Identifier: Apache-2.0
 *
 * This header is the whole API: everything in it is a macro or a static
 * inline function over OpenSSL's public interfaces, so an application that
 * includes it has no link-time dependency on dgrambatch.  The module itself
 * is reached at run time through OpenSSL's provider machinery.
 * See dgrambatch(3) and dgrambatch(7).
 */
#ifndef DGRAMBATCH_H
#define DGRAMBATCH_H

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <openssl/opensslv.h>
#include <openssl/err.h>
#include <openssl/bio.h>
#include <openssl/core.h>
#include <openssl/params.h>
#include <openssl/provider.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Version of this header; the module reports its own through "version". */
#define DGB_VERSION_MAJOR 0
#define DGB_VERSION_MINOR 2
#define DGB_VERSION_PATCH 0
#define DGB_VERSION_STR "0.2.0"

/* The name under which OpenSSL loads the module (dgrambatch.so). */
#define DGB_PROVIDER_NAME "dgrambatch"

/*
 * Provider parameters, read with OSSL_PROVIDER_get_params() in addition to
 * OpenSSL's standard "name", "version", "buildinfo" and "status".
 *
 * DGB_PARAM_BIO_METHOD: OSSL_PARAM_OCTET_PTR; the module's BIO_METHOD.
 * The counters are OSSL_PARAM_UNSIGNED_INTEGER (uint64_t), process-wide
 * totals of what the module's BIOs moved since it was loaded.
 */
#define DGB_PARAM_BIO_METHOD "dgrambatch-bio-method"
#define DGB_PARAM_TX_DATAGRAMS "dgrambatch-tx-datagrams"
#define DGB_PARAM_RX_DATAGRAMS "dgrambatch-rx-datagrams"
#define DGB_PARAM_TX_BYTES "dgrambatch-tx-bytes"
#define DGB_PARAM_RX_BYTES "dgrambatch-rx-bytes"
#define DGB_PARAM_TX_SYSCALLS "dgrambatch-tx-syscalls"
#define DGB_PARAM_RX_SYSCALLS "dgrambatch-rx-syscalls"
#define DGB_PARAM_ICMP_ERRORS "dgrambatch-icmp-errors"
#define DGB_PARAM_FALLBACK_BATCHES "dgrambatch-fallback-batches"
/* OSSL_PARAM_UNSIGNED_INTEGER: the most messages one batched call takes. */
#define DGB_PARAM_MAX_BATCH "dgrambatch-max-batch"
/*
 * OSSL_PARAM_INTEGER: 1 when the running libcrypto (3.2 and later) calls
 * the module's batched I/O for BIO_sendmmsg()/BIO_recvmmsg(), 0 before.
 */
#define DGB_PARAM_NATIVE_MMSG "dgrambatch-native-mmsg"
/* OSSL_PARAM_UTF8_PTR: the file the module was loaded from. */
#define DGB_PARAM_MODULE_PATH "dgrambatch-module-path"
/*
 * UDP segmentation offload (GSO) on the batched send path: the segmented
 * sends made, the datagrams they carried, and the segmented sends the
 * kernel refused, sent again one datagram at a time (counters); the "gso"
 * setting in force (OSSL_PARAM_UTF8_PTR, "auto" or "off").
 */
#define DGB_PARAM_GSO_SENDS "dgrambatch-gso-sends"
#define DGB_PARAM_GSO_SEGMENTS "dgrambatch-gso-segments"
#define DGB_PARAM_GSO_FALLBACKS "dgrambatch-gso-fallbacks"
#define DGB_PARAM_GSO "dgrambatch-gso"
/*
 * UDP receive offload (GRO) on the receive path: coalesced receives (trains
 * of two or more datagrams), the datagrams they carried, and those
 * of a train that went to a later call than the one that received it
 * (counters); the "gro" setting in force (OSSL_PARAM_UTF8_PTR).
 */
#define DGB_PARAM_GRO_RECEIVES "dgrambatch-gro-receives"
#define DGB_PARAM_GRO_SEGMENTS "dgrambatch-gro-segments"
#define DGB_PARAM_GRO_CARRIED "dgrambatch-gro-carried"
#define DGB_PARAM_GRO "dgrambatch-gro"
/*
 * Counters: what the kernel dropped on the module's sockets for want of
 * room (SO_RXQ_OVFL, seen while GRO is on; a dropped train counts once),
 * and receives the kernel cut short although the module's buffer had room
 * for any datagram.
 */
#define DGB_PARAM_RX_KERNEL_DROPS "dgrambatch-rx-kernel-drops"
#define DGB_PARAM_RX_TRUNCATED "dgrambatch-rx-truncated"

/*
 * Keys of the provider's section in openssl.cnf, next to "module" and
 * "activate":  max_batch = 1..1024 (default 1024); gso = auto | off
 * (default auto: segmented sends where the kernel has them); gro = auto |
 * off (default auto: coalesced receives once a BIO receives in batches).
 */
#define DGB_CONF_MAX_BATCH "max_batch"
#define DGB_CONF_GSO "gso"
#define DGB_CONF_GRO "gro"

/*
 * Datagram BIO controls that OpenSSL 3.2 added.  The module answers them on
 * every OpenSSL 3 line; on 3.0 and 3.1, whose headers lack them, they are
 * defined here with OpenSSL's own numbers, so the same code builds against
 * any 3.x and means the same thing.
 */
#ifndef BIO_CTRL_DGRAM_GET_LOCAL_ADDR_CAP
#define BIO_CTRL_DGRAM_GET_LOCAL_ADDR_CAP 82
#endif
#ifndef BIO_CTRL_DGRAM_GET_LOCAL_ADDR_ENABLE
#define BIO_CTRL_DGRAM_GET_LOCAL_ADDR_ENABLE 83
#endif
#ifndef BIO_CTRL_DGRAM_SET_LOCAL_ADDR_ENABLE
#define BIO_CTRL_DGRAM_SET_LOCAL_ADDR_ENABLE 84
#endif
#ifndef BIO_CTRL_DGRAM_GET_EFFECTIVE_CAPS
#define BIO_CTRL_DGRAM_GET_EFFECTIVE_CAPS 85
#endif
#ifndef BIO_CTRL_GET_RPOLL_DESCRIPTOR
#define BIO_CTRL_GET_RPOLL_DESCRIPTOR 91
#endif
#ifndef BIO_CTRL_GET_WPOLL_DESCRIPTOR
#define BIO_CTRL_GET_WPOLL_DESCRIPTOR 92
#endif
#ifndef BIO_CTRL_DGRAM_DETECT_PEER_ADDR
#define BIO_CTRL_DGRAM_DETECT_PEER_ADDR 93
#endif

#ifndef BIO_DGRAM_CAP_NONE
#define BIO_DGRAM_CAP_NONE 0U
#define BIO_DGRAM_CAP_HANDLES_SRC_ADDR (1U << 0)
#define BIO_DGRAM_CAP_HANDLES_DST_ADDR (1U << 1)
#define BIO_DGRAM_CAP_PROVIDES_SRC_ADDR (1U << 2)
#define BIO_DGRAM_CAP_PROVIDES_DST_ADDR (1U << 3)
#endif

#ifndef BIO_POLL_DESCRIPTOR_TYPE_NONE
#define BIO_POLL_DESCRIPTOR_TYPE_NONE 0
#define BIO_POLL_DESCRIPTOR_TYPE_SOCK_FD 1
#endif

#ifndef BIO_dgram_get_local_addr_cap
#define BIO_dgram_get_local_addr_cap(b) \
	(int)BIO_ctrl((b), BIO_CTRL_DGRAM_GET_LOCAL_ADDR_CAP, 0, NULL)
#endif
#ifndef BIO_dgram_get_local_addr_enable
#define BIO_dgram_get_local_addr_enable(b, penable) \
	(int)BIO_ctrl((b), BIO_CTRL_DGRAM_GET_LOCAL_ADDR_ENABLE, 0, (char *)(penable))
#endif
#ifndef BIO_dgram_set_local_addr_enable
#define BIO_dgram_set_local_addr_enable(b, enable) \
	(int)BIO_ctrl((b), BIO_CTRL_DGRAM_SET_LOCAL_ADDR_ENABLE, (enable), NULL)
#endif
#ifndef BIO_dgram_get_effective_caps
#define BIO_dgram_get_effective_caps(b) \
	(uint32_t)BIO_ctrl((b), BIO_CTRL_DGRAM_GET_EFFECTIVE_CAPS, 0, NULL)
#endif
#ifndef BIO_dgram_detect_peer_addr
#define BIO_dgram_detect_peer_addr(b, peer) \
	(int)BIO_ctrl((b), BIO_CTRL_DGRAM_DETECT_PEER_ADDR, 0, (char *)(peer))
#endif

/*
 * The descriptor BIO_CTRL_GET_RPOLL_DESCRIPTOR and _WPOLL_DESCRIPTOR fill
 * in: OpenSSL 3.2's BIO_POLL_DESCRIPTOR where it exists, a structure of the
 * same layout on 3.0 and 3.1.
 */
#if OPENSSL_VERSION_NUMBER >= 0x30200000L
typedef BIO_POLL_DESCRIPTOR DGB_POLL_DESCRIPTOR;
#else
typedef struct dgb_poll_descriptor_st {
	uint32_t type;
	union {
		int fd;
		void *custom;
		uintptr_t custom_ui;
		void *ssl;
	} value;
} DGB_POLL_DESCRIPTOR;
#endif


/*
 * Batched I/O: BIO_sendmmsg(3) and BIO_recvmmsg(3) on every OpenSSL 3.
 *
 * DGB_MSG is OpenSSL's BIO_MSG on 3.2 and later and a structure of the same
 * layout before.  The choice of path is made at run time, by the libcrypto
 * the program runs with, not by the headers it was built with, so one
 * binary works on every libcrypto.so.3:
 *
 *  - where the running libcrypto has BIO_sendmmsg()/BIO_recvmmsg() (3.2+),
 *    DGB_sendmmsg()/DGB_recvmmsg() call them (looked up once, by name, in
 *    the libcrypto.so.3 the program has loaded);
 *  - before 3.2, they reach the module's BIO through a private BIO_ctrl;
 *  - on any other datagram socket BIO (OpenSSL's own, say) they call
 *    sendmsg(2)/recvmsg(2) on its socket, one datagram at a time, without
 *    touching the BIO, so concurrent callers are as safe as with
 *    BIO_sendmmsg(); on a BIO with no socket they fall back to
 *    BIO_write()/BIO_read(), setting the BIO's peer around each write.
 *
 * DGB_err_is_non_fatal() is BIO_err_is_non_fatal(), on every 3.x.  The
 * program needs dlopen()/dlsym() (in the C library since glibc 2.34; link
 * with -ldl before).  See dgrambatch(3).
 */
#if OPENSSL_VERSION_NUMBER >= 0x30200000L
typedef BIO_MSG DGB_MSG;
#else
typedef struct dgb_msg_st {
	void *data;
	size_t data_len;
	BIO_ADDR *peer, *local;
	uint64_t flags;
} DGB_MSG;
#endif

/* Reasons OpenSSL 3.2 added, with its numbers. */
#ifndef BIO_R_LOCAL_ADDR_NOT_AVAILABLE
#define BIO_R_LOCAL_ADDR_NOT_AVAILABLE 111
#endif
#ifndef BIO_R_NON_FATAL
#define BIO_R_NON_FATAL 112
#endif
#ifndef BIO_R_PORT_MISMATCH
#define BIO_R_PORT_MISMATCH 150
#endif
#ifndef BIO_R_PEER_ADDR_NOT_AVAILABLE
#define BIO_R_PEER_ADDR_NOT_AVAILABLE 151
#endif

/*
 * The most messages one call processes (the kernel's UIO_MAXIOV); the rest
 * wait for the next call.  The module's own limit is this number.
 */
#define DGB_MAX_MSGS 1024

/*
 * The module's private controls.  DGB_CTRL_IDENTIFY, with the BIO itself as
 * the pointer argument, answers DGB_IDENTITY; DGB_CTRL_SENDMMSG and
 * DGB_CTRL_RECVMMSG take a DGB_MMSG_ARGS naming the BIO.  The module acts
 * only when the BIO named is the one the control reached: a filter BIO
 * (BIO_f_ssl, BIO_f_buffer) passes unknown controls down its chain, and a
 * batch must never bypass it and put its payload on the wire unfiltered.
 *
 * DGB_MMSG_ARGS is compiled into programs, so it carries its version and
 * size.  A module serves every version it knows (0.1.0's unversioned
 * structure, under the control numbers 0x44474202 and 0x44474203, too) and
 * refuses any other with an error, setting handled and result, which keep
 * their places in every version.  Members are only ever added at the end.
 */
#define DGB_CTRL_IDENTIFY 0x44474201
#define DGB_CTRL_SENDMMSG 0x44474204
#define DGB_CTRL_RECVMMSG 0x44474205
#define DGB_IDENTITY 0x64676231L
#define DGB_MMSG_ABI 1

/*
 * UDP GSO on one module BIO: DGB_get_gso() tells whether its batched sends
 * are segmented (1) or not (0; also for any other BIO); DGB_set_gso() turns
 * that off (on = 0) or back on (on = 1, where the kernel and configuration
 * allow it), returning 1 when the BIO is then as asked.
 */
#define DGB_CTRL_GET_GSO 0x44474206
#define DGB_CTRL_SET_GSO 0x44474207
#define DGB_get_gso(b) ((int)BIO_ctrl((b), DGB_CTRL_GET_GSO, 0, (b)))
#define DGB_set_gso(b, on) ((int)BIO_ctrl((b), DGB_CTRL_SET_GSO, (on) != 0, (b)))

/*
 * UDP GRO on one module BIO: DGB_get_gro() tells whether its socket hands
 * over coalesced trains, which the BIO splits (1), or not (0; also before
 * the BIO's first batched receive, which turns it on, and for any other
 * BIO).  DGB_set_gro(b, 0) keeps it off: for a program that reads the
 * socket itself; it fails once GRO is on, since trains may be queued
 * already.  DGB_set_gro(b, 1) turns it on now, where the kernel and the
 * configuration allow it.  Both return 1 when the BIO is then as asked.
 */
#define DGB_CTRL_GET_GRO 0x44474208
#define DGB_CTRL_SET_GRO 0x44474209
#define DGB_get_gro(b) ((int)BIO_ctrl((b), DGB_CTRL_GET_GRO, 0, (b)))
#define DGB_set_gro(b, on) ((int)BIO_ctrl((b), DGB_CTRL_SET_GRO, (on) != 0, (b)))

typedef struct dgb_mmsg_args_st {
	/* The first four members keep their places in every version. */
	uint32_t abi;  /* DGB_MMSG_ABI of the header the program was built with */
	uint32_t size; /* sizeof(DGB_MMSG_ARGS) in that header */
	/* Written by the module: 1 once it took the call, and its result. */
	int handled;
	int result;
	BIO *bio;
	DGB_MSG *msg;
	size_t stride;
	size_t num_msg;
	uint64_t flags;
	size_t *msgs_processed;
} DGB_MMSG_ARGS;

/* Whether b is a dgrambatch datagram BIO itself (not a filter over one). */
static inline int DGB_is_dgrambatch(BIO *b)
{
	long r;

	if (b == NULL)
		return 0;
	ERR_set_mark();
	r = BIO_ctrl(b, DGB_CTRL_IDENTIFY, 0, b);
	ERR_pop_to_mark();
	return r == DGB_IDENTITY;
}

/* BIO_err_is_non_fatal() of OpenSSL 3.2, on every 3.x. */
static inline int DGB_err_is_non_fatal(unsigned int errcode)
{
	if (ERR_SYSTEM_ERROR(errcode))
		return BIO_sock_non_fatal_error((int)ERR_GET_REASON(errcode));
	return ERR_GET_LIB(errcode) == ERR_LIB_BIO && ERR_GET_REASON(errcode) == BIO_R_NON_FATAL;
}

/*
 * Whether a failed datagram's errno is raised as BIO_R_NON_FATAL rather
 * than ERR_LIB_SYS: ENOBUFS and the errors an ICMP message queues on a
 * socket, which anyone on the path can forge.  The module decides this
 * with its own table; a test checks that the two agree.
 */
static inline int dgb_err_raise_non_fatal_(int err)
{
	switch (err) {
	case ENOBUFS:
	case ECONNREFUSED:
	case EHOSTUNREACH:
	case ENETUNREACH:
	case EHOSTDOWN:
	case ENETDOWN:
	case ENOPROTOOPT:
	case EPROTO:
	case EMSGSIZE:
		return 1;
	default:
		return 0;
	}
}

static inline void dgb_raise_errno_(int err)
{
	if (err == 0)
		ERR_raise(ERR_LIB_BIO, ERR_R_OPERATION_FAIL);
	else if (dgb_err_raise_non_fatal_(err))
		ERR_raise_data(ERR_LIB_BIO, BIO_R_NON_FATAL, "%s (transient)", strerror(err));
	else
		ERR_raise(ERR_LIB_SYS, err);
}

typedef int dgb_mmsg_fn_(BIO *b, DGB_MSG *msg, size_t stride, size_t num_msg,
			 uint64_t flags, size_t *msgs_processed);

#define dgb_str_(x) #x
#define dgb_xstr_(x) dgb_str_(x)

/*
 * BIO_sendmmsg (send) or BIO_recvmmsg of the running libcrypto, or NULL
 * before 3.2.  Looked up once, by name, in the libcrypto.so.3 the program
 * has loaded (found by its soname, never loaded by this), not in the global
 * scope, which a program with a second libcrypto may fill with another
 * library's functions.  A program linked with a static libcrypto finds
 * none, and takes the paths below, which lose nothing.
 */
static inline dgb_mmsg_fn_ *dgb_native_mmsg_(int send)
{
	/* Per translation unit; a miss is cached as the slot's own address. */
	static void *slot[2];
	void *sym = __atomic_load_n(&slot[send], __ATOMIC_ACQUIRE);
	dgb_mmsg_fn_ *fn;

	if (sym == NULL) {
		void *h = dlopen("libcrypto.so." dgb_xstr_(OPENSSL_SHLIB_VERSION),
				 RTLD_LAZY | RTLD_NOLOAD);

		sym = h != NULL ? dlsym(h, send ? "BIO_sendmmsg" : "BIO_recvmmsg") : NULL;
		if (h != NULL)
			dlclose(h);
		if (sym == NULL)
			sym = &slot[send];
		__atomic_store_n(&slot[send], sym, __ATOMIC_RELEASE);
	}
	if (sym == (void *)&slot[send])
		return NULL;
	/* ISO C has no conversion from object to function pointer; POSIX's dlsym needs one. */
	memcpy(&fn, &sym, sizeof(fn));
	return fn;
}

/*
 * The socket of a datagram BIO that has one, or -1; *connected tells
 * whether the socket is connected.
 */
static inline int dgb_bio_socket_(BIO *b, int *connected)
{
	int fd = -1, type = 0;
	socklen_t len = sizeof(type);
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	if (BIO_method_type(b) != BIO_TYPE_DGRAM || BIO_get_fd(b, &fd) < 0 || fd < 0 ||
	    getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0 || type != SOCK_DGRAM)
		return -1;
	*connected = getpeername(fd, (struct sockaddr *)&ss, &sl) == 0;
	return fd;
}

/*
 * One message's socket call on fd.  A BIO_ADDR is a union of socket
 * addresses in every OpenSSL 3 release (OpenSSL's own datagram BIO hands
 * it to the kernel as one), so the kernel reads and writes it in place.
 * Returns the bytes moved or -1 with errno set.
 */
static inline ssize_t dgb_sock_one_(int fd, DGB_MSG *m, int connected, int send, int flags)
{
	struct iovec iov;
	struct msghdr mh;
	ssize_t r;

	memset(&mh, 0, sizeof(mh));
	iov.iov_base = m->data;
	iov.iov_len = m->data_len;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	if (send) {
		int family = m->peer != NULL ? BIO_ADDR_family(m->peer) : AF_UNSPEC;

		/* As the module does: a connected socket is given no destination. */
		if (!connected && (family == AF_INET || family == AF_INET6)) {
			mh.msg_name = (void *)m->peer;
			mh.msg_namelen = family == AF_INET ? sizeof(struct sockaddr_in)
							   : sizeof(struct sockaddr_in6);
		}
		return sendmsg(fd, &mh, flags | MSG_NOSIGNAL);
	}
	if (m->peer != NULL) {
		mh.msg_name = (void *)m->peer;
		mh.msg_namelen = sizeof(struct sockaddr_in6);
	}
	r = recvmsg(fd, &mh, flags);
	if (r >= 0 && m->peer != NULL &&
	    (mh.msg_namelen == 0 || (BIO_ADDR_family(m->peer) != AF_INET &&
				     BIO_ADDR_family(m->peer) != AF_INET6)))
		BIO_ADDR_clear(m->peer);
	return r;
}

/*
 * One BIO_write()/BIO_read() of one message on a BIO without a socket.  A
 * send sets the BIO's peer to the message's, or back to the one the BIO
 * had (saved, NULL for none), so concurrent senders with their own peers
 * must not share such a BIO; a receive reads the BIO's peer after the read.
 */
static inline ssize_t dgb_bio_one_(BIO *b, DGB_MSG *m, int send, const BIO_ADDR *saved)
{
	int len = m->data_len > INT_MAX ? INT_MAX : (int)m->data_len;
	char none[1];
	void *data = m->data != NULL ? m->data : none;
	int r;

	errno = 0;
	if (!send) {
		r = BIO_read(b, data, len);
		if (r >= 0 && m->peer != NULL)
			(void)BIO_dgram_get_peer(b, m->peer);
		return r;
	}
	if (m->peer != NULL)
		(void)BIO_dgram_set_peer(b, m->peer);
	else if (saved != NULL)
		(void)BIO_dgram_set_peer(b, saved);
	r = BIO_write(b, data, len);
	if (len == 0 && r == 0) {
		size_t w;

		r = BIO_write_ex(b, data, 0, &w) ? 0 : -1;
	}
	return r;
}

/*
 * The batched calls on a BIO that is not the module's, before 3.2: one
 * datagram at a time, with the results BIO_sendmmsg()/BIO_recvmmsg() give.
 * On a socket, a message without a peer needs the socket connected
 * (EDESTADDRREQ otherwise), and a receive waits for the first datagram
 * only; without a socket, a read takes one datagram (the BIO may be in
 * peek mode).  Retry flags, and on a socket the BIO's peer, are left as
 * they were.
 */
static inline int dgb_mmsg_loop_(BIO *b, DGB_MSG *msg, size_t stride, size_t num_msg,
				 size_t *msgs_processed, int send)
{
	int connected = 0, fd = dgb_bio_socket_(b, &connected);
	/* Only the BIO_write()/BIO_read() path touches the BIO's flags. */
	int retry = fd < 0 ? BIO_test_flags(b, BIO_FLAGS_SHOULD_RETRY | BIO_FLAGS_RWS) : 0;
	BIO_ADDR *saved = NULL;
	int have_saved = 0, ok = 1;
	size_t i;

	*msgs_processed = 0;
	if (num_msg > DGB_MAX_MSGS)
		num_msg = DGB_MAX_MSGS;
	for (i = 0; i < num_msg; i++) {
		DGB_MSG *m = (DGB_MSG *)((char *)msg + i * stride);

		if (m->data == NULL && m->data_len != 0) {
			ERR_raise(ERR_LIB_BIO, ERR_R_PASSED_NULL_PARAMETER);
			return 0;
		}
		if (m->local != NULL) {
			ERR_raise(ERR_LIB_BIO, BIO_R_LOCAL_ADDR_NOT_AVAILABLE);
			return 0;
		}
	}
	if (fd < 0 && send) {
		saved = BIO_ADDR_new();
		have_saved = saved != NULL && BIO_dgram_get_peer(b, saved) > 0 &&
			     BIO_ADDR_family(saved) != AF_UNSPEC;
	}
	for (i = 0; i < num_msg; i++) {
		DGB_MSG *m = (DGB_MSG *)((char *)msg + i * stride);
		ssize_t r;

		if (fd >= 0 && send && m->peer == NULL && !connected) {
			if (i == 0) {
				ERR_raise(ERR_LIB_SYS, EDESTADDRREQ);
				ok = 0;
			}
			break;
		}
		if (fd >= 0)
			r = dgb_sock_one_(fd, m, connected, send, i > 0 ? MSG_DONTWAIT : 0);
		else
			r = dgb_bio_one_(b, m, send, have_saved ? saved : NULL);
		if (r < 0) {
			if (i == 0) {
				dgb_raise_errno_(errno);
				ok = 0;
			}
			break;
		}
		m->data_len = (size_t)r;
		m->flags = 0;
		if (fd < 0 && !send) {
			i++;
			break;
		}
	}
	if (saved != NULL) {
		if (have_saved)
			(void)BIO_dgram_set_peer(b, saved);
		else
			(void)BIO_ctrl_set_connected(b, NULL);
		BIO_ADDR_free(saved);
	}
	if (fd < 0) {
		BIO_clear_flags(b, BIO_FLAGS_SHOULD_RETRY | BIO_FLAGS_RWS);
		BIO_set_flags(b, retry);
	}
	if (ok)
		*msgs_processed = i;
	return ok;
}

static inline int dgb_mmsg_(BIO *b, DGB_MSG *msg, size_t stride, size_t num_msg,
			    uint64_t flags, size_t *msgs_processed, int send)
{
	dgb_mmsg_fn_ *native;
	DGB_MMSG_ARGS a;
	int mark;

	if (msgs_processed == NULL) {
		ERR_raise(ERR_LIB_BIO, ERR_R_PASSED_NULL_PARAMETER);
		return 0;
	}
	*msgs_processed = 0;
	if (b == NULL) {
		ERR_raise(ERR_LIB_BIO, ERR_R_PASSED_NULL_PARAMETER);
		return 0;
	}
	native = dgb_native_mmsg_(send);
	if (native != NULL)
		return native(b, msg, stride, num_msg, flags, msgs_processed);
	if (!BIO_get_init(b)) {
		ERR_raise(ERR_LIB_BIO, BIO_R_UNINITIALIZED);
		return 0;
	}
	memset(&a, 0, sizeof(a));
	a.abi = DGB_MMSG_ABI;
	a.size = (uint32_t)sizeof(a);
	a.bio = b;
	a.msg = msg;
	a.stride = stride;
	a.num_msg = num_msg;
	a.flags = flags;
	a.msgs_processed = msgs_processed;
	/*
	 * A datagram BIO answers a control it does not know with 0 and raises
	 * nothing; any other BIO might, which is then forgotten.  (The mark
	 * costs as much as the rest of a one-datagram call.)
	 */
	mark = BIO_method_type(b) != BIO_TYPE_DGRAM;
	if (mark)
		ERR_set_mark();
	(void)BIO_ctrl(b, send ? DGB_CTRL_SENDMMSG : DGB_CTRL_RECVMMSG, 0, &a);
	if (a.handled) {
		if (mark)
			ERR_clear_last_mark();
		return a.result;
	}
	/* Not the module: forget what the unknown control raised, if anything. */
	if (mark)
		ERR_pop_to_mark();
	if (num_msg == 0)
		return 1;
	if (msg == NULL) {
		ERR_raise(ERR_LIB_BIO, ERR_R_PASSED_NULL_PARAMETER);
		return 0;
	}
	/* As OpenSSL's datagram BIO, any flags are accepted and ignored. */
	if (stride < sizeof(DGB_MSG)) {
		ERR_raise(ERR_LIB_BIO, ERR_R_PASSED_INVALID_ARGUMENT);
		return 0;
	}
	return dgb_mmsg_loop_(b, msg, stride, num_msg, msgs_processed, send);
}

static inline int DGB_sendmmsg(BIO *b, DGB_MSG *msg, size_t stride, size_t num_msg,
			       uint64_t flags, size_t *msgs_processed)
{
	return dgb_mmsg_(b, msg, stride, num_msg, flags, msgs_processed, 1);
}

static inline int DGB_recvmmsg(BIO *b, DGB_MSG *msg, size_t stride, size_t num_msg,
			       uint64_t flags, size_t *msgs_processed)
{
	return dgb_mmsg_(b, msg, stride, num_msg, flags, msgs_processed, 0);
}

/*
 * DGB_provider_bio_method() returns the BIO_METHOD of a loaded dgrambatch
 * provider, or NULL when prov is NULL or is not dgrambatch.
 */
static inline const BIO_METHOD *DGB_provider_bio_method(OSSL_PROVIDER *prov)
{
	void *meth = NULL;
	OSSL_PARAM params[2];

	if (prov == NULL)
		return NULL;
	params[0] = OSSL_PARAM_construct_octet_ptr(DGB_PARAM_BIO_METHOD, &meth, 0);
	params[1] = OSSL_PARAM_construct_end();
	if (!OSSL_PROVIDER_get_params(prov, params) || !OSSL_PARAM_modified(&params[0]))
		return NULL;
	return (const BIO_METHOD *)meth;
}


/*
 * The header route: the module's datagram BIO where the module is there,
 * OpenSSL's own where it is not, without linking against dgrambatch.
 *
 * DGB_s_datagram() returns the BIO_METHOD of the dgrambatch provider
 * active in libctx (NULL: the default library context), or else loads it
 * with OSSL_PROVIDER_try_load() (which keeps OpenSSL's default provider)
 * just long enough to take the method, which stays valid for the life of
 * the process.  When the module
 * cannot be found it returns BIO_s_datagram(), and the error stack is as
 * it was.  DGB_method_is_dgrambatch() tells the two apart.
 * DGB_new_dgram() is BIO_new_dgram() over DGB_s_datagram().
 */
static inline int dgb_find_active_(OSSL_PROVIDER *prov, void *arg)
{
	const BIO_METHOD **out = (const BIO_METHOD **)arg;

	if (strcmp(OSSL_PROVIDER_get0_name(prov), DGB_PROVIDER_NAME) != 0)
		return 1;
	*out = DGB_provider_bio_method(prov);
	return *out == NULL;
}

static inline const BIO_METHOD *DGB_s_datagram(OSSL_LIB_CTX *libctx)
{
	const BIO_METHOD *m = NULL;
	OSSL_PROVIDER *prov;

	ERR_set_mark();
	(void)OSSL_PROVIDER_do_all(libctx, dgb_find_active_, (void *)&m);
	if (m == NULL) {
		/* The method outlives the provider (it is the module's, for the process). */
		prov = OSSL_PROVIDER_try_load(libctx, DGB_PROVIDER_NAME, 1);
		m = DGB_provider_bio_method(prov);
		if (prov != NULL)
			OSSL_PROVIDER_unload(prov);
	}
	ERR_pop_to_mark();
	return m != NULL ? m : BIO_s_datagram();
}

static inline int DGB_method_is_dgrambatch(const BIO_METHOD *m)
{
	BIO *b;
	int r;

	if (m == NULL)
		return 0;
	b = BIO_new(m);
	r = DGB_is_dgrambatch(b);
	BIO_free(b);
	return r;
}

static inline BIO *DGB_new_dgram(OSSL_LIB_CTX *libctx, int fd, int close_flag)
{
	BIO *b = BIO_new(DGB_s_datagram(libctx));

	if (b != NULL && BIO_set_fd(b, fd, close_flag) != 1) {
		BIO_free(b);
		return NULL;
	}
	return b;
}

#ifdef __cplusplus
}
#endif

#endif /* DGRAMBATCH_H */
