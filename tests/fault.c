/*
 * fault.c - a fault interposer for the tests only: a sendmmsg(2),
 * sendmsg(2) and sendto(2), a recvmsg(2), recvmmsg(2) and recvfrom(2), and
 * a setsockopt(2) that call the C library's (the next definition,
 * dlsym(RTLD_NEXT)) unless a fault plan says otherwise.
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
 * The plan is read from the environment variable DGB_FAULTS when any of
 * these functions is first called, or set with dgb_fault_plan(), the only
 * other name exported.  A plan is a list of rules separated by commas (or
 * semicolons or spaces).  The send path:
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
 *
 * The receive path.  A receive call is a recvmsg(), a recvmmsg() of one
 * entry or more, or a recvfrom(), and is of one of four sorts, by whether
 * it has MSG_PEEK and whether it has room for data (a buffer of one byte or
 * more, in any entry), which are the four steps of the module's receive
 * with UDP GRO (plugin/core/gro.c):
 *
 *   recv:N:E       the Nth receive call of any sort fails with errno E,
 *                  having taken nothing and changed nothing, as the kernel
 *                  fails one when an ICMP error is pending on the socket
 *                  (ECONNREFUSED, reported once, before any datagram) or a
 *                  signal comes (EINTR);
 *   recvpeek:N:E   the same for the Nth receive with MSG_PEEK and a buffer:
 *                  a read of the head of the queue that leaves it there;
 *   recvlist:N:E   with MSG_PEEK and no buffer: a listing of the queue
 *                  (recvmmsg() with MSG_PEEK | MSG_TRUNC, nothing copied);
 *   recvtake:N:E   without MSG_PEEK, with a buffer: a receive that takes
 *                  datagrams off the socket;
 *   recvtrunc:N:E  without MSG_PEEK and without a buffer: the removal of a
 *                  datagram read before with MSG_PEEK (MSG_TRUNC);
 *   recvshort:N:K  the Nth receive call takes at most K datagrams (K >= 1):
 *                  the real recvmmsg() with K entries, as when the queue
 *                  holds no more; a call of K entries or fewer, and
 *                  recvmsg() and recvfrom(), are not changed.  It counts
 *                  as fired when the real call returned K.
 *
 * The socket options:
 *
 *   sockopt:L.O:E  every setsockopt() of level L and option O (numbers)
 *                  fails with errno E, changing nothing, as a kernel
 *                  without the option refuses it: sockopt:17.104:ENOPROTOOPT
 *                  refuses UDP_GRO (SOL_UDP 17, UDP_GRO 104),
 *                  sockopt:1.42:EOPNOTSUPP refuses SO_PEEK_OFF (SOL_SOCKET
 *                  1), sockopt:1.40:ENOPROTOOPT SO_RXQ_OVFL;
 *   sockopt:L.O@N:E  only the Nth setsockopt() of that option (N+ and N-M
 *                  as below).
 *
 * N, in every rule but gsomax and in sockopt's @N, may also be:
 *
 *   N+           instead of N: the Nth and every one after it, as a device
 *                that cannot segment refuses every GSO send
 *                ("gso:1+:EIO");
 *   N-M          instead of N: the Nth to the Mth (M >= N), as a burst of
 *                signals ("recvtrunc:1-8:EINTR").
 *
 * And, not a rule:
 *
 *   report       a line on stderr for every fault that fires, and the
 *                totals when the process exits;
 *   report=PATH  the same, appended to PATH.
 *
 * At random, for soaks (tests/soak.sh), seeded: the Nth event of the
 * process (of any kind, in any thread) draws the same with the same seed,
 * so a run is reproduced where the program makes the same calls in the
 * same order; timing changes that (how often a receive finds the queue
 * empty, say), and with it which calls get the faults:
 *
 *   random:seed=N  turns it on (random alone: seed 1); these settings
 *                  follow it as rules of their own:
 *   rate=R         the chance, 0 to 1, that an event gets a fault (0.01);
 *   errs=A+B+...   what a send call may get, one picked at random: an
 *                  errno (it fails on its first entry, having sent
 *                  nothing, as call does) or "short" (it sends only its
 *                  first 1 to vlen-1 entries, as short does; a call of
 *                  one entry is left alone); EAGAIN+EINTR+ENOBUFS+short;
 *   gso=A+B+...    what a GSO entry may get, as gso fails one (EIO+EINVAL);
 *   recv=A+B+...   what a receive call may get: an errno, as recv fails
 *                  one, or "short", as recvshort cuts one; EAGAIN+EINTR+
 *                  short.  A removal (see recvtrunc) never gets EAGAIN,
 *                  which would say the datagram was gone: it gets EINTR.
 *
 *   "none" for a list gives that kind of event no faults.  Each event
 *   (send call, GSO entry, receive call) draws its chance whatever the
 *   rules do (and once more, for what it gets, when it gets a fault), and
 *   the rules act first: a random fault only comes to a call or entry that
 *   they leave alone.
 *
 * DGB_FAULT_COUNTS=PATH in the environment appends one line to PATH when
 * the process exits, "FAULTS pid=P NAME=COUNT ...": every count "?NAME"
 * answers (below), and the random faults injected by kind, inj-send-E,
 * inj-send-short, inj-gso-E, inj-recv-E, inj-recv-short (an errno's name,
 * or its number).
 *
 * E is a name (EIO, EINVAL, EMSGSIZE, ENOBUFS, EAGAIN, EWOULDBLOCK,
 * EOPNOTSUPP, ENOPROTOOPT, EPERM, ECONNREFUSED, EINTR, ENOMEM) or a number.
 * A send call is a sendmmsg() of one entry or more, or a sendmsg() or
 * sendto(), on a descriptor >= 0; receive calls and setsockopt() are seen
 * on descriptors >= 0 too.  Each rule counts from 1, from when its plan was
 * set, the events it is about, whatever the other rules do.  Calls on a
 * negative descriptor or with no entries (the module's probes) pass through
 * unseen.  Examples:
 *
 *   DGB_FAULTS=gso:1:EIO         the first GSO send fails with EIO
 *   DGB_FAULTS=gso:2+:EINVAL     the second GSO entry and all later ones
 *   DGB_FAULTS=call:5:EAGAIN,short:9:3
 *   DGB_FAULTS=recv:3:ECONNREFUSED,sockopt:1.42:EOPNOTSUPP
 *
 * A fault never sends a datagram and then reports it unsent, nor takes one
 * and reports it untaken: a call either fails before anything is sent or
 * taken, or returns what the real call returned.
 *
 * dgb_fault_plan(spec) replaces the plan (an empty spec: no faults) and
 * starts every count afresh; it returns 0, or -1 with errno EINVAL for a
 * spec it cannot read, leaving the plan as it was.  A plan must not be
 * replaced while another thread is inside one of these calls; everything
 * else may run in any number of threads.  A spec of "?NAME" asks for a
 * count since the plan was set (saturating at INT_MAX):
 *
 *   ?calls          send calls seen
 *   ?gso-seen       GSO entries handed to the kernel or refused by a gso rule
 *   ?gso-sent       GSO entries the kernel took
 *   ?gso-segments   datagrams in those: payload / segment size, rounded up
 *   ?recv-calls     receive calls seen, of every sort
 *   ?recv-peeks     of them, those recvpeek counts
 *   ?recv-lists     those recvlist counts
 *   ?recv-takes     those recvtake counts
 *   ?recv-truncs    those recvtrunc counts
 *   ?sockopt-calls  setsockopt() calls seen
 *   ?fired          faults that fired (a short that shortened nothing is
 *                   not one, nor a recvshort whose call took fewer than K;
 *                   each refused setsockopt() is one)
 *   ?datagrams-sent datagrams the kernel took: one per entry, the
 *                   segments of a GSO entry
 *   ?bytes-sent     their bytes
 *   ?gso-first-refused  send calls failed by a fault (rule or random) on a
 *                   first entry that is a GSO entry of two segments or
 *                   more, with EIO, EINVAL or EMSGSIZE: the module sends
 *                   such an entry again, one datagram per entry (not
 *                   counted: EINVAL on more than 64 segments, which the
 *                   module sends again as 64 and the rest)
 *   ?gso-resent     of those, the ones whose next send call in the same
 *                   thread, on the same descriptor, was that: as many
 *                   entries, none a GSO entry, and the kernel took one or
 *                   more (the module counts a GSO fallback for each)
 *   ?gso-resend-failed  the same next call, failed (by a fault or not)
 *   ?gso-enobufs    send calls failed with ENOBUFS by a fault on a first
 *                   entry that is a GSO entry of two segments or more (the
 *                   module counts it sent, its datagrams lost)
 *   ?gso-enobufs-segments, ?gso-enobufs-bytes  the datagrams and bytes in them
 *   ?random-fired   faults the random mode injected (in ?fired too)
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
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>

#include "fault.h"
#include "probe/probe.h"

#define FAULT_EXPORT __attribute__((visibility("default")))


#define MAX_RULES 16

enum kind {
	GSO,
	GSOCALL,
	CALL,
	SHORT,
	GSOMAX,
	RECV,
	/* The four sorts of receive, in the order of enum rsort. */
	RECVPEEK,
	RECVLIST,
	RECVTAKE,
	RECVTRUNC,
	RECVSHORT,
	SOCKOPT,
};

