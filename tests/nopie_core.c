/*
 * nopie_core.c - a program built without PIE that takes the address of a
 * libcrypto function loads the module: nopie_core.
 *
 * Copyright 2026 The dgrambatch authors.
 * SPDX-License-Identifier: Apache-2.0
 *
 * In such a program the function's address is the program's own PLT entry,
 * for every object in the process, the module included; a module that
 * found its libcrypto from a function's address would take the program for
 * its libcrypto, refuse the core as foreign and miss BIO_meth_set_sendmmsg.
 * The program loads the provider, checks that the running libcrypto calls
 * the module's batched I/O where it can (3.2+), and moves four datagrams
 * through DGB_sendmmsg/DGB_recvmmsg between two of the module's BIOs.  It
 * prints what it saw and exits 0 when all of it held, 1 otherwise;
 * tests/foreign_core.sh judges.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/provider.h>

#include "dgrambatch.h"

/*
 * Taking the address in the program's own code, with an absolute
 * relocation, is what makes the program's PLT entry the function's address
 * for everyone.
 */
static BIO_METHOD *(*volatile keep_meth_new)(int, const char *);

static BIO *udp_bio(const BIO_METHOD *m, BIO_ADDR *addr)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	BIO *b;

	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) != 0 ||
	    !BIO_ADDR_rawmake(addr, AF_INET, &a.sin_addr, sizeof(a.sin_addr), a.sin_port) ||
	    (b = BIO_new(m)) == NULL) {
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	BIO_set_fd(b, fd, BIO_CLOSE);
	return b;
}

int main(void)
{
	OSSL_PROVIDER *prov = OSSL_PROVIDER_load(NULL, DGB_PROVIDER_NAME);
	const BIO_METHOD *m = DGB_provider_bio_method(prov);
	int native = -1, want = OpenSSL_version_num() >= 0x30200000L;
	OSSL_PARAM p[] = { OSSL_PARAM_int(DGB_PARAM_NATIVE_MMSG, &native), OSSL_PARAM_END };
	BIO_ADDR *to = BIO_ADDR_new(), *from = BIO_ADDR_new();
	BIO *tx, *rx;
	DGB_MSG out[4], in[4];
	char data[4][16], buf[4][16];
	size_t sent = 0, got = 0;
	int ok = 1;

	keep_meth_new = BIO_meth_new;
	printf("BIO_meth_new at %p\n", (void *)keep_meth_new);
	if (m == NULL) {
		printf("the provider did not load\n");
		ERR_print_errors_fp(stdout);
		return 1;
	}
	if (!OSSL_PROVIDER_get_params(prov, p) || native != want) {
		printf("dgrambatch-native-mmsg %d, expected %d with %s\n", native, want,
		       OpenSSL_version(OPENSSL_VERSION));
		ok = 0;
	}
	tx = udp_bio(m, from);
	rx = udp_bio(m, to);
	if (tx == NULL || rx == NULL)
		return 1;
	memset(out, 0, sizeof(out));
	memset(in, 0, sizeof(in));
	for (int i = 0; i < 4; i++) {
		out[i].data = data[i];
		out[i].data_len = (size_t)snprintf(data[i], sizeof(data[i]), "datagram %d", i);
		out[i].peer = to;
		in[i].data = buf[i];
		in[i].data_len = sizeof(buf[i]);
	}
	if (!DGB_sendmmsg(tx, out, sizeof(DGB_MSG), 4, 0, &sent) || sent != 4) {
		printf("DGB_sendmmsg: %zu of 4 sent\n", sent);
		ERR_print_errors_fp(stdout);
		ok = 0;
	}
	while (ok && got < 4) {
		size_t n = 0;

		if (!DGB_recvmmsg(rx, in + got, sizeof(DGB_MSG), 4 - got, 0, &n)) {
			ERR_print_errors_fp(stdout);
			ok = 0;
		}
		got += n;
	}
	for (size_t i = 0; ok && i < 4; i++)
		if (in[i].data_len != out[i].data_len || memcmp(buf[i], data[i], in[i].data_len) != 0)
			ok = 0;
	printf("%s: provider loaded, native batched I/O %d, %zu datagrams through DGB_sendmmsg\n",
	       ok ? "ok" : "FAILED", native, got);
	BIO_free(tx);
	BIO_free(rx);
	BIO_ADDR_free(to);
	BIO_ADDR_free(from);
	OSSL_PROVIDER_unload(prov);
	return ok ? 0 : 1;
}
