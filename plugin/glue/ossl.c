/*
 * ossl.c - what the running libcrypto offers, decided at run time.
 *
 * Copyright 2026 The dgrambatch authors.
 * SPDX-License-Identifier: Apache-2.0
 *
 * Functions later than OpenSSL 3.0 are looked up by name in the very
 * libcrypto the module is bound to, not in the process's global scope,
 * where a program with two libcrypto copies could hand over another
 * library's.  That libcrypto is found from the address of data it owns:
 * the BIO_METHOD that BIO_s_mem() returns.  The address of one of its
 * functions would not do: in a program built without PIE that takes the
 * function's address, every object sees the program's PLT entry instead.
 */
#include "config.h"

#include <dlfcn.h>
#include <stdatomic.h>
#include <stddef.h>

#include "ossl.h"

typedef int set_mmsg_fn(BIO_METHOD *m, dgb_meth_mmsg_fn *fn);

/* The dladdr() answer for an address of ours or of libcrypto's. */
static int object_of(const void *addr, Dl_info *info)
{
	return addr != NULL && dladdr(addr, info) != 0 && info->dli_fname != NULL;
}

/* Data inside the libcrypto the module is bound to. */
static const void *libcrypto_data(void)
{
	return BIO_s_mem();
}

const char *dgb_ossl_libcrypto_path(void)
{
	Dl_info info;

	return object_of(libcrypto_data(), &info) ? info.dli_fname : NULL;
}

const char *dgb_ossl_self_path(void)
{
	Dl_info info;

	return object_of((const void *)&dgb_ossl_self_path, &info) ? info.dli_fname : NULL;
}

/* A symbol of the libcrypto the module is bound to, or NULL. */
static void *libcrypto_sym(const char *name)
{
	const char *path = dgb_ossl_libcrypto_path();
	void *h, *sym;

	if (path == NULL)
		return NULL;
	/* Already loaded, since the module calls it: this only finds it. */
	h = dlopen(path, RTLD_LAZY | RTLD_NOLOAD);
	if (h == NULL)
		return NULL;
	sym = dlsym(h, name);
	dlclose(h);
	return sym;
}

int dgb_ossl_set_mmsg(BIO_METHOD *m, dgb_meth_mmsg_fn *send, dgb_meth_mmsg_fn *recv)
{
	set_mmsg_fn *set_send = (set_mmsg_fn *)libcrypto_sym("BIO_meth_set_sendmmsg");
	set_mmsg_fn *set_recv = (set_mmsg_fn *)libcrypto_sym("BIO_meth_set_recvmmsg");

	if (set_send == NULL || set_recv == NULL)
		return 0;
	return set_send(m, send) && set_recv(m, recv) ? 1 : -1;
}

int dgb_ossl_is_own_core(void (*fn)(void))
{
	Dl_info core, own;

	if (!object_of((const void *)fn, &core) || !object_of(libcrypto_data(), &own))
		return 1;
	return core.dli_fbase == own.dli_fbase;
}
