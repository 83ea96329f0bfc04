/*
 * fault.c - a fault interposer for the send path, for the tests only: a
 * sendmmsg(2) and a sendmsg(2) that call the C library's (the next
 * definition, dlsym(RTLD_NEXT)) unless a fault plan says otherwise.
 *
 * Copyright 2026 The dgrambatch authors.
 * SPDX-License-Identifier: Apache-2.0
 *
 * It is built two ways and never installed:
 *
 *  - linked into tests/gso_faults, whose own definitions stand in for the C
 *    library's everywhere in that process, the module that OpenSSL loads
 *    included (tests/fault.sym exports them from the executable, as the
 *    calloc() of tests/testutil.c is);
 *  - as tests/.libs/libdgbfault.so, to preload into any other program:
 *
 *      LD_PRELOAD=$builddir/tests/.libs/libdgbfault.so \
 *      DGB_FAULTS='gso:3+:EIO,report' ./server ...
 *
 *    The make check environment names it DGB_FAULTLIB.  In a sanitizer
 *    build the library is instrumented, and the sanitizer's runtime must
 *    come first in LD_PRELOAD, in programs built with it too, exactly as
 *    tests/testlib.sh runs openssl:
 *
 *      LD_PRELOAD="${SANITIZER_PRELOAD:+$SANITIZER_PRELOAD }$DGB_FAULTLIB" \
 *      DGB_FAULTS=... ./server ...
 *
 *    With the preload shim as well, the fault library goes before it
 *    (LD_PRELOAD="$SANITIZER_PRELOAD $DGB_FAULTLIB $DGB_PRELOAD"); the
 *    order only matters for the sanitizer, which must be first.
 *
 * The plan is read from the environment variable DGB_FAULTS when either
 * function is first called, or set with dgb_fault_plan(), the only other
 * name exported.  A plan is a list of rules separated by commas (or
 * semicolons or spaces):
 *
 *   gso:N:E      the Nth GSO entry fails with errno E.  A GSO entry is a
 *                message carrying a UDP_SEGMENT control message (SOL_UDP
 *                17, UDP_SEGMENT 103), at any position of a sendmmsg() or
 *                given to sendmsg(); they are counted in the order they are
 *                handed to the kernel.  It fails as the kernel fails one:
 *                the entries before it in the same call are sent (the real
 *                call with that many) and the call returns their number, a
 *                short return; when it is the call's first entry, the call
 *                returns -1 with errno E, having sent nothing.
 *   gsocall:N:E  the Nth send call whose FIRST entry is a GSO entry fails
 *                with errno E, having sent nothing.
 *   call:N:E     the Nth send call fails on its first entry with errno E
 *                (EAGAIN, say), having sent nothing.
 *   short:N:K    the Nth send call sends only its first K entries (K >= 1):
 *                the real sendmmsg() with K, whose count is returned.  This
 *                is what the kernel returns when entry K+1 would block or
 *                fails; a call of K entries or fewer is not changed.
 *   gsomax:K:E   every GSO entry of more than K segments fails with errno E,
 *                as "gso" fails one: a kernel older than 6.9 refuses more
 *                than 64 with EINVAL ("gsomax:64:EINVAL").
 *   N+           instead of N: the Nth and every one after it, as a device
 *                that cannot segment refuses every GSO send
 *                ("gso:1+:EIO").
 *   report       a line on stderr for every fault that fires, and the
 *                totals when the process exits;
 *   report=PATH  the same, appended to PATH.
 *
 * E is a name (EIO, EINVAL, EMSGSIZE, ENOBUFS, EAGAIN, EWOULDBLOCK,
 * EOPNOTSUPP, ENOPROTOOPT, EPERM, ECONNREFUSED, EINTR) or a number.  A send
 * call is a sendmmsg() of one entry or more, or a sendmsg(), on a
 * descriptor >= 0; each rule counts from 1, from when its plan was set,
 * the events it is about, whatever the other rules do.  Calls on a
 * negative descriptor or with no entries (the module's probes) pass
 * through unseen.  Examples:
 *
 *   DGB_FAULTS=gso:1:EIO         the first GSO send fails with EIO
 *   DGB_FAULTS=gso:2+:EINVAL     the second GSO entry and all later ones
 *   DGB_FAULTS=call:5:EAGAIN,short:9:3
 *
 * A fault never sends a datagram and then reports it unsent: a call either
 * fails before anything is sent, or returns what the real call returned.
 *
 * dgb_fault_plan(spec) replaces the plan (an empty spec: no faults) and
 * starts every count afresh; it returns 0, or -1 with errno EINVAL for a
 * spec it cannot read, leaving the plan as it was.  A plan must not be
 * replaced while another thread is inside a send call; everything else
 * may run in any number of threads.  A spec of "?NAME" asks for a count
 * since the plan was set (saturating at INT_MAX):
 *
 *   ?calls         send calls seen
 *   ?gso-seen      GSO entries handed to the kernel or refused by a gso rule
 *   ?gso-sent      GSO entries the kernel took
 *   ?gso-segments  datagrams in those: payload / segment size, rounded up
 *   ?fired         faults that fired (a short that shortened nothing is
 *                  not one)
 *
 * A DGB_FAULTS that cannot be read stops the process (abort()), so a
 * misspelt plan cannot make a test pass without its faults.
 */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include "fault.h"