/* The sorts of receive call: MSG_PEEK or not, room for data or not. */
enum rsort { R_PEEK, R_LIST, R_TAKE, R_TRUNC };

_Static_assert(RECVTRUNC - RECVPEEK == R_TRUNC, "enum kind lists the sorts as enum rsort");

struct rule {
	enum kind kind;
	/* The events it fires on: the nth to the last (ULONG_MAX: for ever). */
	unsigned long n, last;
	int arg; /* errno, or K for SHORT and RECVSHORT */
	int level, name; /* SOCKOPT's option */
	atomic_ulong seen;
};

/* The random mode: the events that draw, and what each may get. */
enum chan { CH_SEND, CH_GSO, CH_RECV, CH_COUNT };

#define MAX_CHOICES 8
#define CHOICE_SHORT (-1)

struct random_plan {
	int on;
	uint64_t seed;
	/* An event faults when the top 32 bits of a draw are below it. */
	uint64_t threshold;
	int n[CH_COUNT];
	int choice[CH_COUNT][MAX_CHOICES];
};

struct plan {
	int n;
	struct rule r[MAX_RULES];
	int report_fd;
	struct random_plan rnd;
};

/*
 * The plan in force: its rules are written while nrules is 0 (nobody is
 * in a call, see above) and published by the release store of nrules.
 */
