/*
 * provider.c - the OpenSSL provider entry point of dgrambatch.so.
 *
 * Copyright 2026 The dgrambatch authors.
 * SPDX-License-Identifier: Apache-2.0
 *
 * dgrambatch offers no algorithms.  OpenSSL loads it like any provider, by
 * name from its modules directory or from a config file; what it provides
 * is reached through its parameters: the BIO_METHOD of the module's
 * datagram BIO and the counters of what that BIO moved.
 */
#include "config.h"

#include <openssl/core.h>
#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/opensslv.h>
#include <openssl/err.h>
#include <openssl/params.h>
#include <openssl/proverr.h>

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "dgrambatch.h"
#include "core/core.h"
#include "glue.h"
#include "ossl.h"

struct dgb_provctx {
	const OSSL_CORE_HANDLE *handle;
	/* Process-wide; not freed with the provider (see dgb_bio_method()). */
	const BIO_METHOD *method;
};

#define BUILDINFO PACKAGE_STRING " (built with " OPENSSL_VERSION_TEXT ")"

static const OSSL_PARAM gettable[] = {
	OSSL_PARAM_utf8_ptr(OSSL_PROV_PARAM_NAME, NULL, 0),
	OSSL_PARAM_utf8_ptr(OSSL_PROV_PARAM_VERSION, NULL, 0),
	OSSL_PARAM_utf8_ptr(OSSL_PROV_PARAM_BUILDINFO, NULL, 0),
	OSSL_PARAM_int(OSSL_PROV_PARAM_STATUS, NULL),
	OSSL_PARAM_octet_ptr(DGB_PARAM_BIO_METHOD, NULL, 0),
	OSSL_PARAM_uint64(DGB_PARAM_TX_DATAGRAMS, NULL),
	OSSL_PARAM_uint64(DGB_PARAM_RX_DATAGRAMS, NULL),
	OSSL_PARAM_uint64(DGB_PARAM_TX_BYTES, NULL),
	OSSL_PARAM_uint64(DGB_PARAM_RX_BYTES, NULL),
	OSSL_PARAM_uint64(DGB_PARAM_TX_SYSCALLS, NULL),
	OSSL_PARAM_uint64(DGB_PARAM_RX_SYSCALLS, NULL),
	OSSL_PARAM_uint64(DGB_PARAM_ICMP_ERRORS, NULL),
	OSSL_PARAM_uint64(DGB_PARAM_FALLBACK_BATCHES, NULL),
	OSSL_PARAM_uint(DGB_PARAM_MAX_BATCH, NULL),
	OSSL_PARAM_int(DGB_PARAM_NATIVE_MMSG, NULL),
	OSSL_PARAM_utf8_ptr(DGB_PARAM_MODULE_PATH, NULL, 0),
	OSSL_PARAM_uint64(DGB_PARAM_GSO_SENDS, NULL),
	OSSL_PARAM_uint64(DGB_PARAM_GSO_SEGMENTS, NULL),
	OSSL_PARAM_uint64(DGB_PARAM_GSO_FALLBACKS, NULL),
	OSSL_PARAM_utf8_ptr(DGB_PARAM_GSO, NULL, 0),
	OSSL_PARAM_uint64(DGB_PARAM_GRO_RECEIVES, NULL),
	OSSL_PARAM_uint64(DGB_PARAM_GRO_SEGMENTS, NULL),
	OSSL_PARAM_uint64(DGB_PARAM_GRO_CARRIED, NULL),
	OSSL_PARAM_uint64(DGB_PARAM_RX_KERNEL_DROPS, NULL),
	OSSL_PARAM_uint64(DGB_PARAM_RX_TRUNCATED, NULL),
	OSSL_PARAM_utf8_ptr(DGB_PARAM_GRO, NULL, 0),
	OSSL_PARAM_END
};

static const OSSL_PARAM *dgb_gettable_params(void *provctx)
{
	return gettable;
}

static int set_utf8(OSSL_PARAM *params, const char *key, const char *val)
{
	OSSL_PARAM *p = OSSL_PARAM_locate(params, key);

	return p == NULL || OSSL_PARAM_set_utf8_ptr(p, val);
}

static int set_counter(OSSL_PARAM *params, const char *key, enum dgb_counter c)
{
	OSSL_PARAM *p = OSSL_PARAM_locate(params, key);

	return p == NULL || OSSL_PARAM_set_uint64(p, dgb_counter(c));
}

