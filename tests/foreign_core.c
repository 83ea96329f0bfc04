/*
 * foreign_core.c - a program with its own, static, libcrypto loads a
 * provider: foreign_core NAME.
 *
 * Copyright 2026 The dgrambatch authors.
 * SPDX-License-Identifier: Apache-2.0
 *
 * Linked with libcrypto.a, this program is an OpenSSL core that is not the
 * libcrypto.so.3 the module is linked to: loading dgrambatch brings in that
 * second libcrypto, and the module must refuse to start.  It prints
 * "loaded NAME" and exits 0, or prints "not loaded NAME" and the error
 * stack and exits 1; tests/foreign_core.sh judges.  Built where there is
 * no libcrypto.a, it exits 77 saying so.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#ifdef FOREIGN_STATIC_LIBCRYPTO
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/provider.h>

int main(int argc, char **argv)
{
	OSSL_PROVIDER *p;

	if (argc != 2) {
		fprintf(stderr, "usage: %s PROVIDER\n", argv[0]);
		return 2;
	}
	p = OSSL_PROVIDER_load(NULL, argv[1]);
	if (p == NULL) {
		printf("not loaded %s\n", argv[1]);
		ERR_print_errors_fp(stdout);
		return 1;
	}
	printf("loaded %s (static %s)\n", argv[1], OpenSSL_version(OPENSSL_VERSION));
	OSSL_PROVIDER_unload(p);
	return 0;
}
#else
int main(void)
{
	printf("no libcrypto.a in %s to build a program with a static libcrypto\n",
	       OPENSSL_LIBDIR);
	return 77;
}
#endif
