/*
 * test_provider.c - OpenSSL loads the module as the provider "dgrambatch".
 *
 * Copyright 2026 The dgrambatch authors.
 * SPDX-License-Identifier: Apache-2.0
 *
 * The module under test is the one just built: OPENSSL_MODULES points at
 * .libs and DGB_MODULE names the file (see AM_TESTS_ENVIRONMENT).
 */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/provider.h>
#include <openssl/proverr.h>
#include <openssl/crypto.h>

#include "dgrambatch.h"
#include "testutil.h"

static OSSL_LIB_CTX *libctx;
static OSSL_PROVIDER *prov;

static void setup(void)
{
	ck_assert_msg(getenv("OPENSSL_MODULES") != NULL, "run through make check");
	libctx = OSSL_LIB_CTX_new();
	ck_assert_ptr_nonnull(libctx);
	prov = OSSL_PROVIDER_load(libctx, DGB_PROVIDER_NAME);
	if (prov == NULL)
		ERR_print_errors_fp(stderr);
	ck_assert_ptr_nonnull(prov);
}

static void teardown(void)
{
	ck_assert_int_eq(OSSL_PROVIDER_unload(prov), 1);
	OSSL_LIB_CTX_free(libctx);
	ck_assert_uint_eq(ERR_peek_error(), 0);
}

START_TEST(test_standard_params)
{
	const char *name = NULL, *version = NULL, *buildinfo = NULL;
	int status = -1;
	OSSL_PARAM p[] = {
		OSSL_PARAM_utf8_ptr("name", &name, 0),
		OSSL_PARAM_utf8_ptr("version", &version, 0),
		OSSL_PARAM_utf8_ptr("buildinfo", &buildinfo, 0),
		OSSL_PARAM_int("status", &status),
		OSSL_PARAM_END
	};

	ck_assert_int_eq(OSSL_PROVIDER_get_params(prov, p), 1);
	ck_assert_str_eq(name, "dgrambatch");
	ck_assert_str_eq(version, PACKAGE_VERSION);
	ck_assert_str_eq(version, DGB_VERSION_STR);
	ck_assert_ptr_nonnull(strstr(buildinfo, PACKAGE_VERSION));
	ck_assert_ptr_nonnull(strstr(buildinfo, "OpenSSL 3."));
	ck_assert_int_eq(status, 1);
	ck_assert_str_eq(OSSL_PROVIDER_get0_name(prov), "dgrambatch");
	ck_assert_int_eq(OSSL_PROVIDER_self_test(prov), 1);
}
END_TEST

START_TEST(test_gettable_params)
{
	const OSSL_PARAM *g = OSSL_PROVIDER_gettable_params(prov);
	const char *want[] = { "name", "version", "buildinfo", "status",
			       DGB_PARAM_BIO_METHOD, DGB_PARAM_TX_DATAGRAMS,
			       DGB_PARAM_RX_DATAGRAMS, DGB_PARAM_TX_BYTES,
			       DGB_PARAM_RX_BYTES, DGB_PARAM_TX_SYSCALLS,
			       DGB_PARAM_RX_SYSCALLS, DGB_PARAM_NATIVE_MMSG,
			       DGB_PARAM_MODULE_PATH };

	ck_assert_ptr_nonnull(g);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		ck_assert_msg(OSSL_PARAM_locate_const(g, want[i]) != NULL, "%s not gettable", want[i]);
}
END_TEST

/*
 * The batched calls are native (BIO_sendmmsg()/BIO_recvmmsg() reach the
 * module) exactly when the libcrypto running now is 3.2 or later, whatever
 * the headers the module was built with; the module names its own file.
 */
