/*
 * testutil.h - helpers shared by the Check suites.
 *
 * Copyright 2026 The dgrambatch authors.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef DGB_TESTUTIL_H
#define DGB_TESTUTIL_H

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <openssl/provider.h>

union tu_addr {
	struct sockaddr sa;
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
	struct sockaddr_storage ss;
};

/*
 * A UDP socket bound to an ephemeral port on the loopback address of
 * `family` (127.0.0.1 or ::1); its address is written to *addr.  Fails the
 * test on error.
 */
int tu_udp_loopback(int family, union tu_addr *addr);

/*
 * A UDP socket bound to an ephemeral port on the wildcard address of
 * `family` (IPv6 only for AF_INET6); its address is written to *addr.
 * Fails the test on error.
 */
int tu_udp_wildcard(int family, union tu_addr *addr);
socklen_t tu_addr_len(const union tu_addr *addr);

/* Whether ::1 can be bound here; when not, *why says why. */
int tu_ipv6_available(const char **why);

/* Set DGRAMBATCH_CAPS_DISABLE (NULL unsets it) and drop the probe cache. */
void tu_caps_disable(const char *list);

/*
 * Lower the soft RLIMIT_NOFILE to the lowest free descriptor, so that no
 * descriptor can be opened (socket() fails with EMFILE, checked); the
 * limit before goes to *saved, for tu_fd_limit_restore().
 */
void tu_fd_limit_reach(struct rlimit *saved);
void tu_fd_limit_restore(const struct rlimit *saved);

/*
 * While on in the calling thread, every successful calloc() in that thread
 * leaves errno at ENOMEM, as glibc's does when it cannot map a new arena
 * and falls back to another (under RLIMIT_AS, say).  The test program's
 * calloc() stands in for the C library's everywhere, the module included;
 * off, it only allocates.  tu_calloc_calls() counts this thread's calls
 * made while on.
 */
void tu_calloc_leaves_enomem(int on);
unsigned int tu_calloc_calls(void);

/*
 * Add the IPv6 variant of a test only where IPv6 works, and say on stderr
 * why it is left out otherwise.
 */
#define TU_ADD_IPV6_TEST(tc, tf)                                                 \
	do {                                                                     \
		const char *why_;                                                \
		if (tu_ipv6_available(&why_))                                    \
			tcase_add_test((tc), (tf));                              \
		else                                                             \
			fprintf(stderr, "SKIP %s: %s\n", #tf, why_);            \
	} while (0)

/*
 * Counting OpenSSL's allocator calls (OPENSSL_malloc, _realloc, _free):
 * tu_alloc_count_install() hands OpenSSL counting wrappers around malloc,
 * realloc and free.  OpenSSL takes them only before its first allocation,
 * so main() calls it first; it returns whether OpenSSL took them, which
 * tu_alloc_count_installed() tells later.  tu_alloc_count() is the number
 * of calls so far, in every thread of this process.
 */
int tu_alloc_count_install(void);
int tu_alloc_count_installed(void);
unsigned long tu_alloc_count(void);

/* A provider's OSSL_PARAM_UNSIGNED_INTEGER parameter (a module counter). */
uint64_t tu_provider_counter(OSSL_PROVIDER *prov, const char *key);

/*
 * Make the system calls nr[0..n-1] fail with err in this process from now
 * on, or only those calls whose first argument is arg0 when arg0 >= 0 (a
 * seccomp filter; Check runs each test in its own process, so it dies with
 * the test).  x86_64 only; returns 0 with errno set on failure.
 */
int tu_forbid_syscalls(const int *nr, int n, long arg0, int err);

/* The most segments one UDP GSO send may carry on this kernel: 128 or 64. */
size_t tu_kernel_gso_max_segs(void);

Suite *suite_probe(void);
Suite *suite_core(void);
Suite *suite_provider(void);
Suite *suite_dgram(void);
Suite *suite_mmsg(void);
Suite *suite_threads(void);
Suite *suite_abi(void);
Suite *suite_gso(void);
Suite *suite_gro(void);

#endif /* DGB_TESTUTIL_H */
