/*
 * bench.h - `dgrambatch bench`: datagrams per second through the module's
 * BIO (with and without UDP GSO on send, UDP GRO on receive), OpenSSL's own
 * datagram BIO and the raw system calls (with and without UDP_SEGMENT and
 * UDP_GRO), side by side; with --sweep, over a grid of payload and batch
 * sizes, drawn with gnuplot if asked.
 *
 * Copyright 2026 The dgrambatch authors.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef DGB_TOOLS_BENCH_H
#define DGB_TOOLS_BENCH_H

/* The subcommand's synopsis, after the program name, for usage messages. */
#define DGB_BENCH_SYNOPSIS                                                                  \
	"bench [--config FILE] [--size BYTES] [--batch N] [--mixed] [--seconds S] [--json] "     \
	"[--progress | --quiet] [--sweep [--sizes LIST] [--batches LIST] [--plot FILE.png]]"

/*
 * Run the benchmark; argv[0] is "bench" and progname prefixes every
 * message.  Returns the exit status: 0, 1 when any implementation or the
 * set-up failed (or --plot's plot could not be drawn), 2 on a usage error.
 */
int dgb_bench_main(const char *progname, int argc, char **argv);

#endif /* DGB_TOOLS_BENCH_H */