START_TEST(test_runtime_params)
{
	int native = -1;
	const char *path = NULL;
	char real[PATH_MAX], built[PATH_MAX];
	struct stat st;
	OSSL_PARAM p[] = {
		OSSL_PARAM_int(DGB_PARAM_NATIVE_MMSG, &native),
		OSSL_PARAM_utf8_ptr(DGB_PARAM_MODULE_PATH, &path, 0),
		OSSL_PARAM_END
	};

	ck_assert_int_eq(OSSL_PROVIDER_get_params(prov, p), 1);
	ck_assert_msg(OSSL_PARAM_modified(&p[0]), "%s not returned", DGB_PARAM_NATIVE_MMSG);
	ck_assert_msg(native == (OpenSSL_version_num() >= 0x30200000L),
		      "%s = %d under %s", DGB_PARAM_NATIVE_MMSG, native,
		      OpenSSL_version(OPENSSL_VERSION));
	ck_assert_msg(OSSL_PARAM_modified(&p[1]), "%s not returned", DGB_PARAM_MODULE_PATH);
	ck_assert_ptr_nonnull(path);
	ck_assert_uint_ge(strlen(path), strlen("dgrambatch.so"));
	ck_assert_str_eq(path + strlen(path) - strlen("dgrambatch.so"), "dgrambatch.so");
	ck_assert_msg(stat(path, &st) == 0 && S_ISREG(st.st_mode), "%s: no such file", path);
	/* The module just built, which OPENSSL_MODULES points at. */
	ck_assert_ptr_nonnull(realpath(path, real));
	ck_assert_ptr_nonnull(realpath(getenv("DGB_MODULE"), built));
	ck_assert_str_eq(real, built);
}
END_TEST

/* The provider offers no algorithms: fetching from it finds nothing. */
START_TEST(test_no_algorithms)
{
	EVP_MD *md = EVP_MD_fetch(libctx, "SHA256", "provider=dgrambatch");

	ck_assert_ptr_null(md);
	ERR_clear_error();
}
END_TEST

static uint64_t counter(const char *key)
{
	uint64_t v = UINT64_MAX;
	OSSL_PARAM p[] = { OSSL_PARAM_uint64(key, &v), OSSL_PARAM_END };

	ck_assert_int_eq(OSSL_PROVIDER_get_params(prov, p), 1);
	ck_assert(OSSL_PARAM_modified(p));
	return v;
}

static BIO *module_bio(const BIO_METHOD *m, int fd, const union tu_addr *peer)
{
	BIO *b = BIO_new(m);
	BIO_ADDR *ap = BIO_ADDR_new();

	ck_assert_ptr_nonnull(b);
	ck_assert_ptr_nonnull(ap);
	ck_assert_int_eq(BIO_get_init(b), 0);
	ck_assert_int_eq(BIO_set_fd(b, fd, BIO_CLOSE), 1);
	ck_assert_int_eq(BIO_get_init(b), 1);
	ck_assert_int_eq(BIO_get_fd(b, NULL), fd);
	ck_assert_int_eq(BIO_ADDR_rawmake(ap, AF_INET, &peer->sin.sin_addr,
					  sizeof(peer->sin.sin_addr), peer->sin.sin_port), 1);
	ck_assert_int_eq(BIO_dgram_set_peer(b, ap), 1);
	BIO_ADDR_free(ap);
	return b;
}

/*
 * The BIO_METHOD handed out through the provider parameter is a datagram
 * BIO that carries real datagrams, and the module counts them.
 */
START_TEST(test_bio_method_param)
{
	const BIO_METHOD *m = DGB_provider_bio_method(prov);
	union tu_addr a, b;
	int fa = tu_udp_loopback(AF_INET, &a), fb = tu_udp_loopback(AF_INET, &b);
	BIO *ba, *bb;
	char in[32];
	uint64_t tx0 = counter(DGB_PARAM_TX_DATAGRAMS), rx0 = counter(DGB_PARAM_RX_DATAGRAMS);
	uint64_t txb0 = counter(DGB_PARAM_TX_BYTES);

	ck_assert_ptr_nonnull(m);
	ba = module_bio(m, fa, &b);
	bb = module_bio(m, fb, &a);
	ck_assert_int_eq(BIO_method_type(ba), BIO_TYPE_DGRAM);
	ck_assert_str_eq(BIO_method_name(ba), "dgrambatch datagram socket");
	ck_assert_int_eq(BIO_write(ba, "hello", 5), 5);
	ck_assert_int_eq(BIO_puts(ba, "world!"), 6);
	ck_assert_int_eq(BIO_read(bb, in, sizeof(in)), 5);
	ck_assert_mem_eq(in, "hello", 5);
	ck_assert_int_eq(BIO_read(bb, in, sizeof(in)), 6);
	ck_assert_mem_eq(in, "world!", 6);
	ck_assert_uint_eq(counter(DGB_PARAM_TX_DATAGRAMS) - tx0, 2);
	ck_assert_uint_eq(counter(DGB_PARAM_RX_DATAGRAMS) - rx0, 2);
	ck_assert_uint_eq(counter(DGB_PARAM_TX_BYTES) - txb0, 11);
	BIO_free(ba);
	BIO_free(bb);
}
END_TEST

