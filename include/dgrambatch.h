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

#include <stdint.h>
#include <openssl/opensslv.h>
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

#ifdef __cplusplus
}
#endif

#endif /* DGRAMBATCH_H */