static struct rule rules[MAX_RULES];
static atomic_int nrules;
static atomic_int report_fd = -1;

/* The random mode in force, written and published as the rules are. */
static struct random_plan rnd;
static atomic_int rnd_on;
static atomic_ulong rnd_draws;
static atomic_ulong injected[CH_COUNT][MAX_CHOICES];
static const char *const chan_names[CH_COUNT] = { "send", "gso", "recv" };

/*
 * The send call after one whose GSO first entry a fault refused: the
 * descriptor and entries of the resend the module should make (fd -1:
 * none awaited), and whether the call being made is it.
 */
static __thread int resend_fd = -1;
static __thread unsigned long resend_n;
static __thread int resend_call;
/* The random choice that shortened this thread's receive call, or -1. */
static __thread int recv_short_choice = -1;

/* The counts dgb_fault_plan("?NAME") answers, in the order of stat_names[]. */
enum count {
	ST_CALLS,
	ST_GSO_SEEN,
	ST_GSO_SENT,
	ST_GSO_SEGMENTS,
	ST_RECV_CALLS,
	/* One per enum rsort, in its order. */
	ST_RECV_PEEKS,
	ST_RECV_LISTS,
	ST_RECV_TAKES,
	ST_RECV_TRUNCS,
	ST_SOCKOPT_CALLS,
	ST_FIRED,
	ST_DGRAMS_SENT,
	ST_BYTES_SENT,
	ST_GSO_FIRST_REFUSED,
	ST_GSO_RESENT,
	ST_GSO_RESEND_FAILED,
	ST_GSO_ENOBUFS,
	ST_GSO_ENOBUFS_SEGMENTS,
	ST_GSO_ENOBUFS_BYTES,
	ST_RANDOM_FIRED,
	ST_COUNT
};

static const char *const stat_names[ST_COUNT] = {
	"calls",      "gso-seen",   "gso-sent",    "gso-segments",
	"recv-calls", "recv-peeks", "recv-lists",  "recv-takes",
	"recv-truncs", "sockopt-calls", "fired",
	"datagrams-sent", "bytes-sent", "gso-first-refused", "gso-resent",
	"gso-resend-failed", "gso-enobufs", "gso-enobufs-segments", "gso-enobufs-bytes",
	"random-fired",
};

static atomic_ulong st[ST_COUNT];

_Static_assert(ST_RECV_TRUNCS - ST_RECV_PEEKS == R_TRUNC,
	       "enum count lists the sorts as enum rsort");

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
	{ "ENOMEM", ENOMEM },
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

/* "N", "N+" or "N-M" of len characters into r->n and r->last; 0 if unreadable. */
static int parse_count(const char *s, size_t len, struct rule *r)
{
	const char *dash = memchr(s, '-', len);

	if (len > 0 && s[len - 1] == '+') {
		r->last = ULONG_MAX;
		return parse_ulong(s, len - 1, &r->n) && r->n > 0;
	}
	if (dash != NULL)
		return parse_ulong(s, (size_t)(dash - s), &r->n) && r->n > 0 &&
		       parse_ulong(dash + 1, len - (size_t)(dash - s) - 1, &r->last) &&
		       r->last >= r->n;
	if (!parse_ulong(s, len, &r->n) || r->n == 0)
		return 0;
	r->last = r->n;
	return 1;
}