#include "probe/probe.h"

#define FAULT_EXPORT __attribute__((visibility("default")))


#define MAX_RULES 16

enum kind { GSO, GSOCALL, CALL, SHORT, GSOMAX };

struct rule {
	enum kind kind;
	unsigned long n;
	int sticky;
	int arg; /* errno, or K for SHORT */
	atomic_ulong seen;
};

struct plan {
	int n;
	struct rule r[MAX_RULES];
	int report_fd;
};

/*
 * The plan in force: its rules are written while nrules is 0 (nobody is
 * sending, see above) and published by the release store of nrules.
 */
static struct rule rules[MAX_RULES];
static atomic_int nrules;
static atomic_int report_fd = -1;

static atomic_ulong st_calls, st_gso_seen, st_gso_sent, st_gso_segments, st_fired;

static pthread_once_t env_once = PTHREAD_ONCE_INIT;

static const struct {
	const char *name;
	int err;
} errnames[] = {
	{ "EIO", EIO },
	{ "EINVAL", EINVAL },
	{ "EMSGSIZE", EMSGSIZE },
	{ "ENOBUFS", ENOBUFS },
	{ "EAGAIN", EAGAIN },
	{ "EWOULDBLOCK", EWOULDBLOCK },
	{ "EOPNOTSUPP", EOPNOTSUPP },
	{ "ENOPROTOOPT", ENOPROTOOPT },
	{ "EPERM", EPERM },
	{ "ECONNREFUSED", ECONNREFUSED },
	{ "EINTR", EINTR },
};

static const char *errname(int err)
{
	for (size_t i = 0; i < sizeof(errnames) / sizeof(errnames[0]); i++)
		if (errnames[i].err == err)
			return errnames[i].name;
	return "errno";
}

static int parse_ulong(const char *s, size_t len, unsigned long *out)
{
	unsigned long v = 0;

	if (len == 0 || len > 9)
		return 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	*out = v;
	return 1;
}

static int parse_errno(const char *s, size_t len, int *out)
{
	unsigned long v;

	for (size_t i = 0; i < sizeof(errnames) / sizeof(errnames[0]); i++)
		if (strlen(errnames[i].name) == len && strncmp(s, errnames[i].name, len) == 0) {
			*out = errnames[i].err;
			return 1;
		}
	if (!parse_ulong(s, len, &v) || v == 0 || v > 4095)
		return 0;
	*out = (int)v;
	return 1;
}

/* One rule, "kind:N[+]:ARG", of len characters; 0 if it cannot be read. */
static int parse_rule(const char *s, size_t len, struct rule *r)
{
	static const struct {
		const char *name;
		enum kind kind;
	} kinds[] = { { "gso", GSO },
		      { "gsocall", GSOCALL },
		      { "call", CALL },
		      { "short", SHORT },
		      { "gsomax", GSOMAX } };
	const char *c1 = memchr(s, ':', len), *c2, *end = s + len;
	size_t nlen;
	int found = 0;
	unsigned long k;

	if (c1 == NULL || (c2 = memchr(c1 + 1, ':', (size_t)(end - c1 - 1))) == NULL)
		return 0;
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strlen(kinds[i].name) == (size_t)(c1 - s) &&
		    strncmp(s, kinds[i].name, (size_t)(c1 - s)) == 0) {
			r->kind = kinds[i].kind;
			found = 1;
		}
	if (!found)
		return 0;
	nlen = (size_t)(c2 - c1 - 1);
	r->sticky = nlen > 0 && c1[nlen] == '+';
	if (!parse_ulong(c1 + 1, nlen - (size_t)r->sticky, &r->n) || r->n == 0)
		return 0;
	if (r->kind != SHORT)
		return parse_errno(c2 + 1, (size_t)(end - c2 - 1), &r->arg);
	if (!parse_ulong(c2 + 1, (size_t)(end - c2 - 1), &k) || k == 0)
		return 0;
	r->arg = (int)k;
	return 1;
}

