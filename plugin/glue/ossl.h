/*
 * ossl.h - what the running libcrypto offers, decided at run time.
 *
 * Copyright 2026 The dgrambatch authors.
 * SPDX-License-Identifier: Apache-2.0
 *
 * One build of dgrambatch serves every libcrypto.so.3, 3.0 to the newest:
 * the module, the shim and the tool link only against functions OpenSSL
 * 3.0 exports (tests/exports.sh checks their version needs), and look up
 * what later versions added in the libcrypto they were loaded with.
 */
#ifndef DGB_OSSL_H
#define DGB_OSSL_H

#include <openssl/bio.h>
#include <openssl/core.h>

#include "dgrambatch.h"

/* BIO_sendmmsg/BIO_recvmmsg as a BIO_METHOD implements them (3.2+). */
typedef int dgb_meth_mmsg_fn(BIO *b, DGB_MSG *msg, size_t stride, size_t num_msg,
			     uint64_t flags, size_t *msgs_processed);

/*
 * Register the batched calls with the running libcrypto's
 * BIO_meth_set_sendmmsg/_recvmmsg.  Returns 1 when they are registered,
 * 0 when that libcrypto has no such functions (before 3.2: applications
 * reach the calls through dgrambatch.h's private controls instead), and -1
 * when it has them and refused.
 */
int dgb_ossl_set_mmsg(BIO_METHOD *m, dgb_meth_mmsg_fn *send, dgb_meth_mmsg_fn *recv);

/* The file name of the libcrypto the module runs with, or NULL. */
const char *dgb_ossl_libcrypto_path(void);

/* The file name of the shared object this code is in, or NULL. */
const char *dgb_ossl_self_path(void);

/*
 * Whether fn, a function the OpenSSL core handed to the provider, lives in
 * the libcrypto the module is linked to.  It does not when a program with
 * a second or static libcrypto loads the module: the BIO_METHOD the module
 * builds would then belong to another library, with its own structures.
 * Returns 1 when it does or when that cannot be told, 0 when it does not.
 */
int dgb_ossl_is_own_core(void (*fn)(void));

#endif /* DGB_OSSL_H */