/* SOCKOPT's "L.O", or "L.O@N" with N as parse_count() reads it; 0 if unreadable. */
static int parse_option(const char *s, size_t len, struct rule *r)
{
	const char *dot = memchr(s, '.', len), *at = memchr(s, '@', len);
	unsigned long level, name;

	if (at == NULL) {
		at = s + len;
		r->n = 1;
		r->last = ULONG_MAX;
	} else if (!parse_count(at + 1, len - (size_t)(at - s) - 1, r)) {
		return 0;
	}
	if (dot == NULL || dot > at || !parse_ulong(s, (size_t)(dot - s), &level) ||
	    !parse_ulong(dot + 1, (size_t)(at - dot) - 1, &name) || level > INT_MAX ||
	    name > INT_MAX)
		return 0;
	r->level = (int)level;
	r->name = (int)name;
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
		      { "gsomax", GSOMAX },
		      { "recv", RECV },
		      { "recvpeek", RECVPEEK },
		      { "recvlist", RECVLIST },
		      { "recvtake", RECVTAKE },
		      { "recvtrunc", RECVTRUNC },
		      { "recvshort", RECVSHORT },
		      { "sockopt", SOCKOPT } };
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
	switch (r->kind) {
	case SOCKOPT:
		if (!parse_option(c1 + 1, nlen, r))
			return 0;
		break;
	case GSOMAX:
		/* K; a "+" after it is read, and changes nothing, as before. */
		if (nlen > 0 && c1[nlen] == '+')
			nlen--;
		if (!parse_ulong(c1 + 1, nlen, &r->n) || r->n == 0)
			return 0;
		r->last = r->n;
		break;
	default:
		if (!parse_count(c1 + 1, nlen, r))
			return 0;
		break;
	}
	if (r->kind != SHORT && r->kind != RECVSHORT)
		return parse_errno(c2 + 1, (size_t)(end - c2 - 1), &r->arg);
	if (!parse_ulong(c2 + 1, (size_t)(end - c2 - 1), &k) || k == 0)
		return 0;
	r->arg = (int)k;
	return 1;
}

/* A random list, "A+B+..." or "none", of len characters; 0 if unreadable. */
static int parse_choices(const char *s, size_t len, int shorts, struct random_plan *rp,
			 enum chan c)
{
	const char *end = s + len;

	rp->n[c] = 0;
	if (len == 4 && strncmp(s, "none", 4) == 0)
		return 1;
	while (s < end) {
		const char *plus = memchr(s, '+', (size_t)(end - s));
		size_t n = (size_t)((plus != NULL ? plus : end) - s);
		int v;

		if (rp->n[c] == MAX_CHOICES)
			return 0;
		if (n == 5 && strncmp(s, "short", 5) == 0 && shorts)
			v = CHOICE_SHORT;
		else if (!parse_errno(s, n, &v))
			return 0;
		rp->choice[c][rp->n[c]++] = v;
		s += n + (plus != NULL);
	}
	return rp->n[c] > 0;
}

/* "R", a chance from 0 to 1, of len characters into rp; 0 if unreadable. */
static int parse_rate(const char *s, size_t len, struct random_plan *rp)
{
	char buf[32], *end;
	double r;

	if (len == 0 || len >= sizeof(buf))
		return 0;
	memcpy(buf, s, len);
	buf[len] = '\0';
	r = strtod(buf, &end);
	if (*end != '\0' || !(r >= 0.0 && r <= 1.0))
		return 0;
	rp->threshold = (uint64_t)(r * 4294967296.0);
	return 1;
}

static void random_defaults(struct random_plan *rp)
{
	static const int send[] = { EAGAIN, EINTR, ENOBUFS, CHOICE_SHORT };
	static const int gso[] = { EIO, EINVAL };
	static const int recv[] = { EAGAIN, EINTR, CHOICE_SHORT };

	memset(rp, 0, sizeof(*rp));
	rp->seed = 1;
	rp->threshold = (uint64_t)(0.01 * 4294967296.0);
	rp->n[CH_SEND] = 4;
	memcpy(rp->choice[CH_SEND], send, sizeof(send));
	rp->n[CH_GSO] = 2;
	memcpy(rp->choice[CH_GSO], gso, sizeof(gso));
	rp->n[CH_RECV] = 3;
	memcpy(rp->choice[CH_RECV], recv, sizeof(recv));
}

/* A setting of the random mode, of len characters; -1 if it is none, 0 if unreadable. */
static int parse_random(const char *s, size_t len, struct random_plan *rp)
{
	unsigned long seed;

#define KEY(k) (len >= sizeof(k) - 1 && strncmp(s, k, sizeof(k) - 1) == 0)
#define REST(k) (s + sizeof(k) - 1), (len - (sizeof(k) - 1))
	if (len == 6 && strncmp(s, "random", 6) == 0) {
		rp->on = 1;
		return 1;
	}
	if (KEY("random:seed=")) {
		rp->on = 1;
		if (!parse_ulong(REST("random:seed="), &seed))
			return 0;
		rp->seed = seed;
		return 1;
	}
	if (KEY("seed=")) {
		if (!parse_ulong(REST("seed="), &seed))
			return 0;
		rp->seed = seed;
		return 1;
	}
	if (KEY("rate="))
		return parse_rate(REST("rate="), rp);
	if (KEY("errs="))
		return parse_choices(REST("errs="), 1, rp, CH_SEND);
	if (KEY("gso="))
		return parse_choices(REST("gso="), 0, rp, CH_GSO);
	if (KEY("recv="))
		return parse_choices(REST("recv="), 1, rp, CH_RECV);
#undef KEY
#undef REST
	return -1;
}