/* The helper refuses providers that are not dgrambatch. */
START_TEST(test_bio_method_other_provider)
{
	OSSL_PROVIDER *def = OSSL_PROVIDER_load(libctx, "default");

	ck_assert_ptr_nonnull(def);
	ck_assert_ptr_null(DGB_provider_bio_method(def));
	ck_assert_ptr_null(DGB_provider_bio_method(NULL));
	ERR_clear_error();
	OSSL_PROVIDER_unload(def);
}
END_TEST

/*
 * Loaded from a config file next to the default provider: dgrambatch is
 * active and digests still work through the default provider.
 */
/*
 * An openssl.cnf that activates the default provider and dgrambatch, with
 * extra lines in dgrambatch's section; returns its path (to be unlinked).
 */
static char *write_cnf(const char *extra)
{
	const char *module = getenv("DGB_MODULE");
	static char path[64];
	int fd;
	FILE *f;

	ck_assert_ptr_nonnull(module);
	snprintf(path, sizeof(path), "/tmp/dgb-cnf-XXXXXX");
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	f = fdopen(fd, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f,
		"openssl_conf = openssl_init\n"
		"[openssl_init]\nproviders = provider_sect\n"
		"[provider_sect]\ndefault = default_sect\ndgrambatch = dgrambatch_sect\n"
		"[default_sect]\nactivate = 1\n"
		"[dgrambatch_sect]\nmodule = %s\nactivate = 1\n%s", module, extra);
	fclose(f);
	return path;
}

/*
 * Loaded from a config file next to the default provider: dgrambatch is
 * active and digests still work through the default provider.
 */
START_TEST(test_config_route)
{
	char *path = write_cnf("");
	OSSL_LIB_CTX *ctx = OSSL_LIB_CTX_new();
	EVP_MD *md;
	unsigned char out[32];
	unsigned int outlen = 0;

	ck_assert_int_eq(OSSL_LIB_CTX_load_config(ctx, path), 1);
	unlink(path);
	ck_assert_int_eq(OSSL_PROVIDER_available(ctx, "dgrambatch"), 1);
	ck_assert_int_eq(OSSL_PROVIDER_available(ctx, "default"), 1);
	md = EVP_MD_fetch(ctx, "SHA256", NULL);
	ck_assert_ptr_nonnull(md);
	ck_assert_int_eq(EVP_Digest("abc", 3, out, &outlen, md, NULL), 1);
	ck_assert_uint_eq(outlen, 32);
	ck_assert_uint_eq(out[0], 0xba);
	ck_assert_uint_eq(out[31], 0xad);
	EVP_MD_free(md);
	OSSL_LIB_CTX_free(ctx);
}
END_TEST

static OSSL_PROVIDER *find_prov;

static int find_dgrambatch(OSSL_PROVIDER *p, void *arg)
{
	(void)arg;
	if (strcmp(OSSL_PROVIDER_get0_name(p), DGB_PROVIDER_NAME) == 0)
		find_prov = p;
	return 1;
}

/*
 * Load the configuration file path (removed afterwards) into ctx, and
 * find its dgrambatch provider: find_prov.
 */
static void config_provider(OSSL_LIB_CTX *ctx, const char *path)
{
	ck_assert_int_eq(OSSL_LIB_CTX_load_config(ctx, path), 1);
	unlink(path);
	find_prov = NULL;
	OSSL_PROVIDER_do_all(ctx, find_dgrambatch, NULL);
	ck_assert_ptr_nonnull(find_prov);
}

