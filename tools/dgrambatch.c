/*
 * dgrambatch - command-line companion of the dgrambatch OpenSSL module.
 *
 * Copyright 2026 The dgrambatch authors.
 * SPDX-License-Identifier: Apache-2.0
 *
 *   dgrambatch --version
 *   dgrambatch probe [--json]
 *   dgrambatch demo [--config FILE] [--count N] [--size BYTES]
 *   dgrambatch bench ... (see bench.h)
 *   dgrambatch run [--stats] [--] PROGRAM [ARGS...]
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
#include "run.h"

static const char *progname = "dgrambatch";

static void usage(FILE *f)
{
	fprintf(f,
		"usage: %s --version\n"
		"       %s probe [--json]\n"
		"       %s demo [--config FILE] [--count N] [--size BYTES]\n"
		"       %s " DGB_BENCH_SYNOPSIS "\n"
		"       %s " DGB_RUN_SYNOPSIS "\n",
		progname, progname, progname, progname, progname);
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

static const char *yesno(int v)
{
	return v ? "yes" : "no";
}

static const char *truefalse(int v)
{
	return v ? "true" : "false";
}

/* s as a JSON string, or null. */
static void json_string(const char *s)
{
	if (s == NULL) {
		fputs("null", stdout);
		return;
	}
	putchar('"');
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

/* What the running OpenSSL makes of the module, in its default library context. */
struct provider_report {
	OSSL_PROVIDER *prov;	/* NULL: it did not load */
	int status;		/* its "status" parameter */
	const char *path;	/* dgrambatch-module-path, NULL if not reported */
	const char *version;
	int native;		/* dgrambatch-native-mmsg, -1 if not reported */
	char error[1024];	/* OpenSSL's reasons, when it did not load */
};

/*
 * OpenSSL's error queue as one line, oldest (the cause) first: each
 * error's reason and its data, a reason repeated without data once.
 */
static void take_errors(char *buf, size_t size)
{
	const char *data, *last = NULL;
	int flags;
	unsigned long e;
	size_t len = 0;

	buf[0] = '\0';
	while ((e = ERR_get_error_all(NULL, NULL, NULL, &data, &flags)) != 0) {
		const char *reason = ERR_reason_error_string(e);
		char code[32];
		int n;

		if (!(flags & ERR_TXT_STRING) || data == NULL)
			data = "";
		if (reason == NULL) {
			snprintf(code, sizeof(code), "error:%08lX", e);
			reason = code;
		} else if (*data == '\0' && last != NULL && strcmp(reason, last) == 0) {
			continue;
		}
		last = reason != code ? reason : NULL;
		if (len + 1 >= size)
			continue;
		n = snprintf(buf + len, size - len, "%s%s%s%s", len > 0 ? "; " : "", reason,
			     *data != '\0' ? ": " : "", data);
		len = n < 0 ? size : len + (size_t)n;
	}
	if (buf[0] == '\0')
		snprintf(buf, size, "OpenSSL gave no reason");
}

/*
 * Load the provider the way an application would (OSSL_PROVIDER_try_load
 * in the default library context, after its config file), and ask it who
 * it is.  The strings stay valid while r->prov is loaded.
 */
static void load_provider(struct provider_report *r)
{
	OSSL_PARAM p[] = {
		OSSL_PARAM_utf8_ptr(DGB_PARAM_MODULE_PATH, (char **)&r->path, 0),
		OSSL_PARAM_utf8_ptr("version", (char **)&r->version, 0),
		OSSL_PARAM_int("status", &r->status),
		OSSL_PARAM_int(DGB_PARAM_NATIVE_MMSG, &r->native),
		OSSL_PARAM_END
	};

	memset(r, 0, sizeof(*r));
	r->native = -1;
	ERR_clear_error();
	r->prov = OSSL_PROVIDER_try_load(NULL, DGB_PROVIDER_NAME, 1);
	if (r->prov == NULL) {
		take_errors(r->error, sizeof(r->error));
		return;
	}
	if (!OSSL_PROVIDER_get_params(r->prov, p)) {
		take_errors(r->error, sizeof(r->error));
		r->path = r->version = NULL;
		r->status = 0;
		r->native = -1;
		return;
	}
	if (!OSSL_PARAM_modified(&p[0]) || r->path == NULL || *r->path == '\0')
		r->path = NULL;
	if (!OSSL_PARAM_modified(&p[1]))
		r->version = NULL;
	if (!OSSL_PARAM_modified(&p[3]))
		r->native = -1;
	ERR_clear_error();
}

static const char *provider_state(const struct provider_report *r)
{
	return r->prov == NULL ? "failed" : r->status == 1 ? "active" : "inactive";
}

/*
 * Where OpenSSL looks for a provider named without a path: OPENSSL_MODULES
 * when set, else libcrypto's own modules directory.  *from says which.
 */
static const char *modules_dir(const char **from)
{
	const char *env = getenv("OPENSSL_MODULES");

	if (env != NULL) {
		*from = "OPENSSL_MODULES";
		return env;
	}
	*from = "libcrypto";
	return OPENSSL_info(OPENSSL_INFO_MODULES_DIR);
}

/* Why BIO_sendmmsg() does not reach the module's batched calls, or NULL when it does. */
static const char *not_native(int has_mmsg, const struct provider_report *r)
{
	if (!has_mmsg)
		return "the running libcrypto has no BIO_sendmmsg";
	if (r->prov == NULL)
		return "the provider did not load";
	if (r->native != 1)
		return "the module did not register its batched calls with libcrypto";
	return NULL;
}

static void probe_json(const struct provider_report *r, int has_mmsg, const char *mdir,
		       const char *mdir_from)
{
	unsigned int built = dgb_caps_built(), usable = dgb_caps();

	printf("{\n  \"version\": \"%s\",\n", PACKAGE_VERSION);
	printf("  \"openssl\": {\n    \"build\": ");
	json_string(OPENSSL_VERSION_TEXT);
	printf(",\n    \"runtime\": ");
	json_string(OpenSSL_version(OPENSSL_VERSION));
	printf(",\n    \"bio_sendmmsg\": %s,\n    \"modules_dir\": ", truefalse(has_mmsg));
	json_string(mdir);
	printf(",\n    \"modules_dir_from\": ");
	json_string(mdir_from);
	printf("\n  },\n  \"provider\": {\n    \"name\": ");
	json_string(DGB_PROVIDER_NAME);
	printf(",\n    \"state\": ");
	json_string(provider_state(r));
	printf(",\n    \"error\": ");
	json_string(r->prov == NULL ? r->error : NULL);
	printf(",\n    \"module_path\": ");
	json_string(r->path);
	printf(",\n    \"module_version\": ");
	json_string(r->version);
	printf(",\n    \"native_mmsg\": %s\n  },\n",
	       r->native < 0 ? "null" : truefalse(r->native == 1));
	printf("  \"native_bio_sendmmsg\": %s,\n", truefalse(not_native(has_mmsg, r) == NULL));
	printf("  \"capabilities\": {");
	for (unsigned int i = 0; i < DGB_CAP_COUNT; i++) {
		unsigned int cap = 1u << i;

		printf("%s\n    \"%s\": { \"built\": %s, \"usable\": %s }", i ? "," : "",
		       dgb_cap_name(cap), truefalse(built & cap), truefalse(usable & cap));
	}
	printf("\n  }\n}\n");
}

static void probe_text(const struct provider_report *r, int has_mmsg, const char *mdir,
		       const char *mdir_from)
{
	unsigned int built = dgb_caps_built(), usable = dgb_caps();
	const char *why = not_native(has_mmsg, r);

	printf("dgrambatch %s\n\n", PACKAGE_VERSION);
	printf("%-24s%s\n", "OpenSSL at build time:", OPENSSL_VERSION_TEXT);
	printf("%-24s%s\n", "OpenSSL at run time:", OpenSSL_version(OPENSSL_VERSION));
	printf("%-24s%s (%s)\n", "modules directory:", mdir != NULL ? mdir : "unknown", mdir_from);
	if (r->prov == NULL)
		printf("%-24sfailed to load: %s\n", "provider dgrambatch:", r->error);
	else if (r->status != 1)
		printf("%-24sloaded, not active\n", "provider dgrambatch:");
	else
		printf("%-24sactive\n", "provider dgrambatch:");
	printf("%-24s%s\n", "module file:", r->path != NULL ? r->path : "-");
	printf("%-24s%s\n", "module version:", r->version != NULL ? r->version : "-");
	if (why == NULL)
		printf("%-24syes\n", "native BIO_sendmmsg:");
	else
		printf("%-24sno (%s)\n", "native BIO_sendmmsg:", why);
	printf("\n%-24s %-6s %s\n", "capability", "built", "usable (this kernel)");
	for (unsigned int i = 0; i < DGB_CAP_COUNT; i++) {
		unsigned int cap = 1u << i;

		printf("%-24s %-6s %s\n", dgb_cap_name(cap), yesno(built & cap), yesno(usable & cap));
	}
}

/*
 * The OpenSSL the tool runs with decides, not the one it was built with:
 * BIO_sendmmsg is looked up by name in the running libcrypto, and the
 * module is loaded as any application would load it.
 */
static int cmd_probe(int argc, char **argv)
{
	int json = 0, has_mmsg;
	struct provider_report r;
	const char *mdir, *mdir_from;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			json = 1;
		} else {
			usage(stderr);
			return 2;
		}
	}

	has_mmsg = dgb_native_mmsg_(1) != NULL && dgb_native_mmsg_(0) != NULL;
	mdir = modules_dir(&mdir_from);
	load_provider(&r);
	if (json)
		probe_json(&r, has_mmsg, mdir, mdir_from);
	else
		probe_text(&r, has_mmsg, mdir, mdir_from);
	if (r.prov != NULL)
		OSSL_PROVIDER_unload(r.prov);
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
	if (strcmp(argv[1], "run") == 0)
		return dgb_run_main(progname, argc - 1, argv + 1);
	fprintf(stderr, "%s: unknown command '%s'\n", progname, argv[1]);
	usage(stderr);
	return 2;
}