static int parse_plan(const char *spec, struct plan *p)
{
	const char *s = spec;

	p->n = 0;
	p->report_fd = -1;
	while (*s != '\0') {
		size_t len = strcspn(s, ",; \t\n");

		if (len == 6 && strncmp(s, "report", 6) == 0) {
			if (p->report_fd > STDERR_FILENO)
				close(p->report_fd);
			p->report_fd = STDERR_FILENO;
		} else if (len > 7 && strncmp(s, "report=", 7) == 0) {
			char path[PATH_MAX];

			if (len - 7 >= sizeof(path))
				goto bad;
			memcpy(path, s + 7, len - 7);
			path[len - 7] = '\0';
			if (p->report_fd > STDERR_FILENO)
				close(p->report_fd);
			p->report_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
			if (p->report_fd < 0)
				goto bad;
		} else if (len > 0) {
			if (p->n == MAX_RULES || !parse_rule(s, len, &p->r[p->n]))
				goto bad;
			p->n++;
		}
		s += len;
		s += strspn(s, ",; \t\n");
	}
	return 1;
bad:
	if (p->report_fd > STDERR_FILENO)
		close(p->report_fd);
	return 0;
}

static void install(const struct plan *p)
{
	int old = atomic_exchange(&report_fd, -1);

	atomic_store_explicit(&nrules, 0, memory_order_relaxed);
	if (old > STDERR_FILENO)
		close(old);
	for (int i = 0; i < p->n; i++) {
		rules[i].kind = p->r[i].kind;
		rules[i].n = p->r[i].n;
		rules[i].sticky = p->r[i].sticky;
		rules[i].arg = p->r[i].arg;
		atomic_store_explicit(&rules[i].seen, 0, memory_order_relaxed);
	}
	atomic_store(&st_calls, 0);
	atomic_store(&st_gso_seen, 0);
	atomic_store(&st_gso_sent, 0);
	atomic_store(&st_gso_segments, 0);
	atomic_store(&st_fired, 0);
	atomic_store(&report_fd, p->report_fd);
	atomic_store_explicit(&nrules, p->n, memory_order_release);
}

static void read_env(void)
{
	const char *spec = getenv("DGB_FAULTS");
	struct plan p;

	if (spec == NULL)
		return;
	if (!parse_plan(spec, &p)) {
		fprintf(stderr, "dgbfault: cannot read DGB_FAULTS='%s' (see tests/fault.c)\n", spec);
		abort();
	}
	install(&p);
}

static void report(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void report(const char *fmt, ...)
{
	int fd = atomic_load(&report_fd);
	char line[256];
	int n = snprintf(line, sizeof(line), "dgbfault[%ld]: ", (long)getpid());
	va_list ap;

	if (fd < 0 || n < 0)
		return;
	va_start(ap, fmt);
	n += vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	if (n >= (int)sizeof(line))
		n = (int)sizeof(line) - 1;
	line[n++] = '\n';
	/* One write() per line, so that threads and processes do not interleave. */
	(void)!write(fd, line, (size_t)n);
}

__attribute__((destructor)) static void report_totals(void)
{
	report("totals: calls %lu, GSO entries seen %lu, sent %lu, segments %lu, faults fired %lu",
	       atomic_load(&st_calls), atomic_load(&st_gso_seen), atomic_load(&st_gso_sent),
	       atomic_load(&st_gso_segments), atomic_load(&st_fired));
}

/* Whether this event is the one a rule waits for. */
static int hit(struct rule *r)
{
	unsigned long o = atomic_fetch_add_explicit(&r->seen, 1, memory_order_relaxed) + 1;

	return r->sticky ? o >= r->n : o == r->n;
}

/* The segment size of a GSO entry, 0 if it carries none (-1: unreadable). */
static long gso_size(const struct msghdr *h)
{
	struct cmsghdr *c;

	if (h->msg_control == NULL || h->msg_controllen < sizeof(struct cmsghdr))
		return 0;
	for (c = CMSG_FIRSTHDR((struct msghdr *)h); c != NULL;
	     c = CMSG_NXTHDR((struct msghdr *)h, c)) {
		if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_SEGMENT) {
			uint16_t sz;

			if (c->cmsg_len != CMSG_LEN(sizeof(sz)))
				return -1;
			memcpy(&sz, CMSG_DATA(c), sizeof(sz));
			return sz;
		}
	}
	return 0;
}