/*
 * max_batch in the provider's section limits every batched call; the
 * provider reports the limit in force.
 */
START_TEST(test_config_max_batch)
{
	char *path = write_cnf("max_batch = 64\n");
	OSSL_LIB_CTX *ctx = OSSL_LIB_CTX_new();
	unsigned int limit = 0;
	OSSL_PARAM p[] = { OSSL_PARAM_uint(DGB_PARAM_MAX_BATCH, &limit), OSSL_PARAM_END };
	union tu_addr a, b;
	int fa = tu_udp_loopback(AF_INET, &a), fb = tu_udp_loopback(AF_INET, &b);
	BIO *ba;
	BIO_ADDR *to;
	DGB_MSG msg[100];
	size_t done = 0;

	config_provider(ctx, path);
	ck_assert_int_eq(OSSL_PROVIDER_get_params(find_prov, p), 1);
	ck_assert_uint_eq(limit, 64);

	ba = module_bio(DGB_provider_bio_method(find_prov), fa, &b);
	to = BIO_ADDR_new();
	ck_assert(BIO_ADDR_rawmake(to, AF_INET, &b.sin.sin_addr, 4, b.sin.sin_port));
	memset(msg, 0, sizeof(msg));
	for (int i = 0; i < 100; i++) {
		msg[i].data = "m";
		msg[i].data_len = 1;
		msg[i].peer = to;
	}
	ck_assert_int_eq(DGB_sendmmsg(ba, msg, sizeof(DGB_MSG), 100, 0, &done), 1);
	ck_assert_uint_eq(done, 64);
	BIO_ADDR_free(to);
	BIO_free(ba);
	close(fb);
	OSSL_LIB_CTX_free(ctx);
}
END_TEST

/*
 * gso = off in the provider's section: the parameter says so, the module's
 * BIOs do not segment, and a batch of equal datagrams to one peer goes out
 * without a segmented send; gso = anything else keeps the provider from
 * activating.
 */
START_TEST(test_config_gso)
{
	char *path = write_cnf("gso = off\n");
	OSSL_LIB_CTX *ctx = OSSL_LIB_CTX_new();
	char *gso = NULL;
	uint64_t sends0, sends1;
	OSSL_PARAM p[] = { OSSL_PARAM_utf8_ptr(DGB_PARAM_GSO, &gso, 0), OSSL_PARAM_END };
	union tu_addr a, b;
	int fa = tu_udp_loopback(AF_INET, &a), fb = tu_udp_loopback(AF_INET, &b);
	BIO *ba;
	BIO_ADDR *to;
	DGB_MSG msg[8];
	char buf[16];
	size_t done = 0;

	config_provider(ctx, path);
	ck_assert_int_eq(OSSL_PROVIDER_get_params(find_prov, p), 1);
	ck_assert_str_eq(gso, "off");
	ba = module_bio(DGB_provider_bio_method(find_prov), fa, &b);
	ck_assert_int_eq(DGB_get_gso(ba), 0);
	ck_assert_int_eq(DGB_set_gso(ba, 1), 0);
	to = BIO_ADDR_new();
	ck_assert(BIO_ADDR_rawmake(to, AF_INET, &b.sin.sin_addr, 4, b.sin.sin_port));
	memset(msg, 0, sizeof(msg));
	for (int i = 0; i < 8; i++) {
		msg[i].data = "12345678";
		msg[i].data_len = 8;
		msg[i].peer = to;
	}
	sends0 = tu_provider_counter(find_prov, DGB_PARAM_GSO_SENDS);
	ck_assert_int_eq(DGB_sendmmsg(ba, msg, sizeof(DGB_MSG), 8, 0, &done), 1);
	ck_assert_uint_eq(done, 8);
	sends1 = tu_provider_counter(find_prov, DGB_PARAM_GSO_SENDS);
	ck_assert_uint_eq(sends1, sends0);
	for (int i = 0; i < 8; i++)
		ck_assert_int_eq(recv(fb, buf, sizeof(buf), 0), 8);
	BIO_ADDR_free(to);
	BIO_free(ba);
	close(fb);
	OSSL_LIB_CTX_free(ctx);

	path = write_cnf("gso = maybe\n");
	ctx = OSSL_LIB_CTX_new();
	ck_assert_int_eq(OSSL_LIB_CTX_load_config(ctx, path), 1);
	unlink(path);
	ck_assert_int_eq(OSSL_PROVIDER_available(ctx, DGB_PROVIDER_NAME), 0);
	OSSL_LIB_CTX_free(ctx);
}
END_TEST