static int parse_plan(const char *spec, struct plan *p)
{
	const char *s = spec;
	int r;

	p->n = 0;
	p->report_fd = -1;
	random_defaults(&p->rnd);
	while (*s != '\0') {
		size_t len = strcspn(s, ",; \t\n");

		if (len > 0 && (r = parse_random(s, len, &p->rnd)) >= 0) {
			if (r == 0)
				goto bad;
		} else if (len == 6 && strncmp(s, "report", 6) == 0) {
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
	atomic_store_explicit(&rnd_on, 0, memory_order_relaxed);
	if (old > STDERR_FILENO)
		close(old);
	rnd = p->rnd;
	atomic_store(&rnd_draws, 0);
	for (int c = 0; c < CH_COUNT; c++)
		for (int i = 0; i < MAX_CHOICES; i++)
			atomic_store(&injected[c][i], 0);
	for (int i = 0; i < p->n; i++) {
		rules[i].kind = p->r[i].kind;
		rules[i].n = p->r[i].n;
		rules[i].last = p->r[i].last;
		rules[i].arg = p->r[i].arg;
		rules[i].level = p->r[i].level;
		rules[i].name = p->r[i].name;
		atomic_store_explicit(&rules[i].seen, 0, memory_order_relaxed);
	}
	for (int i = 0; i < ST_COUNT; i++)
		atomic_store(&st[i], 0);
	atomic_store(&report_fd, p->report_fd);
	atomic_store_explicit(&rnd_on, p->rnd.on, memory_order_release);
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
	report("totals: calls %lu, GSO entries seen %lu, sent %lu, segments %lu, "
	       "receive calls %lu (peeks %lu, lists %lu, takes %lu, removals %lu), "
	       "setsockopt %lu, faults fired %lu",
	       atomic_load(&st[ST_CALLS]), atomic_load(&st[ST_GSO_SEEN]),
	       atomic_load(&st[ST_GSO_SENT]), atomic_load(&st[ST_GSO_SEGMENTS]),
	       atomic_load(&st[ST_RECV_CALLS]), atomic_load(&st[ST_RECV_PEEKS]),
	       atomic_load(&st[ST_RECV_LISTS]), atomic_load(&st[ST_RECV_TAKES]),
	       atomic_load(&st[ST_RECV_TRUNCS]), atomic_load(&st[ST_SOCKOPT_CALLS]),
	       atomic_load(&st[ST_FIRED]));
}

/* A choice's name in the counts: "short", an errno's name, or its number. */
static const char *choice_name(int v, char *buf, size_t size)
{
	const char *n = v == CHOICE_SHORT ? "short" : errname(v);

	if (strcmp(n, "errno") == 0) {
		snprintf(buf, size, "%d", v);
		return buf;
	}
	return n;
}

/* DGB_FAULT_COUNTS=PATH: every count, in one line appended to PATH at exit. */
__attribute__((destructor)) static void write_counts(void)
{
	const char *path = getenv("DGB_FAULT_COUNTS");
	char line[4096], buf[16];
	size_t n;
	int fd;

	if (path == NULL || *path == '\0')
		return;
	n = (size_t)snprintf(line, sizeof(line), "FAULTS pid=%ld", (long)getpid());
	for (int i = 0; i < ST_COUNT && n < sizeof(line); i++)
		n += (size_t)snprintf(line + n, sizeof(line) - n, " %s=%lu", stat_names[i],
				      atomic_load(&st[i]));
	for (int c = 0; c < CH_COUNT; c++)
		for (int i = 0; i < rnd.n[c] && n < sizeof(line); i++)
			n += (size_t)snprintf(line + n, sizeof(line) - n, " inj-%s-%s=%lu",
					      chan_names[c],
					      choice_name(rnd.choice[c][i], buf, sizeof(buf)),
					      atomic_load(&injected[c][i]));
	if (n >= sizeof(line) - 1)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	(void)!write(fd, line, n);
	close(fd);
}

/* --- the random mode ----------------------------------------------------- */

/* The next draw: splitmix64 of the seed and the draw's number. */
static uint64_t draw(void)
{
	uint64_t z = rnd.seed + 0x9e3779b97f4a7c15ULL * (atomic_fetch_add(&rnd_draws, 1) + 1);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/*
 * One event of channel c draws: the index of the choice it gets, or -1
 * for none; *aux another draw, for a short count.
 */
static int pick(enum chan c, uint64_t *aux)
{
	if (!atomic_load_explicit(&rnd_on, memory_order_acquire) || rnd.n[c] == 0)
		return -1;
	if ((draw() >> 32) >= rnd.threshold)
		return -1;
	*aux = draw();
	return (int)(*aux % (uint64_t)rnd.n[c]);
}

static void random_fired(enum chan c, int i)
{
	atomic_fetch_add(&injected[c][i], 1);
	atomic_fetch_add(&st[ST_RANDOM_FIRED], 1);
}

/* Whether this event is one a rule waits for. */
static int hit(struct rule *r)
{
	unsigned long o = atomic_fetch_add_explicit(&r->seen, 1, memory_order_relaxed) + 1;

	return o >= r->n && o <= r->last;
}

static void fired(void)
{
	atomic_fetch_add(&st[ST_FIRED], 1);
}

/* --- the send path ----------------------------------------------------- */

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

static void refused_first(int fd, const struct msghdr *h, int err);

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
	unsigned long call = atomic_fetch_add(&st[ST_CALLS], 1) + 1;
	uint64_t aux = 0;
	int c;

	*err = 0;
	/* The call after a refused GSO entry: the module's resend, or not. */
	if (resend_fd >= 0) {
		resend_call = fd == resend_fd && vlen == resend_n && !first_gso;
		resend_fd = -1;
	}
	/* The rules about whole calls act before any entry is looked at. */
	for (int k = 0; k < n; k++) {
		struct rule *r = &rules[k];

		if (r->kind == CALL || (r->kind == GSOCALL && first_gso)) {
			if (hit(r) && limit > 0) {
				limit = 0;
				*err = r->arg;
				fired();
				report("%s %lu (fd %d, vlen %u)%s: %s", callname(mm), call, fd, vlen,
				       r->kind == GSOCALL ? ", a GSO entry first" : "",
				       errname(r->arg));
			}
		} else if (r->kind == SHORT) {
			if (hit(r) && (unsigned int)r->arg < limit) {
				limit = (unsigned int)r->arg;
				fired();
				report("%s %lu (fd %d): %u of %u entries", callname(mm), call, fd,
				       limit, vlen);
			}
		}
	}
	/* The random mode, for a call the rules left alone. */
	c = pick(CH_SEND, &aux);
	if (c >= 0 && limit == vlen) {
		int what = rnd.choice[CH_SEND][c];

		if (what != CHOICE_SHORT) {
			limit = 0;
			*err = what;
			fired();
			random_fired(CH_SEND, c);
			report("%s %lu (fd %d, vlen %u): random %s", callname(mm), call, fd, vlen,
			       errname(what));
		} else if (vlen > 1) {
			limit = 1 + (unsigned int)((aux / MAX_CHOICES) % (vlen - 1));
			fired();
			random_fired(CH_SEND, c);
			report("%s %lu (fd %d): random, %u of %u entries", callname(mm), call, fd,
			       limit, vlen);
		}
	}
	/* Then the GSO entries, in order, up to the first that fails. */
	for (i = 0; i < limit; i++) {
		int fire = 0, e = 0;

		if (gso_size(entry(mm, one, i)) == 0)
			continue;
		atomic_fetch_add(&st[ST_GSO_SEEN], 1);
		c = pick(CH_GSO, &aux);
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
		if (!fire && c >= 0) {
			fire = 1;
			e = rnd.choice[CH_GSO][c];
			random_fired(CH_GSO, c);
		}
		if (fire) {
			fired();
			report("%s %lu (fd %d): GSO entry %u of %u: %s", callname(mm), call, fd, i + 1,
			       vlen, errname(e));
			*err = e;
			limit = i;
			break;
		}
	}
	if (limit == 0)
		refused_first(fd, entry(mm, one, 0), *err);
	return limit;
}

/*
 * A call failed by a fault on its first entry with err: where that is a
 * GSO entry of two segments or more, what the module does next is counted.
 */
static void refused_first(int fd, const struct msghdr *h, int err)
{
	long size = gso_size(h);
	unsigned long nseg;

	if (size <= 0 || (nseg = segments(h, size)) < 2)
		return;
	if (err == EIO || err == EMSGSIZE || (err == EINVAL && nseg <= 64)) {
		atomic_fetch_add(&st[ST_GSO_FIRST_REFUSED], 1);
		resend_fd = fd;
		resend_n = nseg;
	} else if (err == ENOBUFS) {
		size_t bytes = 0;

		for (size_t k = 0; k < (size_t)h->msg_iovlen; k++)
			bytes += h->msg_iov[k].iov_len;
		atomic_fetch_add(&st[ST_GSO_ENOBUFS], 1);
		atomic_fetch_add(&st[ST_GSO_ENOBUFS_SEGMENTS], nseg);
		atomic_fetch_add(&st[ST_GSO_ENOBUFS_BYTES], bytes);
	}
}

/* The end of a send call that returned r: whether it was an awaited resend. */
static void send_done(int r)
{
	if (!resend_call)
		return;
	resend_call = 0;
	atomic_fetch_add(&st[r > 0 ? ST_GSO_RESENT : ST_GSO_RESEND_FAILED], 1);
}

/* What the kernel took: the first `sent` entries. */
static void account(const struct mmsghdr *mm, const struct msghdr *one, unsigned int sent)
{
	for (unsigned int i = 0; i < sent; i++) {
		const struct msghdr *h = entry(mm, one, i);
		long size = gso_size(h);
		size_t bytes = 0;

		for (size_t k = 0; k < (size_t)h->msg_iovlen; k++)
			bytes += h->msg_iov[k].iov_len;
		atomic_fetch_add(&st[ST_DGRAMS_SENT], size != 0 ? segments(h, size) : 1);
		atomic_fetch_add(&st[ST_BYTES_SENT], bytes);
		if (size != 0) {
			atomic_fetch_add(&st[ST_GSO_SENT], 1);
			atomic_fetch_add(&st[ST_GSO_SEGMENTS], segments(h, size));
		}
	}
}

typedef int sendmmsg_fn(int, struct mmsghdr *, unsigned int, int);
typedef ssize_t sendmsg_fn(int, const struct msghdr *, int);
typedef ssize_t sendto_fn(int, const void *, size_t, int, const struct sockaddr *, socklen_t);
typedef int recvmmsg_fn(int, struct mmsghdr *, unsigned int, int, struct timespec *);
typedef ssize_t recvmsg_fn(int, struct msghdr *, int);
typedef ssize_t recvfrom_fn(int, void *, size_t, int, struct sockaddr *, socklen_t *);
typedef int setsockopt_fn(int, int, int, const void *, socklen_t);

static _Atomic(void *) next_mmsg, next_msg, next_to, next_rmmsg, next_rmsg, next_rfrom,
	next_setsockopt;

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

/*
 * The next definition of name as a function pointer in *fn, and the plan
 * read; 0 with errno ENOSYS where there is none.  ISO C has no conversion
 * from object to function pointer; POSIX's dlsym needs one.
 */
static int next_fn(_Atomic(void *) *slot, const char *name, void *fn, size_t size)
{
	void *p = next(slot, name);

	if (p == NULL) {
		errno = ENOSYS;
		return 0;
	}
	memcpy(fn, &p, size);
	pthread_once(&env_once, read_env);
	return 1;
}

FAULT_EXPORT int sendmmsg(int fd, struct mmsghdr *msgs, unsigned int vlen, int flags)
{
	sendmmsg_fn *real;
	unsigned int limit;
	int err, r, saved;

	if (!next_fn(&next_mmsg, "sendmmsg", &real, sizeof(real)))
		return -1;
	if (fd < 0 || vlen == 0 || msgs == NULL)
		return real(fd, msgs, vlen, flags);
	limit = decide(fd, msgs, NULL, vlen, &err);
	if (limit == 0) {
		send_done(-1);
		errno = err;
		return -1;
	}
	r = real(fd, msgs, limit, flags);
	saved = errno;
	if (r > 0)
		account(msgs, NULL, (unsigned int)r);
	send_done(r);
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
		send_done(-1);
		errno = err;
		return -1;
	}
	r = call(p, fd, msg, flags);
	saved = errno;
	if (r >= 0)
		account(NULL, msg, 1);
	send_done(r >= 0 ? 1 : -1);
	errno = saved;
	return r;
}

FAULT_EXPORT ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
	return one_entry(&next_msg, "sendmsg", real_sendmsg, fd, msg, flags);
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

/* --- the receive path ------------------------------------------------- */

static const char *const rsort_names[] = { "peek", "list", "take", "removal" };

/* Whether a message has room for a byte of data. */
static int has_room(const struct msghdr *h)
{
	if (h->msg_iov == NULL)
		return 0;
	for (size_t i = 0; i < (size_t)h->msg_iovlen; i++)
		if (h->msg_iov[i].iov_len > 0)
			return 1;
	return 0;
}

static enum rsort sort_of(int flags, int room)
{
	if (flags & MSG_PEEK)
		return room ? R_PEEK : R_LIST;
	return room ? R_TAKE : R_TRUNC;
}

/*
 * How many of a receive call's vlen entries the real call may fill: 0 when
 * a fault fails it, with its errno in *err.  *call gets the call's number.
 */
static unsigned int decide_recv(const char *name, int fd, enum rsort sort, unsigned int vlen,
				int *err, unsigned long *call)
{
	int n = atomic_load_explicit(&nrules, memory_order_acquire);
	unsigned int limit = vlen;
	uint64_t aux = 0;
	int c;

	*call = atomic_fetch_add(&st[ST_RECV_CALLS], 1) + 1;
	atomic_fetch_add(&st[ST_RECV_PEEKS + (int)sort], 1);
	*err = 0;
	for (int k = 0; k < n; k++) {
		struct rule *r = &rules[k];

		if (r->kind == RECV || (int)r->kind == (int)RECVPEEK + (int)sort) {
			if (hit(r) && limit > 0) {
				limit = 0;
				*err = r->arg;
				fired();
				report("%s %lu (fd %d, a %s): %s", name, *call, fd,
				       rsort_names[sort], errname(r->arg));
			}
		} else if (r->kind == RECVSHORT) {
			if (hit(r) && (unsigned int)r->arg < limit)
				limit = (unsigned int)r->arg;
		}
	}
	recv_short_choice = -1;
	c = pick(CH_RECV, &aux);
	if (c >= 0 && limit == vlen) {
		int what = rnd.choice[CH_RECV][c];

		if (what != CHOICE_SHORT) {
			/* EAGAIN would tell the module a removal's datagram was gone. */
			if (sort == R_TRUNC && (what == EAGAIN || what == EWOULDBLOCK))
				what = EINTR;
			limit = 0;
			*err = what;
			fired();
			random_fired(CH_RECV, c);
			report("%s %lu (fd %d, a %s): random %s", name, *call, fd, rsort_names[sort],
			       errname(what));
		} else if (vlen > 1) {
			limit = 1 + (unsigned int)((aux / MAX_CHOICES) % (vlen - 1));
			recv_short_choice = c;
		}
	}
	return limit;
}

FAULT_EXPORT int recvmmsg(int fd, struct mmsghdr *msgs, unsigned int vlen, int flags,
			  struct timespec *timeout)
{
	recvmmsg_fn *real;
	unsigned long call;
	unsigned int limit;
	int room = 0, err, r, saved;

	if (!next_fn(&next_rmmsg, "recvmmsg", &real, sizeof(real)))
		return -1;
	if (fd < 0 || vlen == 0 || msgs == NULL)
		return real(fd, msgs, vlen, flags, timeout);
	for (unsigned int i = 0; i < vlen && !room; i++)
		room = has_room(&msgs[i].msg_hdr);
	limit = decide_recv("recvmmsg", fd, sort_of(flags, room), vlen, &err, &call);
	if (limit == 0) {
		errno = err;
		return -1;
	}
	r = real(fd, msgs, limit, flags, timeout);
	/* A short receive fired only if the queue might have given more. */
	if (limit < vlen && r == (int)limit) {
		saved = errno;
		if (recv_short_choice >= 0)
			random_fired(CH_RECV, recv_short_choice);
		fired();
		report("recvmmsg %lu (fd %d): %u of %u entries", call, fd, limit, vlen);
		errno = saved;
	}
	return r;
}

FAULT_EXPORT ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
	recvmsg_fn *real;
	unsigned long call;
	int err;

	if (!next_fn(&next_rmsg, "recvmsg", &real, sizeof(real)))
		return -1;
	if (fd < 0 || msg == NULL)
		return real(fd, msg, flags);
	if (decide_recv("recvmsg", fd, sort_of(flags, has_room(msg)), 1, &err, &call) == 0) {
		errno = err;
		return -1;
	}
	return real(fd, msg, flags);
}

