/*
 * dgram_diff.c - the differential harness.
 *
 * Copyright 2026 The dgrambatch authors.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/provider.h>

#include "dgrambatch.h"
#include "dgram_diff.h"

int openssl_since_32(void)
{
	return OpenSSL_version_num() >= 0x30200000L;
}

void tr_long(struct tr *t, const char *label, long v)
{
	ck_assert_int_lt(t->n, TR_MAX);
	snprintf(t->e[t->n].label, sizeof(t->e[t->n].label), "%s", label);
	t->e[t->n].v = v;
	t->e[t->n].since_32 = t->since_32;
	t->n++;
}

/* Length and FNV-1a hash of the bytes. */
void tr_mem(struct tr *t, const char *label, const void *p, long n)
{
	unsigned long h = 1469598103934665603UL;
	char l[64];

	for (long i = 0; i < n; i++)
		h = (h ^ ((const unsigned char *)p)[i]) * 1099511628211UL;
	snprintf(l, sizeof(l), "%s (length)", label);
	tr_long(t, l, n);
	snprintf(l, sizeof(l), "%s (bytes)", label);
	tr_long(t, l, n > 0 ? (long)h : 0);
}

void tr_retry(struct tr *t, const char *label, BIO *b)
{
	tr_long(t, label, (BIO_should_retry(b) ? 1 : 0) | (BIO_should_read(b) ? 2 : 0) |
				  (BIO_should_write(b) ? 4 : 0) |
				  (BIO_should_io_special(b) ? 8 : 0));
}

/* Every error on the stack, as library and reason, and the stack emptied. */
void tr_errors(struct tr *t, const char *label)
{
	unsigned long err;
	int n = 0;
	char l[64];

	while ((err = ERR_get_error()) != 0) {
		snprintf(l, sizeof(l), "%s: error %d library", label, n);
		tr_long(t, l, ERR_GET_LIB(err));
		snprintf(l, sizeof(l), "%s: error %d reason", label, n);
		tr_long(t, l, ERR_GET_REASON(err));
		n++;
	}
	snprintf(l, sizeof(l), "%s: errors", label);
	tr_long(t, l, n);
}

/*
 * An address as family and which of the scenario's sockets it names (by
 * port, so a v4-mapped address names the IPv4 socket it maps to); 99 for
 * none of them.  Ports differ from run to run, names do not.
 */
void tr_addr(struct tr *t, const char *label, const struct env *e, const BIO_ADDR *a)
{
	char l[64];
	int family = BIO_ADDR_family(a), which = 99;
	unsigned short port = ntohs(BIO_ADDR_rawport(a));

	for (int i = 0; i < e->nsocks && family != AF_UNSPEC; i++) {
		const union tu_addr *s = &e->addrs[i];
		unsigned short p = ntohs(s->sa.sa_family == AF_INET6 ? s->sin6.sin6_port
								       : s->sin.sin_port);

		if (p == port && p != 0)
			which = i;
	}
	snprintf(l, sizeof(l), "%s (family)", label);
	tr_long(t, l, family);
	snprintf(l, sizeof(l), "%s (socket)", label);
	tr_long(t, l, family == AF_UNSPEC ? -1 : which);
}

int env_add_fd(struct env *e, int fd, const union tu_addr *addr)
{
	ck_assert_int_lt(e->nsocks, ENV_MAX_SOCKS);
	e->fds[e->nsocks] = fd;
	if (addr != NULL)
		e->addrs[e->nsocks] = *addr;
	else
		memset(&e->addrs[e->nsocks], 0, sizeof(e->addrs[0]));
	return e->nsocks++;
}

/* A loopback UDP socket that the environment closes, unless a BIO takes it. */
int env_udp(struct env *e, int family)
{
	union tu_addr a;
	int fd = tu_udp_loopback(family, &a);

	env_add_fd(e, fd, &a);
	return fd;
}

/* A BIO of the method under test on fd; the environment frees it. */
BIO *env_bio(struct env *e, int fd, int close_flag)
{
	BIO *b = BIO_new(e->meth);

	ck_assert_ptr_nonnull(b);
	ck_assert_int_lt(e->nbios, ENV_MAX_BIOS);
	e->bios[e->nbios++] = b;
	if (fd >= 0)
		ck_assert_int_eq(BIO_set_fd(b, fd, close_flag), 1);
	if (fd >= 0 && close_flag == BIO_CLOSE) {
		/* The BIO closes it now. */
		for (int i = 0; i < e->nsocks; i++)
			if (e->fds[i] == fd)
				e->fds[i] = -1;
	}
	return b;
}