/*
 * A bad max_batch is refused at load time: the provider does not activate.
 * From a config section with activate = 1, OpenSSL treats a provider that
 * fails to start as a non-fatal configuration problem and drops its errors;
 * loaded with OSSL_PROVIDER_load() (the section without activate), the
 * error naming the key and the value is on the stack.
 */
START_TEST(test_config_bad_value)
{
	static const char *const bad[] = { "0", "1025", "-5", "abc", "12x", "" };
	char line[64];
	char *path;
	OSSL_LIB_CTX *ctx;
	OSSL_PROVIDER *loaded;
	unsigned long err;
	const char *data = NULL;
	int flags = 0, found = 0;
	FILE *f;

	snprintf(line, sizeof(line), "max_batch = %s\n", bad[_i]);
	path = write_cnf(line);
	ctx = OSSL_LIB_CTX_new();
	ck_assert_int_eq(OSSL_LIB_CTX_load_config(ctx, path), 1);
	ck_assert_int_eq(OSSL_PROVIDER_available(ctx, DGB_PROVIDER_NAME), 0);
	OSSL_LIB_CTX_free(ctx);

	/*
	 * The same section without activate, then an explicit load.  OpenSSL
	 * hands a section's keys to an explicit load only since 3.2.
	 */
	if (OpenSSL_version_num() < 0x30200000L) {
		fprintf(stderr, "NOTE test_config_bad_value: OpenSSL %s passes config keys to "
				"activated providers only\n", OpenSSL_version(OPENSSL_VERSION_STRING));
		unlink(path);
		return;
	}
	f = fopen(path, "r+");
	ck_assert_ptr_nonnull(f);
	{
		char text[1024];
		size_t n = fread(text, 1, sizeof(text) - 1, f);
		char *act;

		text[n] = '\0';
		act = strstr(text, "[dgrambatch_sect]");
		ck_assert_ptr_nonnull(act);
		act = strstr(act, "activate = 1");
		ck_assert_ptr_nonnull(act);
		memcpy(act, "activate = 0", 12);
		rewind(f);
		fwrite(text, 1, n, f);
	}
	fclose(f);
	ctx = OSSL_LIB_CTX_new();
	ck_assert_int_eq(OSSL_LIB_CTX_load_config(ctx, path), 1);
	unlink(path);
	ERR_clear_error();
	loaded = OSSL_PROVIDER_load(ctx, DGB_PROVIDER_NAME);
	ck_assert_ptr_null(loaded);
	while ((err = ERR_get_error_all(NULL, NULL, NULL, &data, &flags)) != 0) {
		if (ERR_GET_LIB(err) == ERR_LIB_PROV &&
		    ERR_GET_REASON(err) == PROV_R_INVALID_CONFIG_DATA) {
			ck_assert_ptr_nonnull(data);
			ck_assert_ptr_nonnull(strstr(data, "max_batch"));
			found = 1;
		}
	}
	ck_assert_msg(found, "max_batch = '%s': no PROV_R_INVALID_CONFIG_DATA", bad[_i]);
	OSSL_LIB_CTX_free(ctx);
}
END_TEST

/* Loading twice and unloading in any order leaves nothing behind (ASan). */
START_TEST(test_load_unload)
{
	OSSL_LIB_CTX *ctx = OSSL_LIB_CTX_new();
	OSSL_PROVIDER *p1 = OSSL_PROVIDER_load(ctx, DGB_PROVIDER_NAME);
	OSSL_PROVIDER *p2 = OSSL_PROVIDER_load(ctx, DGB_PROVIDER_NAME);

	ck_assert_ptr_nonnull(p1);
	ck_assert_ptr_eq(p1, p2);
	ck_assert_ptr_nonnull(DGB_provider_bio_method(p1));
	ck_assert_int_eq(OSSL_PROVIDER_unload(p1), 1);
	ck_assert_int_eq(OSSL_PROVIDER_available(ctx, DGB_PROVIDER_NAME), 1);
	ck_assert_int_eq(OSSL_PROVIDER_unload(p2), 1);
	ck_assert_int_eq(OSSL_PROVIDER_available(ctx, DGB_PROVIDER_NAME), 0);
	OSSL_LIB_CTX_free(ctx);
}
END_TEST

