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
