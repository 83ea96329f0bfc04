/*
 * preload.c - the LD_PRELOAD shim, dgrambatch-preload.so.
 *
 * Copyright 2026 The dgrambatch authors.
 * SPDX-License-Identifier: Apache-2.0
 *
 * Preloaded into an unmodified program, the shim answers BIO_s_datagram()
 * and BIO_new_dgram() with the module's datagram BIO, so that everything
 * the program (or libssl on its behalf) builds on those functions runs on
 * dgrambatch.  It exports those two OpenSSL names and nothing else.
 *
 *   DGRAMBATCH_DISABLE=1  every call goes to OpenSSL's own functions
 *   DGRAMBATCH_DEBUG=1    one line on stderr, on first use, naming the shim
 *
 * The method is the module's process-wide one (see dgb_bio_method()).
 */
#include "config.h"

#include <dlfcn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>

#include "glue.h"

static atomic_int debug_said;

static int env_on(const char *name)
{
	const char *v = getenv(name);

	return v != NULL && *v != '\0' && strcmp(v, "0") != 0;
}

static void *real(const char *name)
{
	return dlsym(RTLD_NEXT, name);
}

/*
 * The module's method, or NULL (then the caller uses OpenSSL's own) when
 * the shim is disabled or OpenSSL cannot build it.
 */
static const BIO_METHOD *method(void)
{
	const BIO_METHOD *m;

	if (env_on("DGRAMBATCH_DISABLE"))
		return NULL;
	m = dgb_bio_method();
	if (m != NULL && env_on("DGRAMBATCH_DEBUG") && atomic_exchange(&debug_said, 1) == 0)
		fprintf(stderr, "dgrambatch %s: preload shim active, BIO_s_datagram is the "
				"dgrambatch datagram BIO\n", PACKAGE_VERSION);
	return m;
}

DGB_EXPORT const BIO_METHOD *BIO_s_datagram(void)
{
	const BIO_METHOD *m = method();

	if (m == NULL) {
		const BIO_METHOD *(*fn)(void) = (const BIO_METHOD *(*)(void))real("BIO_s_datagram");

		return fn != NULL ? fn() : NULL;
	}
	return m;
}

DGB_EXPORT BIO *BIO_new_dgram(int fd, int close_flag)
{
	const BIO_METHOD *m = method();
	BIO *b;

	if (m == NULL) {
		BIO *(*fn)(int, int) = (BIO * (*)(int, int)) real("BIO_new_dgram");

		return fn != NULL ? fn(fd, close_flag) : NULL;
	}
	b = BIO_new(m);
	if (b == NULL)
		return NULL;
	BIO_set_fd(b, fd, close_flag);
	return b;
}