/*
 * BIOs outlive the provider: the method stays valid after the provider is
 * unloaded and its library context freed, and a later load hands out the
 * same method.
 */
START_TEST(test_bio_outlives_provider)
{
	OSSL_LIB_CTX *ctx = OSSL_LIB_CTX_new();
	OSSL_PROVIDER *p = OSSL_PROVIDER_load(ctx, DGB_PROVIDER_NAME);
	const BIO_METHOD *m = DGB_provider_bio_method(p);
	union tu_addr a, b;
	int fa = tu_udp_loopback(AF_INET, &a), fb = tu_udp_loopback(AF_INET, &b);
	BIO *ba, *bb;
	char in[8];

	ck_assert_ptr_nonnull(m);
	ba = module_bio(m, fa, &b);
	bb = module_bio(m, fb, &a);
	ck_assert_int_eq(OSSL_PROVIDER_unload(p), 1);
	OSSL_LIB_CTX_free(ctx);

	ck_assert_int_eq(BIO_write(ba, "after", 5), 5);
	ck_assert_int_eq(BIO_read(bb, in, sizeof(in)), 5);
	ck_assert_mem_eq(in, "after", 5);
	ck_assert_str_eq(BIO_method_name(ba), "dgrambatch datagram socket");
	ck_assert_ptr_eq(DGB_provider_bio_method(prov), m);
	BIO_free(ba);
	BIO_free(bb);
}
END_TEST

/* --- the header route ---------------------------------------------------- */

/*
 * Not loaded yet: DGB_s_datagram loads it for the method, and the default
 * provider still loads by itself.
 */
START_TEST(test_header_loads_provider)
{
	OSSL_LIB_CTX *ctx = OSSL_LIB_CTX_new();
	const BIO_METHOD *m;
	EVP_MD *md;

	ck_assert_int_eq(OSSL_PROVIDER_available(ctx, DGB_PROVIDER_NAME), 0);
	m = DGB_s_datagram(ctx);
	ck_assert_ptr_ne(m, BIO_s_datagram());
	ck_assert_int_eq(DGB_method_is_dgrambatch(m), 1);
	/* Loaded only to take the method, which outlives it. */
	ck_assert_int_eq(OSSL_PROVIDER_available(ctx, DGB_PROVIDER_NAME), 0);
	md = EVP_MD_fetch(ctx, "SHA256", NULL);
	ck_assert_ptr_nonnull(md);
	EVP_MD_free(md);
	/* A second call hands out the same method. */
	ck_assert_ptr_eq(DGB_s_datagram(ctx), m);
	ck_assert_uint_eq(ERR_peek_error(), 0);
	OSSL_LIB_CTX_free(ctx);
}
END_TEST

/* Loaded from a config file: that provider's method. */
START_TEST(test_header_uses_configured)
{
	char *path = write_cnf("");
	OSSL_LIB_CTX *ctx = OSSL_LIB_CTX_new();

	config_provider(ctx, path);
	ck_assert_ptr_eq(DGB_s_datagram(ctx), DGB_provider_bio_method(find_prov));
	OSSL_LIB_CTX_free(ctx);
}
END_TEST

/*
 * No module to be found: OpenSSL's own datagram BIO, and nothing left on
 * the error stack; DGB_new_dgram still gives a working BIO.
 */