static int dgb_get_params(void *provctx, OSSL_PARAM params[])
{
	struct dgb_provctx *ctx = provctx;
	OSSL_PARAM *p;

	const char *path = dgb_ossl_self_path();

	if (!set_utf8(params, OSSL_PROV_PARAM_NAME, DGB_PROVIDER_NAME) ||
	    !set_utf8(params, OSSL_PROV_PARAM_VERSION, PACKAGE_VERSION) ||
	    !set_utf8(params, OSSL_PROV_PARAM_BUILDINFO, BUILDINFO) ||
	    !set_utf8(params, DGB_PARAM_MODULE_PATH, path != NULL ? path : "") ||
	    !set_utf8(params, DGB_PARAM_GSO, dgb_gso_allowed() ? "auto" : "off") ||
	    !set_utf8(params, DGB_PARAM_GRO, dgb_gro_allowed() ? "auto" : "off"))
		return 0;
	p = OSSL_PARAM_locate(params, DGB_PARAM_NATIVE_MMSG);
	if (p != NULL && !OSSL_PARAM_set_int(p, dgb_bio_native_mmsg()))
		return 0;
	p = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_STATUS);
	if (p != NULL && !OSSL_PARAM_set_int(p, ctx->method != NULL))
		return 0;
	p = OSSL_PARAM_locate(params, DGB_PARAM_MAX_BATCH);
	if (p != NULL && !OSSL_PARAM_set_uint(p, dgb_batch_limit()))
		return 0;
	p = OSSL_PARAM_locate(params, DGB_PARAM_BIO_METHOD);
	if (p != NULL && !OSSL_PARAM_set_octet_ptr(p, (void *)ctx->method, 0))
		return 0;
	return set_counter(params, DGB_PARAM_TX_DATAGRAMS, DGB_TX_DATAGRAMS) &&
	       set_counter(params, DGB_PARAM_RX_DATAGRAMS, DGB_RX_DATAGRAMS) &&
	       set_counter(params, DGB_PARAM_TX_BYTES, DGB_TX_BYTES) &&
	       set_counter(params, DGB_PARAM_RX_BYTES, DGB_RX_BYTES) &&
	       set_counter(params, DGB_PARAM_TX_SYSCALLS, DGB_TX_SYSCALLS) &&
	       set_counter(params, DGB_PARAM_RX_SYSCALLS, DGB_RX_SYSCALLS) &&
	       set_counter(params, DGB_PARAM_ICMP_ERRORS, DGB_ICMP_ERRORS) &&
	       set_counter(params, DGB_PARAM_FALLBACK_BATCHES, DGB_FALLBACK_BATCHES) &&
	       set_counter(params, DGB_PARAM_GSO_SENDS, DGB_GSO_SENDS) &&
	       set_counter(params, DGB_PARAM_GSO_SEGMENTS, DGB_GSO_SEGMENTS) &&
	       set_counter(params, DGB_PARAM_GSO_FALLBACKS, DGB_GSO_FALLBACKS) &&
	       set_counter(params, DGB_PARAM_GRO_RECEIVES, DGB_GRO_RECEIVES) &&
	       set_counter(params, DGB_PARAM_GRO_SEGMENTS, DGB_GRO_SEGMENTS) &&
	       set_counter(params, DGB_PARAM_GRO_CARRIED, DGB_GRO_CARRIED) &&
	       set_counter(params, DGB_PARAM_RX_KERNEL_DROPS, DGB_RX_KERNEL_DROPS) &&
	       set_counter(params, DGB_PARAM_RX_TRUNCATED, DGB_RX_TRUNCATED);
}

/* No operations: dgrambatch supplies a BIO, not algorithms. */
static const OSSL_ALGORITHM *dgb_query_operation(void *provctx, int operation_id,
						 int *no_cache)
{
	*no_cache = 0;
	return NULL;
}

static void dgb_teardown(void *provctx)
{
	OPENSSL_free(provctx);
}

static const OSSL_DISPATCH dgb_dispatch[] = {
	{ OSSL_FUNC_PROVIDER_TEARDOWN, (void (*)(void))dgb_teardown },
	{ OSSL_FUNC_PROVIDER_GETTABLE_PARAMS, (void (*)(void))dgb_gettable_params },
	{ OSSL_FUNC_PROVIDER_GET_PARAMS, (void (*)(void))dgb_get_params },
	{ OSSL_FUNC_PROVIDER_QUERY_OPERATION, (void (*)(void))dgb_query_operation },
	{ 0, NULL }
};

/* The core's functions the provider uses, from the dispatch table it was handed. */
struct core_fns {
	OSSL_FUNC_core_get_params_fn *get_params;
	OSSL_FUNC_core_new_error_fn *new_error;
	OSSL_FUNC_core_set_error_debug_fn *set_error_debug;
	OSSL_FUNC_core_vset_error_fn *vset_error;
};

static void core_fns_read(struct core_fns *c, const OSSL_DISPATCH *in)
{
	memset(c, 0, sizeof(*c));
	for (; in != NULL && in->function_id != 0; in++) {
		switch (in->function_id) {
		case OSSL_FUNC_CORE_GET_PARAMS:
			c->get_params = OSSL_FUNC_core_get_params(in);
			break;
		case OSSL_FUNC_CORE_NEW_ERROR:
			c->new_error = OSSL_FUNC_core_new_error(in);
			break;
		case OSSL_FUNC_CORE_SET_ERROR_DEBUG:
			c->set_error_debug = OSSL_FUNC_core_set_error_debug(in);
			break;
		case OSSL_FUNC_CORE_VSET_ERROR:
			c->vset_error = OSSL_FUNC_core_vset_error(in);
			break;
		}
	}
}

