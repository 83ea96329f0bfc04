/*
 * fuzz_provider_conf.c - the provider's configuration (provider.c
 * read_config/read_max_batch/read_switch) with any keys and values: the
 * module's OSSL_provider_init is added as a built-in provider of a
 * library context and loaded with the input's parameters, as OpenSSL
 * hands a provider section's key = value pairs (OSSL_PROVIDER_load_ex,
 * OpenSSL 3.2 and later; before, through a configuration file).
 *
 * Input: up to 6 entries, each a key choice (max_batch, gso, gro, or a
 * key from the input) and a value (often a number or a word the parser
 * must judge, else any bytes), each key once.
 *
 * Invariants: the provider loads exactly when every value of the module's
 * keys is valid (max_batch: strtoul's form of a whole number from 1 to
 * DGB_MAX_MSGS, no sign but '+'; gso and gro: "auto" or "off"), other keys
 * ignored; a refused load leaves an error on the stack; a loaded
 * provider reports the batch limit it was given and its switches are
 * set; no leak across load and unload.
 *
 * Copyright 2026 The dgrambatch authors.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <unistd.h>

#include <openssl/core.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/params.h>
#include <openssl/provider.h>

#include "dgrambatch.h"
#include "glue/glue.h"
#include "fuzz.h"

#if OPENSSL_VERSION_NUMBER < 0x30200000L
#error "fuzz_provider_conf needs OpenSSL 3.2 or later (OSSL_PROVIDER_load_ex)"
#endif

#define NAME "dgbfuzz"
#define MAX_ENTRIES 6
#define MAX_VAL 40

OSSL_provider_init_fn OSSL_provider_init;

static const char *const words[] = {
	"auto", "off", "on", "AUTO", "", "0", "1", "64", "1024", "1025", "+5", " 7", "-1", "- 1",
	"18446744073709551617", "4294967297", "12a", "0x10", "01024", "\t3", "yes", "no",
};

/* Whether the module must take v as max_batch, worked out on its own. */
static int valid_max_batch(const char *v)
{
	unsigned long n = 0;

	while (*v == ' ' || (*v >= '\t' && *v <= '\r'))
		v++;
	if (*v == '+')
		v++;
	else if (*v == '-')
		return 0;
	if (!isdigit((unsigned char)*v))
		return 0;
	for (; *v != '\0'; v++) {
		if (!isdigit((unsigned char)*v))
			return 0;
		n = n * 10 + (unsigned long)(*v - '0');
		if (n > DGB_MAX_MSGS)
			return 0;
	}
	return n >= 1;
}

static unsigned long max_batch_value(const char *v)
{
	return strtoul(v, NULL, 10);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct in in = { data, size };
	char keys[MAX_ENTRIES][MAX_VAL + 1], vals[MAX_ENTRIES][MAX_VAL + 1];
	OSSL_PARAM params[MAX_ENTRIES + 1];
	const char *mb = NULL, *gso = NULL, *gro = NULL;
	unsigned int n = 0, limit = 0;
	int want = 1;
	OSSL_PROVIDER *prov;
	OSSL_LIB_CTX *ctx;

	/*
	 * A library context of its own each time: a provider once in a
	 * context's store is found there again by name, its old parameters
	 * and all, and never sees new ones.
	 */
	ctx = OSSL_LIB_CTX_new();
	CHECK(ctx != NULL);
	CHECK(OSSL_PROVIDER_add_builtin(ctx, NAME, OSSL_provider_init));
	dgb_set_batch_limit(DGB_MAX_MSGS);
	dgb_set_gso_allowed(1);
	dgb_set_gro_allowed(1);

	for (unsigned int e = in_u8(&in) % (MAX_ENTRIES + 1); e > 0 && in.n > 0; e--) {
		uint8_t k = in_u8(&in), v = in_u8(&in);
		const char **slot = NULL;
		int dup = 0;

		switch (k % 4) {
		case 0:
			strcpy(keys[n], DGB_CONF_MAX_BATCH);
			break;
		case 1:
			strcpy(keys[n], DGB_CONF_GSO);
			break;
		case 2:
			strcpy(keys[n], DGB_CONF_GRO);
			break;
		default: {
			size_t l = in_u8(&in) % MAX_VAL;

			in_bytes(&in, keys[n], l);
			keys[n][l] = '\0';
			break;
		}
		}
		if (v < 128) {
			snprintf(vals[n], sizeof(vals[n]), "%s", words[v % (sizeof(words) / sizeof(words[0]))]);
		} else if (v < 192) {
			snprintf(vals[n], sizeof(vals[n]), "%lu", (unsigned long)in_u32(&in) >> (v & 31));
		} else {
			size_t l = in_u8(&in) % MAX_VAL;

			in_bytes(&in, vals[n], l);
			vals[n][l] = '\0';
		}
		for (unsigned int j = 0; j < n; j++)
			dup |= strcmp(keys[j], keys[n]) == 0;
		if (dup || keys[n][0] == '\0')
			continue;
		if (strcmp(keys[n], DGB_CONF_MAX_BATCH) == 0)
			slot = &mb;
		else if (strcmp(keys[n], DGB_CONF_GSO) == 0)
			slot = &gso;
		else if (strcmp(keys[n], DGB_CONF_GRO) == 0)
			slot = &gro;
		if (slot != NULL)
			*slot = vals[n];
		params[n] = OSSL_PARAM_construct_utf8_string(keys[n], vals[n], 0);
		n++;
	}
	params[n] = OSSL_PARAM_construct_end();

	if (mb != NULL)
		want &= valid_max_batch(mb);
	if (gso != NULL)
		want &= strcmp(gso, "auto") == 0 || strcmp(gso, "off") == 0;
	if (gro != NULL)
		want &= strcmp(gro, "auto") == 0 || strcmp(gro, "off") == 0;

	ERR_clear_error();
	prov = OSSL_PROVIDER_load_ex(ctx, NAME, params);
	if (!want) {
		CHECK(prov == NULL);
		CHECK(ERR_peek_error() != 0);
	} else {
		OSSL_PARAM q[2] = { OSSL_PARAM_construct_uint(DGB_PARAM_MAX_BATCH, &limit),
				    OSSL_PARAM_construct_end() };

		CHECK(prov != NULL);
		CHECK(OSSL_PROVIDER_get_params(prov, q));
		CHECK(limit == (mb != NULL ? max_batch_value(mb) : DGB_MAX_MSGS));
		CHECK(dgb_gso_allowed() == (gso == NULL || strcmp(gso, "auto") == 0));
		CHECK(dgb_gro_allowed() == (gro == NULL || strcmp(gro, "auto") == 0));
		CHECK(OSSL_PROVIDER_unload(prov));
	}
	OSSL_LIB_CTX_free(ctx);
	ERR_clear_error();
	return 0;
}
