/*
 * dgram_diff.h - the differential harness: run one scenario against
 * OpenSSL's BIO_s_datagram and against the dgrambatch method, record every
 * observable outcome of each, and require the two records to be equal.
 *
 * Copyright 2026 The dgrambatch authors.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef DGB_DGRAM_DIFF_H
#define DGB_DGRAM_DIFF_H

#include <stdint.h>
#include <openssl/bio.h>
#include <openssl/provider.h>

#include "testutil.h"

#define ENV_MAX_SOCKS 8
#define ENV_MAX_BIOS 8
#define TR_MAX 400

struct env {
	const BIO_METHOD *meth;
	/* 0 while running against OpenSSL's own BIO, 1 against dgrambatch. */
	int module;
	int nsocks;
	int fds[ENV_MAX_SOCKS];
	union tu_addr addrs[ENV_MAX_SOCKS];
	int nbios;
	BIO *bios[ENV_MAX_BIOS];
};

struct tr_entry {
	char label[64];
	long v;
	/* Recorded between TR_SINCE_32_BEGIN and _END. */
	int since_32;
};

/* A record of outcomes, in order; labels make a divergence readable. */
struct tr {
	int n;
	int since_32;
	struct tr_entry e[TR_MAX];
};

/*
 * Steps whose outcome OpenSSL changed in 3.2 (see dgrambatch(7), "OpenSSL
 * 3.0 and 3.1").  The module gives the 3.5 outcome everywhere; against an
 * older OpenSSL these steps are left out of the comparison and listed.
 */
#define TR_SINCE_32_BEGIN(t) ((t)->since_32 = 1)
#define TR_SINCE_32_END(t) ((t)->since_32 = 0)

typedef void scenario_fn(struct env *e, struct tr *t);

/*
 * What a scenario needs.  DIFF_SINCE_32: OpenSSL's own BIO learnt these
 * controls in 3.2; on 3.0 and 3.1 only dgrambatch runs, and its answers
 * are checked by the scenario's own assertions, which hold for OpenSSL 3.5
 * as well.  DIFF_IPV6: left out where ::1 cannot be used.
 */
enum { DIFF_SINCE_32 = 1, DIFF_IPV6 = 2 };

void differential(scenario_fn *sc, const char *name, unsigned int flags);

/* A Check test, test_<sc>, that runs scenario sc differentially. */
#define DIFF_TEST(sc, flags)                    \
	START_TEST(test_##sc)                   \
	{                                       \
		differential(sc, #sc, (flags)); \
	}                                       \
	END_TEST

/* Recording. */
void tr_long(struct tr *t, const char *label, long v);
void tr_mem(struct tr *t, const char *label, const void *p, long n);
void tr_retry(struct tr *t, const char *label, BIO *b);
void tr_errors(struct tr *t, const char *label);
void tr_addr(struct tr *t, const char *label, const struct env *e, const BIO_ADDR *a);

/* Environment. */
int env_udp(struct env *e, int family);
int env_add_fd(struct env *e, int fd, const union tu_addr *addr);
BIO *env_bio(struct env *e, int fd, int close_flag);
BIO_ADDR *env_bio_addr(const union tu_addr *a);
int openssl_since_32(void);

/*
 * The module, loaded once per test process into the default library
 * context; its counters by parameter name.
 */
OSSL_PROVIDER *module_provider(void);
const BIO_METHOD *module_method(void);
uint64_t module_counter(const char *name);

/* Receive one datagram on a raw socket within 1s; -1 if none came. */
long raw_recv(int fd, void *buf, size_t len);

#endif /* DGB_DGRAM_DIFF_H */
