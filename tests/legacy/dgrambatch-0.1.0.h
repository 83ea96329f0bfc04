/* The 0.1.0 dgrambatch.h (git 7ac5819), kept verbatim for the ABI test, tests/test_abi.c. */
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

#include <errno.h>
#include <limits.h>
#include <sys/socket.h>
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
#define DGB_VERSION_MINOR 1
#define DGB_VERSION_PATCH 0
#define DGB_VERSION_STR "0.1.0"

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
 * Keys of the provider's section in openssl.cnf, next to "module" and
 * "activate":  max_batch = 1..1024 (default 1024).
 */
#define DGB_CONF_MAX_BATCH "max_batch"

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
 * layout before.  DGB_sendmmsg(), DGB_recvmmsg() and DGB_err_is_non_fatal()
 * are BIO_sendmmsg(), BIO_recvmmsg() and BIO_err_is_non_fatal() on 3.2 and
 * later.  On 3.0 and 3.1 they reach the module through private BIO_ctrl
 * codes, and on any other BIO (OpenSSL's own datagram BIO, say) they send
 * or receive one datagram per BIO_write()/BIO_read(), with the same results.
 * See dgrambatch(3).
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

/* The most messages one call processes; the rest wait for the next call. */
#define DGB_MAX_MSGS 1024

/*
 * The module's private controls.  DGB_CTRL_IDENTIFY, with the BIO itself as
 * the pointer argument, answers DGB_IDENTITY; DGB_CTRL_SENDMMSG and
 * DGB_CTRL_RECVMMSG take a DGB_MMSG_ARGS naming the BIO.  The module acts
 * only when the BIO named is the one the control reached: a filter BIO
 * (BIO_f_ssl, BIO_f_buffer) passes unknown controls down its chain, and a
 * batch must never bypass it and put its payload on the wire unfiltered.
 */
#define DGB_CTRL_IDENTIFY 0x44474201
#define DGB_CTRL_SENDMMSG 0x44474202
#define DGB_CTRL_RECVMMSG 0x44474203
#define DGB_IDENTITY 0x64676231L

typedef struct dgb_mmsg_args_st {
	BIO *bio;
	DGB_MSG *msg;
	size_t stride;
	size_t num_msg;
	uint64_t flags;
	size_t *msgs_processed;
	/* Written by the module: 1 once it took the call, and its result. */
	int handled;
	int result;
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

static inline int DGB_err_is_non_fatal(unsigned int errcode)
{
#if OPENSSL_VERSION_NUMBER >= 0x30200000L
	return BIO_err_is_non_fatal(errcode);
#else
	if (ERR_SYSTEM_ERROR(errcode))
		return BIO_sock_non_fatal_error((int)ERR_GET_REASON(errcode));
	return ERR_GET_LIB(errcode) == ERR_LIB_BIO && ERR_GET_REASON(errcode) == BIO_R_NON_FATAL;
#endif
}

#if OPENSSL_VERSION_NUMBER < 0x30200000L
/* The error for a failed datagram, classified as the module classifies it. */
static inline void dgb_raise_errno_(int err)
{
	switch (err) {
	case ENOBUFS:
	case ECONNREFUSED:
	case EHOSTUNREACH:
	case ENETUNREACH:
	case EHOSTDOWN:
	case ENETDOWN:
	case EPROTO:
		ERR_raise_data(ERR_LIB_BIO, BIO_R_NON_FATAL, "%s (transient)", strerror(err));
		break;
	case 0:
		ERR_raise(ERR_LIB_BIO, ERR_R_OPERATION_FAIL);
		break;
	default:
		ERR_raise(ERR_LIB_SYS, err);
		break;
	}
}

/*
 * One datagram per BIO_write()/BIO_read() for a BIO that is not the
 * module's.  A send sets the BIO's peer to each message's and puts back the
 * one it had (none: cleared); a message without a peer needs a connected
 * socket, as with the module (EDESTADDRREQ otherwise); a receive takes one datagram per call (the BIO
 * may be in peek mode, where a second read would return the same one) and,
 * as BIO_read() always does, may teach an unconnected BIO its peer.  Retry
 * flags are left as they were.
 */
static inline int dgb_mmsg_loop_(BIO *b, DGB_MSG *msg, size_t stride, size_t num_msg,
				 size_t *msgs_processed, int send)
{
	int retry = BIO_test_flags(b, BIO_FLAGS_SHOULD_RETRY | BIO_FLAGS_RWS);
	BIO_ADDR *saved = send ? BIO_ADDR_new() : NULL;
	int have_saved = saved != NULL && BIO_dgram_get_peer(b, saved) > 0 &&
			 BIO_ADDR_family(saved) != AF_UNSPEC;
	int ok = 1, peer_changed = 0, fd = -1, connected = 0;
	size_t i;

	/* As in the module, a message without a peer needs a connected socket. */
	(void)BIO_get_fd(b, &fd);
	if (send && fd >= 0) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);

		connected = getpeername(fd, (struct sockaddr *)&ss, &sl) == 0;
	}
	if (num_msg > DGB_MAX_MSGS)
		num_msg = DGB_MAX_MSGS;
	if (!send)
		num_msg = 1;
	for (i = 0; i < num_msg; i++) {
		DGB_MSG *m = (DGB_MSG *)((char *)msg + i * stride);

		if (m->flags != 0 || (m->data == NULL && m->data_len != 0)) {
			ERR_raise(ERR_LIB_BIO, ERR_R_PASSED_INVALID_ARGUMENT);
			ok = 0;
			break;
		}
		if (m->local != NULL) {
			ERR_raise(ERR_LIB_BIO, BIO_R_LOCAL_ADDR_NOT_AVAILABLE);
			ok = 0;
			break;
		}
	}
	for (i = 0; ok && i < num_msg; i++) {
		DGB_MSG *m = (DGB_MSG *)((char *)msg + i * stride);
		int len = m->data_len > INT_MAX ? INT_MAX : (int)m->data_len;
		char none[1];
		void *data = m->data != NULL ? m->data : none;
		int r;

		errno = 0;
		if (send) {
			if (m->peer != NULL) {
				(void)BIO_dgram_set_peer(b, m->peer);
				peer_changed = 1;
			} else if (!connected) {
				if (i == 0) {
					ERR_raise(ERR_LIB_SYS, EDESTADDRREQ);
					ok = 0;
				}
				break;
			} else if (peer_changed && have_saved) {
				(void)BIO_dgram_set_peer(b, saved);
			}
			r = BIO_write(b, data, len);
			if (len == 0 && r == 0) {
				size_t w;

				r = BIO_write_ex(b, data, 0, &w) ? 0 : -1;
			}
		} else {
			r = BIO_read(b, data, len);
			if (r >= 0 && m->peer != NULL)
				(void)BIO_dgram_get_peer(b, m->peer);
		}
		if (r < 0) {
			if (i == 0) {
				dgb_raise_errno_(errno);
				ok = 0;
			}
			break;
		}
		m->data_len = (size_t)r;
		m->flags = 0;
	}
	if (peer_changed) {
		if (have_saved)
			(void)BIO_dgram_set_peer(b, saved);
		else
			(void)BIO_ctrl_set_connected(b, NULL);
	}
	BIO_ADDR_free(saved);
	BIO_clear_flags(b, BIO_FLAGS_SHOULD_RETRY | BIO_FLAGS_RWS);
	BIO_set_flags(b, retry);
	*msgs_processed = ok ? i : 0;
	return ok;
}