static unsigned long segments(const struct msghdr *h, long size)
{
	size_t total = 0;

	for (size_t i = 0; i < (size_t)h->msg_iovlen; i++)
		total += h->msg_iov[i].iov_len;
	if (size <= 0 || total == 0)
		return 1;
	return (unsigned long)((total + (size_t)size - 1) / (size_t)size);
}

/* Entry i of a call: of a sendmmsg() vector, or the one msghdr of sendmsg(). */
static const struct msghdr *entry(const struct mmsghdr *mm, const struct msghdr *one,
				  unsigned int i)
{
	return mm != NULL ? &mm[i].msg_hdr : one;
}

static const char *callname(const struct mmsghdr *mm)
{
	return mm != NULL ? "sendmmsg" : "sendmsg";
}

/*
 * How many of the call's vlen entries may go to the kernel; when a fault
 * cut that short, *err is the errno a call cut to none fails with.
 */
static unsigned int decide(int fd, const struct mmsghdr *mm, const struct msghdr *one,
			   unsigned int vlen, int *err)
{
	int n = atomic_load_explicit(&nrules, memory_order_acquire);
	int first_gso = gso_size(entry(mm, one, 0)) != 0;
	unsigned int limit = vlen, i;
	unsigned long call = atomic_fetch_add(&st_calls, 1) + 1;

	*err = 0;
	/* The rules about whole calls act before any entry is looked at. */
	for (int k = 0; k < n; k++) {
		struct rule *r = &rules[k];

		if (r->kind == CALL || (r->kind == GSOCALL && first_gso)) {
			if (hit(r) && limit > 0) {
				limit = 0;
				*err = r->arg;
				atomic_fetch_add(&st_fired, 1);
				report("%s %lu (fd %d, vlen %u)%s: %s", callname(mm), call, fd, vlen,
				       r->kind == GSOCALL ? ", a GSO entry first" : "",
				       errname(r->arg));
			}
		} else if (r->kind == SHORT) {
			if (hit(r) && (unsigned int)r->arg < limit) {
				limit = (unsigned int)r->arg;
				atomic_fetch_add(&st_fired, 1);
				report("%s %lu (fd %d): %u of %u entries", callname(mm), call, fd,
				       limit, vlen);
			}
		}
	}
	/* Then the GSO entries, in order, up to the first that fails. */
	for (i = 0; i < limit; i++) {
		int fire = 0, e = 0;

		if (gso_size(entry(mm, one, i)) == 0)
			continue;
		atomic_fetch_add(&st_gso_seen, 1);
		for (int k = 0; k < n; k++)
			if (rules[k].kind == GSOMAX && !fire &&
			    segments(entry(mm, one, i), gso_size(entry(mm, one, i))) > rules[k].n) {
				fire = 1;
				e = rules[k].arg;
			}
		for (int k = 0; k < n; k++)
			if (rules[k].kind == GSO && hit(&rules[k]) && !fire) {
				fire = 1;
				e = rules[k].arg;
			}
		if (fire) {
			atomic_fetch_add(&st_fired, 1);
			report("%s %lu (fd %d): GSO entry %u of %u: %s", callname(mm), call, fd, i + 1,
			       vlen, errname(e));
			*err = e;
			return i;
		}
	}
	return limit;
}

/* What the kernel took: the first `sent` entries. */
static void account(const struct mmsghdr *mm, const struct msghdr *one, unsigned int sent)
{
	for (unsigned int i = 0; i < sent; i++) {
		const struct msghdr *h = entry(mm, one, i);
		long size = gso_size(h);

		if (size != 0) {
			atomic_fetch_add(&st_gso_sent, 1);
			atomic_fetch_add(&st_gso_segments, segments(h, size));
		}
	}
}

typedef int sendmmsg_fn(int, struct mmsghdr *, unsigned int, int);
typedef ssize_t sendmsg_fn(int, const struct msghdr *, int);

typedef ssize_t sendto_fn(int, const void *, size_t, int, const struct sockaddr *, socklen_t);

static _Atomic(void *) next_mmsg, next_msg, next_to;