START_TEST(test_header_falls_back)
{
	OSSL_LIB_CTX *ctx = OSSL_LIB_CTX_new();
	union tu_addr a, b;
	int fa = tu_udp_loopback(AF_INET, &a), fb = tu_udp_loopback(AF_INET, &b);
	BIO *ba;
	char in[8];

	ck_assert_int_eq(OSSL_PROVIDER_set_default_search_path(ctx, "/nonexistent"), 1);
	ERR_clear_error();
	ck_assert_ptr_eq(DGB_s_datagram(ctx), BIO_s_datagram());
	ck_assert_uint_eq(ERR_peek_error(), 0);
	ck_assert_int_eq(DGB_method_is_dgrambatch(BIO_s_datagram()), 0);
	ck_assert_int_eq(DGB_method_is_dgrambatch(NULL), 0);
	ba = DGB_new_dgram(ctx, fa, BIO_CLOSE);
	ck_assert_ptr_nonnull(ba);
	ck_assert_int_eq(DGB_is_dgrambatch(ba), 0);
	{
		BIO_ADDR *to = BIO_ADDR_new();

		ck_assert(BIO_ADDR_rawmake(to, AF_INET, &b.sin.sin_addr, 4, b.sin.sin_port));
		ck_assert_int_eq(BIO_dgram_set_peer(ba, to), 1);
		BIO_ADDR_free(to);
	}
	ck_assert_int_eq(BIO_write(ba, "plain", 5), 5);
	ck_assert_int_eq(recv(fb, in, sizeof(in), 0), 5);
	BIO_free(ba);
	close(fb);
	OSSL_LIB_CTX_free(ctx);
}
END_TEST

/* DGB_new_dgram with the module: its BIO, on the fd, carrying datagrams. */
START_TEST(test_header_new_dgram)
{
	OSSL_LIB_CTX *ctx = OSSL_LIB_CTX_new();
	union tu_addr a, b;
	int fa = tu_udp_loopback(AF_INET, &a), fb = tu_udp_loopback(AF_INET, &b);
	BIO *ba = DGB_new_dgram(ctx, fa, BIO_CLOSE), *bb = DGB_new_dgram(ctx, fb, BIO_NOCLOSE);
	BIO_ADDR *to = BIO_ADDR_new();
	char in[8];

	ck_assert_ptr_nonnull(ba);
	ck_assert_ptr_nonnull(bb);
	ck_assert_int_eq(DGB_is_dgrambatch(ba), 1);
	ck_assert_int_eq(BIO_get_fd(ba, NULL), fa);
	ck_assert_int_eq(BIO_get_close(ba), BIO_CLOSE);
	ck_assert_int_eq(BIO_get_close(bb), BIO_NOCLOSE);
	ck_assert(BIO_ADDR_rawmake(to, AF_INET, &b.sin.sin_addr, 4, b.sin.sin_port));
	ck_assert_int_eq(BIO_dgram_set_peer(ba, to), 1);
	ck_assert_int_eq(BIO_write(ba, "header", 6), 6);
	ck_assert_int_eq(BIO_read(bb, in, sizeof(in)), 6);
	ck_assert_mem_eq(in, "header", 6);
	BIO_ADDR_free(to);
	BIO_free(ba);
	BIO_free(bb);
	close(fb);
	OSSL_LIB_CTX_free(ctx);
}
END_TEST

Suite *suite_provider(void)
{
	Suite *s = suite_create("provider");
	TCase *tc = tcase_create("load");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_standard_params);
	tcase_add_test(tc, test_gettable_params);
	tcase_add_test(tc, test_runtime_params);
	tcase_add_test(tc, test_no_algorithms);
	tcase_add_test(tc, test_bio_method_param);
	tcase_add_test(tc, test_bio_method_other_provider);
	tcase_add_test(tc, test_config_route);
	tcase_add_test(tc, test_config_max_batch);
	tcase_add_test(tc, test_config_gso);
	tcase_add_loop_test(tc, test_config_bad_value, 0, 6);
	tcase_add_test(tc, test_load_unload);
	tcase_add_test(tc, test_bio_outlives_provider);
	suite_add_tcase(s, tc);

	tc = tcase_create("header");
	tcase_add_test(tc, test_header_loads_provider);
	tcase_add_test(tc, test_header_uses_configured);
	tcase_add_test(tc, test_header_falls_back);
	tcase_add_test(tc, test_header_new_dgram);
	suite_add_tcase(s, tc);
	return s;
}
