/*
 * run.c - `dgrambatch run [--stats] [--] PROGRAM [ARGS...]`.
 *
 * Copyright 2026 The dgrambatch authors.
 * SPDX-License-Identifier: Apache-2.0
 *
 * Runs a program with the shim added to LD_PRELOAD, as faketime or
 * eatmydata do: the program, and every program it starts, gets the
 * module's datagram BIO from BIO_s_datagram() and BIO_new_dgram().  The
 * tool execs the program, so its exit status and signals are the
 * program's own.  Preloads already set are kept, ahead of the shim (a
 * sanitizer runtime must stay first); the shim is not added twice.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "locate.h"
#include "run.h"

/* Whether list (ld.so's syntax: separated by spaces or colons) names item. */
static int listed(const char *list, const char *item)
{
	size_t len = strlen(item);

	for (const char *p = list; *p != '\0';) {
		size_t n = strcspn(p, ": ");

		if (n == len && strncmp(p, item, len) == 0)
			return 1;
		p += n;
		p += strspn(p, ": ");
	}
	return 0;
}

/* run's own failures, apart from the program's statuses (as env(1) does). */
#define RUN_FAILED 125

static int usage(const char *progname, int status)
{
	fprintf(status == 0 ? stdout : stderr, "usage: %s " DGB_RUN_SYNOPSIS "\n", progname);
	return status;
}

int dgb_run_main(const char *progname, int argc, char **argv)
{
	char shim[PATH_MAX], ld_shim[PATH_MAX];
	const char *old = getenv("LD_PRELOAD");
	int stats = 0, i, err;

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		}
		if (strcmp(argv[i], "--stats") == 0) {
			stats = 1;
		} else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			return usage(progname, 0);
		} else {
			fprintf(stderr, "%s run: unknown option '%s'\n", progname, argv[i]);
			return usage(progname, RUN_FAILED);
		}
	}
	if (i >= argc) {
		fprintf(stderr, "%s run: no program to run\n", progname);
		return usage(progname, RUN_FAILED);
	}
	if (dgb_locate_shim(shim, sizeof(shim), ld_shim, sizeof(ld_shim)) == DGB_WHERE_NONE) {
		fprintf(stderr,
			"%s run: the preload shim is neither in this build tree nor at %s "
			"(is dgrambatch-preload installed?)\n",
			progname, DGB_PRELOAD_SHIM);
		return RUN_FAILED;
	}
	/* ld.so splits LD_PRELOAD at spaces and colons, and would skip the shim. */
	if (strpbrk(ld_shim, ": \t") != NULL) {
		fprintf(stderr, "%s run: the shim's path has a space or a colon, which LD_PRELOAD "
				"cannot hold: %s\n",
			progname, ld_shim);
		return RUN_FAILED;
	}

	if (old == NULL || *old == '\0') {
		if (setenv("LD_PRELOAD", ld_shim, 1) != 0)
			goto fail;
	} else if (!listed(old, ld_shim) && !listed(old, shim)) {
		size_t n = strlen(old) + 1 + strlen(ld_shim) + 1;
		char *both = malloc(n);

		if (both == NULL)
			goto fail;
		snprintf(both, n, "%s:%s", old, ld_shim);
		if (setenv("LD_PRELOAD", both, 1) != 0) {
			free(both);
			goto fail;
		}
		free(both);
	}
	if (stats && setenv("DGRAMBATCH_STATS", "1", 1) != 0)
		goto fail;

	execvp(argv[i], argv + i);
	err = errno;
	fprintf(stderr, "%s run: cannot run %s: %s\n", progname, argv[i], strerror(err));
	return err == ENOENT ? 127 : 126;
fail:
	fprintf(stderr, "%s run: cannot set the environment: %s\n", progname, strerror(errno));
	return RUN_FAILED;
}
