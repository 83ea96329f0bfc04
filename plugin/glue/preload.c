/*
 * preload.c - the LD_PRELOAD shim, dgrambatch-preload.so.
 *
 * Copyright 2026 The dgrambatch authors.
 * SPDX-License-Identifier: Apache-2.0
 *
 * Preloaded into an unmodified program, the shim answers BIO_s_datagram()
 * and BIO_new_dgram() with the module's datagram BIO, so that everything
 * the program (or libssl on its behalf) builds on those functions runs on
 * dgrambatch.  It exports those two OpenSSL names and nothing else.
 *
 *   DGRAMBATCH_DISABLE=1  every call goes to OpenSSL's own functions
 *   DGRAMBATCH_DEBUG=1    one line on stderr, on first use, naming the shim
 *   DGRAMBATCH_STATS=1    the module's counters on stderr when the program
 *                         exits (dgrambatch run --stats sets it)
 *
 * The method is the module's process-wide one (see dgb_bio_method()).
 */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bio.h>

#include "core/core.h"
#include "glue.h"

static atomic_int debug_said;
/* Whether the program asked for the datagram BIO (DGRAMBATCH_STATS). */
static atomic_int stats_used;

static int env_on(const char *name)
{
	const char *v = getenv(name);

	return v != NULL && *v != '\0' && strcmp(v, "0") != 0;
}

static void *real(const char *name)
{
	return dlsym(RTLD_NEXT, name);
}

/*
 * The module's method, or NULL (then the caller uses OpenSSL's own) when
 * the shim is disabled or OpenSSL cannot build it.
 */
static const BIO_METHOD *method(void)
{
	const BIO_METHOD *m;

	if (env_on("DGRAMBATCH_DISABLE"))
		return NULL;
	atomic_store(&stats_used, 1);
	m = dgb_bio_method();
	if (m != NULL && env_on("DGRAMBATCH_DEBUG") && atomic_exchange(&debug_said, 1) == 0)
		fprintf(stderr, "dgrambatch %s: preload shim active, BIO_s_datagram is the "
				"dgrambatch datagram BIO\n", PACKAGE_VERSION);
	return m;
}

DGB_EXPORT const BIO_METHOD *BIO_s_datagram(void)
{
	const BIO_METHOD *m = method();

	if (m == NULL) {
		const BIO_METHOD *(*fn)(void) = (const BIO_METHOD *(*)(void))real("BIO_s_datagram");

		return fn != NULL ? fn() : NULL;
	}
	return m;
}

DGB_EXPORT BIO *BIO_new_dgram(int fd, int close_flag)
{
	const BIO_METHOD *m = method();
	BIO *b;

	if (m == NULL) {
		BIO *(*fn)(int, int) = (BIO * (*)(int, int)) real("BIO_new_dgram");

		return fn != NULL ? fn(fd, close_flag) : NULL;
	}
	b = BIO_new(m);
	if (b == NULL)
		return NULL;
	BIO_set_fd(b, fd, close_flag);
	return b;
}

/* --- DGRAMBATCH_STATS ------------------------------------------------------ */

static double per(uint64_t a, uint64_t b)
{
	return b == 0 ? 0.0 : (double)a / (double)b;
}

static void direction(FILE *f, const char *what, enum dgb_counter datagrams, enum dgb_counter bytes,
		      enum dgb_counter calls)
{
	uint64_t n = dgb_counter(datagrams), c = dgb_counter(calls);

	fprintf(f, "  %-8s %" PRIu64 " datagrams, %" PRIu64 " bytes, in %" PRIu64
		   " system calls (%.1f datagrams per call)\n",
		what, n, dgb_counter(bytes), c, per(n, c));
}

/*
 * The counters are the process's, from every thread and every BIO the
 * shim made (a child of fork() counts from zero: see core.c);
 * DGRAMBATCH_STATS=1 changes nothing else in what the program does.  One write: lines of several exiting processes sharing a
 * terminal or a journal do not interleave.
 */
static void print_stats(void)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	char self[64] = "?";
	FILE *comm = fopen("/proc/self/comm", "r");

	if (comm != NULL) {
		if (fgets(self, sizeof(self), comm) != NULL)
			self[strcspn(self, "\n")] = '\0';
		fclose(comm);
	}
	if (f == NULL)
		return;
	fprintf(f, "dgrambatch %s: stats of %s[%ld]%s\n", PACKAGE_VERSION, self, (long)getpid(),
		env_on("DGRAMBATCH_DISABLE")  ? " (DGRAMBATCH_DISABLE: the shim passed every call on)"
		: atomic_load(&stats_used) ? ""
					   : " (it never asked for a datagram BIO)");
	direction(f, "sent", DGB_TX_DATAGRAMS, DGB_TX_BYTES, DGB_TX_SYSCALLS);
	direction(f, "received", DGB_RX_DATAGRAMS, DGB_RX_BYTES, DGB_RX_SYSCALLS);
	fprintf(f, "  GSO      %" PRIu64 " segmented sends of %" PRIu64 " datagrams (%.1f each); "
		   "%" PRIu64 " refused by the kernel and sent one by one\n",
		dgb_counter(DGB_GSO_SENDS), dgb_counter(DGB_GSO_SEGMENTS),
		per(dgb_counter(DGB_GSO_SEGMENTS), dgb_counter(DGB_GSO_SENDS)),
		dgb_counter(DGB_GSO_FALLBACKS));
	fprintf(f, "  GRO      %" PRIu64 " coalesced receives of %" PRIu64 " datagrams (%.1f each); "
		   "%" PRIu64 " kept for a later call\n",
		dgb_counter(DGB_GRO_RECEIVES), dgb_counter(DGB_GRO_SEGMENTS),
		per(dgb_counter(DGB_GRO_SEGMENTS), dgb_counter(DGB_GRO_RECEIVES)),
		dgb_counter(DGB_GRO_CARRIED));
	fprintf(f, "  fallback %" PRIu64 " batches moved one datagram at a time\n",
		dgb_counter(DGB_FALLBACK_BATCHES));
	fprintf(f, "  errors   %" PRIu64 " ICMP errors reported, %" PRIu64 " dropped by the kernel "
		   "(receive queue full), %" PRIu64 " receives truncated\n",
		dgb_counter(DGB_ICMP_ERRORS), dgb_counter(DGB_RX_KERNEL_DROPS),
		dgb_counter(DGB_RX_TRUNCATED));
	if (fclose(f) == 0 && text != NULL) {
		ssize_t w;

		for (size_t off = 0; off < len; off += (size_t)w) {
			w = write(STDERR_FILENO, text + off, len - off);
			if (w < 0 && errno == EINTR)
				w = 0;
			else if (w <= 0)
				break;
		}
	}
	free(text);
}

/*
 * At load, not at first use: a program that never asks for a datagram BIO
 * says so too.  atexit() from a preloaded object runs after the program's
 * own handlers; the shim is never unloaded (-z nodelete).
 */
__attribute__((constructor)) static void stats_init(void)
{
	if (env_on("DGRAMBATCH_STATS"))
		atexit(print_stats);
}