BIO_ADDR *env_bio_addr(const union tu_addr *a)
{
	BIO_ADDR *ap = BIO_ADDR_new();

	ck_assert_ptr_nonnull(ap);
	if (a->sa.sa_family == AF_INET)
		ck_assert(BIO_ADDR_rawmake(ap, AF_INET, &a->sin.sin_addr, sizeof(a->sin.sin_addr),
					   a->sin.sin_port));
	else
		ck_assert(BIO_ADDR_rawmake(ap, AF_INET6, &a->sin6.sin6_addr,
					   sizeof(a->sin6.sin6_addr), a->sin6.sin6_port));
	return ap;
}

long raw_recv(int fd, void *buf, size_t len)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	if (poll(&p, 1, 1000) != 1)
		return -1;
	return recv(fd, buf, len, MSG_DONTWAIT);
}

static void env_done(struct env *e)
{
	for (int i = 0; i < e->nbios; i++)
		BIO_free(e->bios[i]);
	for (int i = 0; i < e->nsocks; i++)
		if (e->fds[i] >= 0)
			close(e->fds[i]);
	ERR_clear_error();
}

OSSL_PROVIDER *module_provider(void)
{
	static OSSL_PROVIDER *prov;

	if (prov == NULL) {
		prov = OSSL_PROVIDER_load(NULL, DGB_PROVIDER_NAME);
		if (prov == NULL)
			ERR_print_errors_fp(stderr);
		ck_assert_ptr_nonnull(prov);
	}
	return prov;
}

const BIO_METHOD *module_method(void)
{
	return DGB_provider_bio_method(module_provider());
}

uint64_t module_counter(const char *name)
{
	uint64_t v = 0;
	OSSL_PARAM p[] = { OSSL_PARAM_uint64(name, &v), OSSL_PARAM_END };

	ck_assert_int_eq(OSSL_PROVIDER_get_params(module_provider(), p), 1);
	return v;
}

static void run(scenario_fn *sc, const BIO_METHOD *m, int module, struct tr *t)
{
	struct env e;

	memset(&e, 0, sizeof(e));
	e.meth = m;
	e.module = module;
	ERR_clear_error();
	sc(&e, t);
	env_done(&e);
}

/* Leave out, and list, the steps whose outcome changed in OpenSSL 3.2. */
static void drop_since_32(struct tr *t, const char *name, const char *who)
{
	int n = 0;

	for (int i = 0; i < t->n; i++) {
		if (t->e[i].since_32)
			fprintf(stderr, "NOTE %s: %s: '%s' = %ld (changed in OpenSSL 3.2; not compared)\n",
				name, who, t->e[i].label, t->e[i].v);
		else
			t->e[n++] = t->e[i];
	}
	t->n = n;
}

void differential(scenario_fn *sc, const char *name, unsigned int flags)
{
	struct tr *ref = calloc(1, sizeof(*ref)), *mod = calloc(1, sizeof(*mod));
	const BIO_METHOD *m = module_method();
	int compare = !(flags & DIFF_SINCE_32) || openssl_since_32();

	ck_assert_ptr_nonnull(ref);
	ck_assert_ptr_nonnull(mod);
	ck_assert_ptr_nonnull(m);
	ck_assert_ptr_ne(m, BIO_s_datagram());

	if (compare)
		run(sc, BIO_s_datagram(), 0, ref);
	run(sc, m, 1, mod);
	if (!compare) {
		fprintf(stderr, "NOTE %s: OpenSSL %s's datagram BIO predates these controls; "
				"dgrambatch answers as OpenSSL 3.5 does (checked by assertions)\n",
			name, OpenSSL_version(OPENSSL_VERSION_STRING));
		ck_assert_int_gt(mod->n, 0);
		goto out;
	}

	ck_assert_int_gt(ref->n, 0);
	if (!openssl_since_32()) {
		drop_since_32(ref, name, "OpenSSL");
		drop_since_32(mod, name, "dgrambatch");
	}
	for (int i = 0; i < ref->n && i < mod->n; i++) {
		ck_assert_msg(strcmp(ref->e[i].label, mod->e[i].label) == 0,
			      "%s: step %d is '%s' for OpenSSL but '%s' for dgrambatch", name, i,
			      ref->e[i].label, mod->e[i].label);
		ck_assert_msg(ref->e[i].v == mod->e[i].v,
			      "%s: '%s': OpenSSL %ld, dgrambatch %ld", name, ref->e[i].label,
			      ref->e[i].v, mod->e[i].v);
	}
	ck_assert_msg(ref->n == mod->n, "%s: %d outcomes for OpenSSL, %d for dgrambatch", name,
		      ref->n, mod->n);
out:
	free(ref);
	free(mod);
}
