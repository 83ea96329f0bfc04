/*
 * testutil.c - helpers shared by the Check suites.
 *
 * Copyright 2026 The dgrambatch authors.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <stddef.h>
#include <sys/prctl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#include <openssl/crypto.h>
#include <openssl/params.h>

#include "testutil.h"
#include "probe/probe.h"

socklen_t tu_addr_len(const union tu_addr *addr)
{
	return addr->sa.sa_family == AF_INET6 ? sizeof(addr->sin6) : sizeof(addr->sin);
}

static int bind_loopback(int family, union tu_addr *addr)
{
	socklen_t len;
	int fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	memset(addr, 0, sizeof(*addr));
	addr->sa.sa_family = (sa_family_t)family;
	if (family == AF_INET)
		addr->sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	else
		addr->sin6.sin6_addr = in6addr_loopback;
	len = tu_addr_len(addr);
	if (bind(fd, &addr->sa, len) != 0 || getsockname(fd, &addr->sa, &len) != 0) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

int tu_udp_loopback(int family, union tu_addr *addr)
{
	int fd = bind_loopback(family, addr);

	ck_assert_msg(fd >= 0, "loopback UDP socket (family %d): %s", family, strerror(errno));
	return fd;
}

int tu_udp_wildcard(int family, union tu_addr *addr)
{
	int fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0), on = 1;
	socklen_t len = sizeof(*addr);

	ck_assert_int_ge(fd, 0);
	if (family == AF_INET6)
		ck_assert_int_eq(setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on)), 0);
	memset(addr, 0, sizeof(*addr));
	addr->sa.sa_family = (sa_family_t)family;
	ck_assert_int_eq(bind(fd, &addr->sa, tu_addr_len(addr)), 0);
	ck_assert_int_eq(getsockname(fd, &addr->sa, &len), 0);
	return fd;
}

int tu_ipv6_available(const char **why)
{
	static int answer = -1;
	static char reason[128];
	union tu_addr a;

	if (answer < 0) {
		int fd = bind_loopback(AF_INET6, &a);

		answer = fd >= 0;
		if (fd >= 0)
			close(fd);
		else
			snprintf(reason, sizeof(reason), "cannot bind [::1]: %s", strerror(errno));
	}
	if (why != NULL)
		*why = reason;
	return answer;
}

void tu_caps_disable(const char *list)
{
	if (list != NULL)
		setenv("DGRAMBATCH_CAPS_DISABLE", list, 1);
	else
		unsetenv("DGRAMBATCH_CAPS_DISABLE");
	dgb_caps_reset();
}

void tu_fd_limit_reach(struct rlimit *saved)
{
	struct rlimit low;
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

	ck_assert_int_ge(fd, 0);
	close(fd);
	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, saved), 0);
	low = *saved;
	low.rlim_cur = (rlim_t)fd;
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd >= 0) {
		close(fd);
		tu_fd_limit_restore(saved);
	}
	ck_assert_msg(fd < 0 && errno == EMFILE, "socket() still works at the fd limit");
}

void tu_fd_limit_restore(const struct rlimit *saved)
{
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, saved), 0);
}

static __thread int calloc_enomem;
static __thread unsigned int calloc_calls;

void tu_calloc_leaves_enomem(int on)
{
	calloc_enomem = on;
	calloc_calls = 0;
}

unsigned int tu_calloc_calls(void)
{
	return calloc_calls;
}

/*
 * Through a volatile pointer, so that the compiler cannot turn malloc and
 * memset back into a call to calloc, that is, to this function.
 */
static void *(*volatile tu_malloc)(size_t) = malloc;

/*
 * Not instrumented by ThreadSanitizer: glibc calls calloc from
 * pthread_getattr_np while TSan starts a thread, before the thread's TSan
 * state exists.
 */
__attribute__((no_sanitize("thread"))) void *calloc(size_t n, size_t size)
{
	void *p;

	if (size != 0 && n > SIZE_MAX / size) {
		errno = ENOMEM;
		return NULL;
	}
	p = tu_malloc(n * size);
	if (p != NULL)
		memset(p, 0, n * size);
	if (calloc_enomem) {
		calloc_calls++;
		if (p != NULL)
			errno = ENOMEM;
	}
	return p;
}

static atomic_ulong alloc_calls;
static int alloc_counting;

static void *count_malloc(size_t n, const char *file, int line)
{
	atomic_fetch_add_explicit(&alloc_calls, 1, memory_order_relaxed);
	return malloc(n);
}