static inline int dgb_mmsg_(BIO *b, DGB_MSG *msg, size_t stride, size_t num_msg,
			    uint64_t flags, size_t *msgs_processed, int send)
{
	DGB_MMSG_ARGS a;

	if (msgs_processed == NULL) {
		ERR_raise(ERR_LIB_BIO, ERR_R_PASSED_NULL_PARAMETER);
		return 0;
	}
	*msgs_processed = 0;
	if (b == NULL) {
		ERR_raise(ERR_LIB_BIO, ERR_R_PASSED_NULL_PARAMETER);
		return 0;
	}
	if (!BIO_get_init(b)) {
		ERR_raise(ERR_LIB_BIO, BIO_R_UNINITIALIZED);
		return 0;
	}
	memset(&a, 0, sizeof(a));
	a.bio = b;
	a.msg = msg;
	a.stride = stride;
	a.num_msg = num_msg;
	a.flags = flags;
	a.msgs_processed = msgs_processed;
	ERR_set_mark();
	(void)BIO_ctrl(b, send ? DGB_CTRL_SENDMMSG : DGB_CTRL_RECVMMSG, 0, &a);
	if (a.handled) {
		ERR_clear_last_mark();
		return a.result;
	}
	/* Not the module: forget what the unknown control raised, if anything. */
	ERR_pop_to_mark();
	if (num_msg == 0)
		return 1;
	if (msg == NULL) {
		ERR_raise(ERR_LIB_BIO, ERR_R_PASSED_NULL_PARAMETER);
		return 0;
	}
	if (stride < sizeof(DGB_MSG) || flags != 0) {
		ERR_raise(ERR_LIB_BIO, ERR_R_PASSED_INVALID_ARGUMENT);
		return 0;
	}
	return dgb_mmsg_loop_(b, msg, stride, num_msg, msgs_processed, send);
}
#endif

static inline int DGB_sendmmsg(BIO *b, DGB_MSG *msg, size_t stride, size_t num_msg,
			       uint64_t flags, size_t *msgs_processed)
{
#if OPENSSL_VERSION_NUMBER >= 0x30200000L
	return BIO_sendmmsg(b, msg, stride, num_msg, flags, msgs_processed);
#else
	return dgb_mmsg_(b, msg, stride, num_msg, flags, msgs_processed, 1);
#endif
}

static inline int DGB_recvmmsg(BIO *b, DGB_MSG *msg, size_t stride, size_t num_msg,
			       uint64_t flags, size_t *msgs_processed)
{
#if OPENSSL_VERSION_NUMBER >= 0x30200000L
	return BIO_recvmmsg(b, msg, stride, num_msg, flags, msgs_processed);
#else
	return dgb_mmsg_(b, msg, stride, num_msg, flags, msgs_processed, 0);
#endif
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