/* The definition after this one: the C library's, or a sanitizer's. */
static void *next(_Atomic(void *) *slot, const char *name)
{
	void *p = atomic_load_explicit(slot, memory_order_acquire);

	if (p == NULL) {
		p = dlsym(RTLD_NEXT, name);
		atomic_store_explicit(slot, p, memory_order_release);
	}
	return p;
}

FAULT_EXPORT int sendmmsg(int fd, struct mmsghdr *msgs, unsigned int vlen, int flags)
{
	void *p = next(&next_mmsg, "sendmmsg");
	sendmmsg_fn *real;
	unsigned int limit;
	int err, r, saved;

	if (p == NULL) {
		errno = ENOSYS;
		return -1;
	}
	/* ISO C has no conversion from object to function pointer; POSIX's dlsym needs one. */
	memcpy(&real, &p, sizeof(real));
	pthread_once(&env_once, read_env);
	if (fd < 0 || vlen == 0 || msgs == NULL)
		return real(fd, msgs, vlen, flags);
	limit = decide(fd, msgs, NULL, vlen, &err);
	if (limit == 0) {
		errno = err;
		return -1;
	}
	r = real(fd, msgs, limit, flags);
	saved = errno;
	if (r > 0)
		account(msgs, NULL, (unsigned int)r);
	errno = saved;
	return r;
}

/* The real call for one entry, msg: sendmsg() itself, or sendto() of its parts. */
typedef ssize_t real_one_fn(void *real, int fd, const struct msghdr *msg, int flags);

static ssize_t real_sendmsg(void *real, int fd, const struct msghdr *msg, int flags)
{
	sendmsg_fn *fn;

	memcpy(&fn, &real, sizeof(fn));
	return fn(fd, msg, flags);
}

static ssize_t real_sendto(void *real, int fd, const struct msghdr *msg, int flags)
{
	sendto_fn *fn;

	memcpy(&fn, &real, sizeof(fn));
	return fn(fd, msg->msg_iov[0].iov_base, msg->msg_iov[0].iov_len, flags, msg->msg_name,
		  msg->msg_namelen);
}

/* A send call of one entry, msg, under the plan: sendmsg() and sendto(). */
static ssize_t one_entry(_Atomic(void *) *slot, const char *name, real_one_fn *call, int fd,
			 const struct msghdr *msg, int flags)
{
	void *p = next(slot, name);
	ssize_t r;
	int err, saved;

	if (p == NULL) {
		errno = ENOSYS;
		return -1;
	}
	pthread_once(&env_once, read_env);
	if (fd < 0 || msg == NULL)
		return call(p, fd, msg, flags);
	if (decide(fd, NULL, msg, 1, &err) == 0) {
		errno = err;
		return -1;
	}
	r = call(p, fd, msg, flags);
	saved = errno;
	if (r >= 0)
		account(NULL, msg, 1);
	errno = saved;
	return r;
}

FAULT_EXPORT ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
	return one_entry(&next_msg, "sendmsg", real_sendmsg, fd, msg, flags);
}

static int clamp(unsigned long v)
{
	return v > INT_MAX ? INT_MAX : (int)v;
}

FAULT_EXPORT int dgb_fault_plan(const char *spec)
{
	static const struct {
		const char *name;
		atomic_ulong *v;
	} counts[] = { { "calls", &st_calls },
		       { "gso-seen", &st_gso_seen },
		       { "gso-sent", &st_gso_sent },
		       { "gso-segments", &st_gso_segments },
		       { "fired", &st_fired } };
	struct plan p;

	pthread_once(&env_once, read_env);
	if (spec == NULL)
		spec = "";
	if (spec[0] == '?') {
		for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++)
			if (strcmp(spec + 1, counts[i].name) == 0)
				return clamp(atomic_load(counts[i].v));
		errno = EINVAL;
		return -1;
	}
	if (!parse_plan(spec, &p)) {
		errno = EINVAL;
		return -1;
	}
	install(&p);
	return 0;
}

/*
 * The module sends a lone datagram without control messages with sendto(),
 * as OpenSSL's BIO does: one send call of one entry, as sendmsg() is.
 */
FAULT_EXPORT ssize_t sendto(int fd, const void *buf, size_t len, int flags,
			    const struct sockaddr *to, socklen_t tolen)
{
	struct iovec iov = { (void *)buf, len };
	struct msghdr msg = { .msg_name = (void *)to, .msg_namelen = tolen,
			      .msg_iov = &iov, .msg_iovlen = 1 };

	return one_entry(&next_to, "sendto", real_sendto, fd, &msg, flags);
}