static void *count_realloc(void *p, size_t n, const char *file, int line)
{
	atomic_fetch_add_explicit(&alloc_calls, 1, memory_order_relaxed);
	return realloc(p, n);
}

static void count_free(void *p, const char *file, int line)
{
	atomic_fetch_add_explicit(&alloc_calls, 1, memory_order_relaxed);
	free(p);
}

int tu_alloc_count_install(void)
{
	alloc_counting = CRYPTO_set_mem_functions(count_malloc, count_realloc, count_free);
	return alloc_counting;
}

int tu_alloc_count_installed(void)
{
	return alloc_counting;
}

unsigned long tu_alloc_count(void)
{
	return atomic_load_explicit(&alloc_calls, memory_order_relaxed);
}

uint64_t tu_provider_counter(OSSL_PROVIDER *prov, const char *key)
{
	uint64_t v = UINT64_MAX;
	OSSL_PARAM p[] = { OSSL_PARAM_uint64(key, &v), OSSL_PARAM_END };

	ck_assert_int_eq(OSSL_PROVIDER_get_params(prov, p), 1);
	ck_assert_msg(OSSL_PARAM_modified(p), "%s not returned", key);
	return v;
}

#ifdef __SANITIZE_ADDRESS__
/*
 * The sanitizer runtime of GCC 13 and before can take a dynamic TLS block
 * of glibc 2.25 and later for one with glibc 2.19's header and give
 * LeakSanitizer a bogus range to scan; its tracer then crashes at exit
 * ("Tracer caught signal 11", google/sanitizers#1322).  The module's
 * thread-locals are dynamic TLS since it gave up the initial-exec model,
 * so this program's children met it at random.  Options given in the
 * environment still take precedence.
 */
const char *__asan_default_options(void);

const char *__asan_default_options(void)
{
	return "intercept_tls_get_addr=0";
}
#endif

int tu_forbid_syscalls(const int *nr, int n, long arg0, int err)
{
#if defined(__x86_64__)
	struct sock_filter f[16];
	struct sock_fprog prog = { .filter = f };
	int k = 0;

	if (n < 1 || n > 8) {
		errno = EINVAL;
		return 0;
	}
	f[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
					      offsetof(struct seccomp_data, arch));
	f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0);
	f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	f[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
					      offsetof(struct seccomp_data, nr));
	/* A match jumps past the other tests and the ALLOW that follows them. */
	for (int i = 0; i < n; i++)
		f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned int)nr[i],
						      (unsigned char)(n - i), 0);
	f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	if (arg0 >= 0) {
		f[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
						      offsetof(struct seccomp_data, args[0]));
		f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned int)arg0,
						      1, 0);
		f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	}
	f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K,
					      SECCOMP_RET_ERRNO | ((unsigned int)err & 0xffff));
	prog.len = (unsigned short)k;
	return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 &&
	       prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) == 0;
#else
	errno = ENOSYS;
	return 0;
#endif
}

/*
 * The most segments this kernel takes in one send: 100 segments of 8 bytes
 * sent to a socket of our own go through on a kernel that takes 128, and
 * are refused (EINVAL) by one that takes 64.
 */
size_t tu_kernel_gso_max_segs(void)
{
	static size_t max;
	struct sockaddr_in b = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t blen = sizeof(b);
	char data[800] = { 0 }, buf[16];
	uint16_t seg = 8;
	union {
		char c[CMSG_SPACE(sizeof(uint16_t))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { data, sizeof(data) };
	struct msghdr mh = { 0 };
	struct cmsghdr *c;
	int fa, fb;

	/* Runs while suites are built, outside any test: no assertions here. */
	if (max != 0)
		return max;
	max = 64;
	fa = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	fb = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fa >= 0 && fb >= 0 && bind(fb, (struct sockaddr *)&b, sizeof(b)) == 0 &&
	    getsockname(fb, (struct sockaddr *)&b, &blen) == 0) {
		mh.msg_name = &b;
		mh.msg_namelen = sizeof(b);
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		mh.msg_control = ctl.c;
		mh.msg_controllen = sizeof(ctl.c);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_UDP;
		c->cmsg_type = UDP_SEGMENT;
		c->cmsg_len = CMSG_LEN(sizeof(seg));
		memcpy(CMSG_DATA(c), &seg, sizeof(seg));
		if (sendmsg(fa, &mh, 0) == (ssize_t)sizeof(data))
			max = 128;
		while (recv(fb, buf, sizeof(buf), MSG_DONTWAIT) > 0)
			;
	}
	if (fa >= 0)
		close(fa);
	if (fb >= 0)
		close(fb);
	return max;
}