/* The module receives a lone datagram without control messages with recvfrom(). */
FAULT_EXPORT ssize_t recvfrom(int fd, void *buf, size_t len, int flags, struct sockaddr *from,
			      socklen_t *fromlen)
{
	recvfrom_fn *real;
	unsigned long call;
	int err;

	if (!next_fn(&next_rfrom, "recvfrom", &real, sizeof(real)))
		return -1;
	if (fd < 0)
		return real(fd, buf, len, flags, from, fromlen);
	if (decide_recv("recvfrom", fd, sort_of(flags, buf != NULL && len > 0), 1, &err, &call) ==
	    0) {
		errno = err;
		return -1;
	}
	return real(fd, buf, len, flags, from, fromlen);
}

/* --- the socket options -------------------------------------------------- */

FAULT_EXPORT int setsockopt(int fd, int level, int name, const void *value, socklen_t len)
{
	setsockopt_fn *real;
	int n, err = 0;

	if (!next_fn(&next_setsockopt, "setsockopt", &real, sizeof(real)))
		return -1;
	if (fd < 0)
		return real(fd, level, name, value, len);
	atomic_fetch_add(&st[ST_SOCKOPT_CALLS], 1);
	n = atomic_load_explicit(&nrules, memory_order_acquire);
	for (int k = 0; k < n; k++) {
		struct rule *r = &rules[k];

		if (r->kind == SOCKOPT && r->level == level && r->name == name && hit(r) && !err) {
			err = r->arg;
			fired();
			report("setsockopt (fd %d, level %d, option %d): %s", fd, level, name,
			       errname(r->arg));
		}
	}
	if (err) {
		errno = err;
		return -1;
	}
	return real(fd, level, name, value, len);
}

/* --- the plan ---------------------------------------------------------- */

static int clamp(unsigned long v)
{
	return v > INT_MAX ? INT_MAX : (int)v;
}

FAULT_EXPORT int dgb_fault_plan(const char *spec)
{
	struct plan p;

	pthread_once(&env_once, read_env);
	if (spec == NULL)
		spec = "";
	if (spec[0] == '?') {
		char buf[16], name[64];

		for (int i = 0; i < ST_COUNT; i++)
			if (strcmp(spec + 1, stat_names[i]) == 0)
				return clamp(atomic_load(&st[i]));
		for (int c = 0; c < CH_COUNT; c++)
			for (int i = 0; i < rnd.n[c]; i++) {
				snprintf(name, sizeof(name), "inj-%s-%s", chan_names[c],
					 choice_name(rnd.choice[c][i], buf, sizeof(buf)));
				if (strcmp(spec + 1, name) == 0)
					return clamp(atomic_load(&injected[c][i]));
			}
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
