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
 * Build the module's datagram BIO_METHOD.  Returns NULL, with an error on
 * the OpenSSL stack, when OpenSSL refuses any part of it.
 */
BIO_METHOD *dgb_bio_method_new(void);

#endif /* DGB_GLUE_H */
