/*
 * dgrambatch - command-line companion of the dgrambatch OpenSSL module.
 *
 * Copyright 2026 The dgrambatch authors.
 * SPDX-License-Identifier: Apache-2.0
 *
 *   dgrambatch --version
 *   dgrambatch probe [--json]
 *   dgrambatch demo [--config FILE] [--count N] [--size BYTES]
 *   dgrambatch bench [--config FILE] [--size BYTES] [--batch N] [--seconds S] [--json]
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/opensslv.h>
#include <openssl/provider.h>

#include "dgrambatch.h"
#include "probe/probe.h"
#include "bench.h"

static const char *progname = "dgrambatch";

static void usage(FILE *f)
{
	fprintf(f,
		"usage: %s --version\n"
		"       %s probe [--json]\n"
		"       %s demo [--config FILE] [--count N] [--size BYTES]\n"
		"       %s " DGB_BENCH_SYNOPSIS "\n",
		progname, progname, progname, progname);
}

/* A whole decimal number in [min, max], or -1. */
static long parse_count(const char *arg, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(arg, &end, 10);
	if (errno != 0 || end == arg || *end != '\0' || v < min || v > max)
		return -1;
	return v;
}

static int die_ssl(const char *what)
{
	fprintf(stderr, "%s: %s\n", progname, what);
	ERR_print_errors_fp(stderr);
	return 1;
}

/* --- probe --------------------------------------------------------------- */

static const struct {
	const char *name;
	int built;
} openssl_features[] = {
#ifdef HAVE_BIO_METH_SET_SENDMMSG
	{ "BIO_meth_set_sendmmsg", 1 },
#else
	{ "BIO_meth_set_sendmmsg", 0 },
#endif
#ifdef HAVE_BIO_METH_SET_RECVMMSG
	{ "BIO_meth_set_recvmmsg", 1 },
#else
	{ "BIO_meth_set_recvmmsg", 0 },
#endif
#ifdef HAVE_BIO_ERR_IS_NON_FATAL
	{ "BIO_err_is_non_fatal", 1 },
#else
	{ "BIO_err_is_non_fatal", 0 },
#endif
};

#define NFEATURES (sizeof(openssl_features) / sizeof(openssl_features[0]))

static const char *yesno(int v)
{
	return v ? "yes" : "no";
}

static const char *truefalse(int v)
{
	return v ? "true" : "false";
}

static int cmd_probe(int argc, char **argv)
{
	int json = 0;
	unsigned int built = dgb_caps_built(), usable = dgb_caps();

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			json = 1;
		} else {
			usage(stderr);
			return 2;
		}
	}

	if (json) {
		printf("{\n  \"version\": \"%s\",\n", PACKAGE_VERSION);
		printf("  \"openssl\": {\n    \"build\": \"%s\",\n    \"runtime\": \"%s\",\n",
		       OPENSSL_VERSION_TEXT, OpenSSL_version(OPENSSL_VERSION));
		printf("    \"features\": {");
		for (size_t i = 0; i < NFEATURES; i++)
			printf("%s\n      \"%s\": %s", i ? "," : "", openssl_features[i].name,
			       truefalse(openssl_features[i].built));
		printf("\n    }\n  },\n  \"capabilities\": {");
		for (unsigned int i = 0; i < DGB_CAP_COUNT; i++) {
			unsigned int cap = 1u << i;

			printf("%s\n    \"%s\": { \"built\": %s, \"usable\": %s }", i ? "," : "",
			       dgb_cap_name(cap), truefalse(built & cap), truefalse(usable & cap));
		}
		printf("\n  }\n}\n");
		return 0;
	}

	printf("dgrambatch %s\n\n", PACKAGE_VERSION);
	printf("OpenSSL at build time:  %s\n", OPENSSL_VERSION_TEXT);
	printf("OpenSSL at run time:    %s\n\n", OpenSSL_version(OPENSSL_VERSION));
	printf("%-24s %s\n", "OpenSSL feature", "built");
	for (size_t i = 0; i < NFEATURES; i++)
		printf("%-24s %s\n", openssl_features[i].name, yesno(openssl_features[i].built));
	printf("\n%-24s %-6s %s\n", "capability", "built", "usable (this kernel)");
	for (unsigned int i = 0; i < DGB_CAP_COUNT; i++) {
		unsigned int cap = 1u << i;

		printf("%-24s %-6s %s\n", dgb_cap_name(cap), yesno(built & cap), yesno(usable & cap));
	}
	return 0;
}

/* --- demo ---------------------------------------------------------------- */

struct counters {
	uint64_t tx, rx, txb, rxb, txc, rxc;
};