/* The provider's own reason code; the text says the rest. */
#define DGB_R_FOREIGN_CORE 1

/*
 * An error on the error stack of the libcrypto that is loading the
 * provider, which need not be the one the module is linked to.
 */
static void core_error(const struct core_fns *c, const OSSL_CORE_HANDLE *handle,
		       const char *func, int line, const char *fmt, ...)
{
	va_list ap;

	if (c->new_error == NULL || c->set_error_debug == NULL || c->vset_error == NULL)
		return;
	c->new_error(handle);
	c->set_error_debug(handle, OPENSSL_FILE, line, func);
	va_start(ap, fmt);
	c->vset_error(handle, DGB_R_FOREIGN_CORE, fmt, ap);
	va_end(ap);
}

/*
 * The module hands out a BIO_METHOD made by the libcrypto it is linked to.
 * A program with a second or a static libcrypto would get structures of
 * another library, perhaps of another layout: refuse to load there.
 */
static int core_is_own(const struct core_fns *c, const OSSL_CORE_HANDLE *handle)
{
	const char *own = dgb_ossl_libcrypto_path();

	if (c->get_params == NULL || dgb_ossl_is_own_core((void (*)(void))c->get_params))
		return 1;
	core_error(c, handle, OPENSSL_FUNC, OPENSSL_LINE,
		   "dgrambatch: the OpenSSL loading this provider is not the libcrypto the "
		   "module is linked to (%s); a program with a static or second libcrypto "
		   "cannot use it",
		   own != NULL ? own : "libcrypto.so.3");
	return 0;
}

/*
 * The keys of the provider's configuration section (see dgrambatch(7)).
 * A value that does not parse is refused at load time, with an error that
 * names the key and the value, and the provider does not load.
 */
static int read_max_batch(const char *max_batch)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(max_batch, &end, 10);
	if (errno != 0 || end == max_batch || *end != '\0' || max_batch[0] == '-' || v < 1 ||
	    v > DGB_MAX_MSGS) {
		ERR_raise_data(ERR_LIB_PROV, PROV_R_INVALID_CONFIG_DATA,
			       "dgrambatch: %s = \"%s\": expected a whole number from 1 to %d",
			       DGB_CONF_MAX_BATCH, max_batch, DGB_MAX_MSGS);
		return 0;
	}
	dgb_set_batch_limit((unsigned int)v);
	return 1;
}

/* An offload switch, "auto" or "off"; set() gets whether it is auto. */
static int read_switch(const char *key, const char *val, void (*set)(int))
{
	if (strcmp(val, "auto") != 0 && strcmp(val, "off") != 0) {
		ERR_raise_data(ERR_LIB_PROV, PROV_R_INVALID_CONFIG_DATA,
			       "dgrambatch: %s = \"%s\": expected auto or off", key, val);
		return 0;
	}
	set(strcmp(val, "auto") == 0);
	return 1;
}

static int read_config(const struct core_fns *c, const OSSL_CORE_HANDLE *handle)
{
	const char *max_batch = NULL, *gso = NULL, *gro = NULL;
	OSSL_PARAM p[] = {
		OSSL_PARAM_utf8_ptr(DGB_CONF_MAX_BATCH, (char **)&max_batch, 0),
		OSSL_PARAM_utf8_ptr(DGB_CONF_GSO, (char **)&gso, 0),
		OSSL_PARAM_utf8_ptr(DGB_CONF_GRO, (char **)&gro, 0),
		OSSL_PARAM_END
	};

	if (c->get_params == NULL || !c->get_params(handle, p))
		return 1;
	return (max_batch == NULL || read_max_batch(max_batch)) &&
	       (gso == NULL || read_switch(DGB_CONF_GSO, gso, dgb_set_gso_allowed)) &&
	       (gro == NULL || read_switch(DGB_CONF_GRO, gro, dgb_set_gro_allowed));
}

DGB_EXPORT int OSSL_provider_init(const OSSL_CORE_HANDLE *handle,
				  const OSSL_DISPATCH *in,
				  const OSSL_DISPATCH **out, void **provctx)
{
	struct dgb_provctx *ctx;
	struct core_fns core;

	core_fns_read(&core, in);
	if (!core_is_own(&core, handle) || !read_config(&core, handle))
		goto err1;
	ctx = OPENSSL_zalloc(sizeof(*ctx));
	if (ctx == NULL)
		goto err1;
	ctx->handle = handle;
	ctx->method = dgb_bio_method();
	if (ctx->method == NULL)
		goto err2;
	*out = dgb_dispatch;
	*provctx = ctx;
	return 1;

err2:
	OPENSSL_free(ctx);
err1:
	return 0;
}
