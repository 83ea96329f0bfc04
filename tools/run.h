/*
 * run.h - `dgrambatch run`: an unmodified program with the shim preloaded.
 *
 * Copyright 2026 The dgrambatch authors.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef DGB_TOOLS_RUN_H
#define DGB_TOOLS_RUN_H

#define DGB_RUN_SYNOPSIS "run [--stats] [--] PROGRAM [ARGS...]"

/*
 * argv[0] is "run".  Replaces the process with the program; returns only
 * when it cannot, as env(1) does: 125 when run itself fails (usage, no
 * shim), 126 or 127 when the program cannot be run or is not found.
 */
int dgb_run_main(const char *progname, int argc, char **argv);

#endif /* DGB_TOOLS_RUN_H */
