/*
 * glue.h - registration glue shared by the provider and the preload shim.
 *
 * Copyright 2026 The dgrambatch authors.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef DGB_GLUE_H
#define DGB_GLUE_H

#include <openssl/bio.h>

/* The only symbols a shared object of dgrambatch makes visible. */
#define DGB_EXPORT __attribute__((visibility("default")))

/*
 * The module's datagram BIO_METHOD: one for the process, built on first
 * use, valid until exit.  NULL, with an error on the OpenSSL stack, when
 * OpenSSL refuses any part of it.
 */
const BIO_METHOD *dgb_bio_method(void);

/*
 * Whether the method's batched calls are registered with the running
 * libcrypto (3.2 and later), so that BIO_sendmmsg() reaches them.
 */
int dgb_bio_native_mmsg(void);

/*
 * The most messages one batched call processes (1..DGB_MAX_BATCH), set from
 * the provider's configuration ("max_batch"); process-wide, like the method.
 */
unsigned int dgb_batch_limit(void);
void dgb_set_batch_limit(unsigned int limit);

/*
 * Whether the module's BIOs may use UDP GSO where the kernel has it: the
 * provider's "gso" key (auto: yes, off: no); process-wide, like the method.
 */
int dgb_gso_allowed(void);
void dgb_set_gso_allowed(int allowed);

/* The same for UDP GRO on the receive path: the provider's "gro" key. */
int dgb_gro_allowed(void);
void dgb_set_gro_allowed(int allowed);

#endif /* DGB_GLUE_H */