static int read_counters(OSSL_PROVIDER *prov, struct counters *c)
{
	OSSL_PARAM p[] = {
		OSSL_PARAM_uint64(DGB_PARAM_TX_DATAGRAMS, &c->tx),
		OSSL_PARAM_uint64(DGB_PARAM_RX_DATAGRAMS, &c->rx),
		OSSL_PARAM_uint64(DGB_PARAM_TX_BYTES, &c->txb),
		OSSL_PARAM_uint64(DGB_PARAM_RX_BYTES, &c->rxb),
		OSSL_PARAM_uint64(DGB_PARAM_TX_SYSCALLS, &c->txc),
		OSSL_PARAM_uint64(DGB_PARAM_RX_SYSCALLS, &c->rxc),
		OSSL_PARAM_END
	};

	return OSSL_PROVIDER_get_params(prov, p);
}

static int find_dgrambatch(OSSL_PROVIDER *prov, void *arg)
{
	if (strcmp(OSSL_PROVIDER_get0_name(prov), DGB_PROVIDER_NAME) != 0)
		return 1;
	*(OSSL_PROVIDER **)arg = prov;
	return 0;
}

static int bound_udp4(struct sockaddr_in *addr)
{
	socklen_t len = sizeof(*addr);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	memset(addr, 0, sizeof(*addr));
	addr->sin_family = AF_INET;
	addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)addr, sizeof(*addr)) != 0 ||
	    getsockname(fd, (struct sockaddr *)addr, &len) != 0) {
		fprintf(stderr, "%s: loopback UDP socket: %s\n", progname, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static BIO *dgram_to(const BIO_METHOD *meth, int fd, const struct sockaddr_in *peer)
{
	BIO *b = BIO_new(meth);
	BIO_ADDR *ap = BIO_ADDR_new();
	int ok = b != NULL && ap != NULL && BIO_set_fd(b, fd, BIO_CLOSE) == 1 &&
		 BIO_ADDR_rawmake(ap, AF_INET, &peer->sin_addr, sizeof(peer->sin_addr),
				  peer->sin_port) &&
		 BIO_dgram_set_peer(b, ap) == 1;

	BIO_ADDR_free(ap);
	if (!ok) {
		BIO_free(b);
		return NULL;
	}
	return b;
}

/*
 * Send count datagrams from one loopback socket to another through the
 * module's BIO, in rounds of `window` so the receive buffer never overflows,
 * and check that each arrives whole and in order.
 */
static int exchange(BIO *tx, BIO *rx, long count, int size)
{
	unsigned char *out = malloc((size_t)size), *in = malloc((size_t)size + 1);
	int ok = out != NULL && in != NULL;
	int rcvbuf = 0;
	socklen_t len = sizeof(rcvbuf);
	long window = 32;
	/* A lost datagram must end the demonstration, not hang it. */
	struct timeval limit = { 2, 0 };

	/*
	 * Never have more in flight than the receive buffer holds: the kernel
	 * charges each datagram its payload plus about 1 KiB of bookkeeping.
	 */
	if (getsockopt(BIO_get_fd(rx, NULL), SOL_SOCKET, SO_RCVBUF, &rcvbuf, &len) == 0 &&
	    rcvbuf / 2 / (size + 1024) < window)
		window = rcvbuf / 2 / (size + 1024) > 0 ? rcvbuf / 2 / (size + 1024) : 1;
	if (BIO_ctrl(rx, BIO_CTRL_DGRAM_SET_RECV_TIMEOUT, 0, &limit) < 0)
		ok = 0;

	for (long sent = 0; ok && sent < count;) {
		long round = count - sent < window ? count - sent : window;

		for (long i = 0; ok && i < round; i++) {
			long seq = sent + i;

			for (int j = 0; j < size; j++)
				out[j] = (unsigned char)(seq * 31 + j);
			ok = BIO_write(tx, out, size) == size;
		}
		for (long i = 0; ok && i < round; i++) {
			long seq = sent + i;

			for (int j = 0; j < size; j++)
				out[j] = (unsigned char)(seq * 31 + j);
			ok = BIO_read(rx, in, size + 1) == size && memcmp(in, out, (size_t)size) == 0;
			if (!ok)
				fprintf(stderr, "%s: datagram %ld did not arrive intact\n", progname, seq);
		}
		sent += round;
	}
	free(out);
	free(in);
	return ok;
}

static int cmd_demo(int argc, char **argv)
{
	const char *config = getenv("OPENSSL_CONF");
	long count = 1000;
	int size = 1200, rc = 1;
	OSSL_LIB_CTX *libctx = NULL;
	OSSL_PROVIDER *prov = NULL;
	const BIO_METHOD *meth;
	const char *name = NULL, *version = NULL, *buildinfo = NULL;
	int status = 0;
	struct sockaddr_in a, b;
	int fda = -1, fdb = -1;
	BIO *ba = NULL, *bb = NULL;
	struct counters before, after;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
			config = argv[++i];
		} else if (strcmp(argv[i], "--count") == 0 && i + 1 < argc) {
			count = parse_count(argv[++i], 1, 100000000);
		} else if (strcmp(argv[i], "--size") == 0 && i + 1 < argc) {
			size = (int)parse_count(argv[++i], 1, 65507);
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (config == NULL) {
		fprintf(stderr, "%s: demo: give --config FILE or set OPENSSL_CONF\n", progname);
		return 2;
	}
	if (count < 1 || size < 1) {
		fprintf(stderr, "%s: demo: --count takes 1..100000000 and --size 1..65507\n", progname);
		return 2;
	}

	libctx = OSSL_LIB_CTX_new();
	if (libctx == NULL || !OSSL_LIB_CTX_load_config(libctx, config)) {
		rc = die_ssl("cannot load the OpenSSL config file");
		goto out;
	}
	OSSL_PROVIDER_do_all(libctx, find_dgrambatch, &prov);
	if (prov == NULL) {
		fprintf(stderr, "%s: %s does not activate the %s provider\n", progname, config,
			DGB_PROVIDER_NAME);
		goto out;
	}
	{
		OSSL_PARAM p[] = {
			OSSL_PARAM_utf8_ptr("name", &name, 0),
			OSSL_PARAM_utf8_ptr("version", &version, 0),
			OSSL_PARAM_utf8_ptr("buildinfo", &buildinfo, 0),
			OSSL_PARAM_int("status", &status),
			OSSL_PARAM_END
		};
		if (!OSSL_PROVIDER_get_params(prov, p) || !read_counters(prov, &before)) {
			rc = die_ssl("the provider does not answer its parameters");
			goto out;
		}
	}
	meth = DGB_provider_bio_method(prov);
	if (meth == NULL) {
		fprintf(stderr, "%s: the provider hands out no BIO method\n", progname);
		goto out;
	}

	fda = bound_udp4(&a);
	fdb = bound_udp4(&b);
	if (fda < 0 || fdb < 0)
		goto out;
	ba = dgram_to(meth, fda, &b);
	if (ba != NULL)
		fda = -1;
	bb = dgram_to(meth, fdb, &a);
	if (bb != NULL)
		fdb = -1;
	if (ba == NULL || bb == NULL) {
		rc = die_ssl("cannot make the module's BIOs");
		goto out;
	}

	printf("dgrambatch demo (OpenSSL %s)\n", OpenSSL_version(OPENSSL_VERSION_STRING));
	printf("  config file   %s\n", config);
	printf("  provider      %s %s, status %d\n", name, version, status);
	printf("  build         %s\n", buildinfo);
	printf("  BIO method    \"%s\" from the provider parameter %s\n",
	       BIO_method_name(ba), DGB_PARAM_BIO_METHOD);
	printf("  route         127.0.0.1:%u -> 127.0.0.1:%u\n", ntohs(a.sin_port),
	       ntohs(b.sin_port));

	if (!exchange(ba, bb, count, size) || !read_counters(prov, &after)) {
		fprintf(stderr, "%s: the exchange failed\n", progname);
		goto out;
	}
	printf("  sent          %ld datagrams of %d bytes with BIO_write\n", count, size);
	printf("  received      %ld datagrams with BIO_read, each intact and in order\n", count);
	printf("  module counts tx %" PRIu64 " datagrams, %" PRIu64 " bytes, %" PRIu64
	       " syscalls; rx %" PRIu64 " datagrams, %" PRIu64 " bytes, %" PRIu64 " syscalls\n",
	       after.tx - before.tx, after.txb - before.txb, after.txc - before.txc,
	       after.rx - before.rx, after.rxb - before.rxb, after.rxc - before.rxc);
	if (after.tx - before.tx != (uint64_t)count || after.rx - before.rx != (uint64_t)count) {
		fprintf(stderr, "%s: the module's counters do not match what was sent\n", progname);
		goto out;
	}
	printf("demo: ok\n");
	rc = 0;
out:
	BIO_free(ba);
	BIO_free(bb);
	if (fda >= 0)
		close(fda);
	if (fdb >= 0)
		close(fdb);
	OSSL_LIB_CTX_free(libctx);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
		printf("dgrambatch %s (built with %s)\n", PACKAGE_VERSION, OPENSSL_VERSION_TEXT);
		return 0;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "probe") == 0)
		return cmd_probe(argc - 1, argv + 1);
	if (strcmp(argv[1], "demo") == 0)
		return cmd_demo(argc - 1, argv + 1);
	if (strcmp(argv[1], "bench") == 0)
		return dgb_bench_main(progname, argc - 1, argv + 1);
	fprintf(stderr, "%s: unknown command '%s'\n", progname, argv[1]);
	usage(stderr);
	return 2;
}
