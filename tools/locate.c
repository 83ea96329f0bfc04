/*
 * locate.c - the module and the shim, in the build tree or installed.
 *
 * Copyright 2026 The dgrambatch authors.
 * SPDX-License-Identifier: Apache-2.0
 *
 * A build tree is recognised from the program's own path, not from a path
 * compiled in: a packaged binary carries no trace of where it was built,
 * and a build tree that was moved still finds itself.  The program is
 * <top>/tools/dgrambatch (or libtool's <top>/tools/.libs/...), and <top>
 * is a build tree when it holds config.status and .libs/<file>.
 */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "locate.h"

const char *dgb_where_name(enum dgb_where w)
{
	switch (w) {
	case DGB_WHERE_BUILD_TREE:
		return "the build tree";
	case DGB_WHERE_OPENSSL_MODULES:
		return "OPENSSL_MODULES";
	case DGB_WHERE_INSTALLED:
		return "the installed files";
	case DGB_WHERE_LIBCRYPTO:
		return "libcrypto's modules directory";
	case DGB_WHERE_NONE:
		break;
	}
	return "nowhere";
}

static int is_file(const char *path)
{
	return access(path, R_OK) == 0;
}

/* dir + "/" + name into path, when it fits and the file is there. */
static int found(char *path, size_t size, const char *dir, const char *name)
{
	int n;

	if (dir == NULL || *dir == '\0')
		return 0;
	n = snprintf(path, size, "%s/%s", dir, name);
	return n > 0 && (size_t)n < size && is_file(path);
}

/* Cuts the last component off dir; 0 when there is none left. */
static int up(char *dir)
{
	char *slash = strrchr(dir, '/');

	if (slash == NULL || slash == dir)
		return 0;
	*slash = '\0';
	return 1;
}

/* The top of the build tree the program runs from, or 0. */
static int build_top(char *top, size_t size)
{
	char exe[PATH_MAX], probe[PATH_MAX + 32];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (n <= 0)
		return 0;
	exe[n] = '\0';
	if (!up(exe))
		return 0;
	if (strlen(exe) >= 6 && strcmp(exe + strlen(exe) - 6, "/.libs") == 0 && !up(exe))
		return 0;
	if (strlen(exe) < 6 || strcmp(exe + strlen(exe) - 6, "/tools") != 0 || !up(exe))
		return 0;
	if (!found(probe, sizeof(probe), exe, "config.status") || strlen(exe) >= size)
		return 0;
	memcpy(top, exe, strlen(exe) + 1);
	return 1;
}

static int in_build_tree(char *path, size_t size, const char *name)
{
	char top[PATH_MAX], libs[PATH_MAX + 8];

	if (!build_top(top, sizeof(top)))
		return 0;
	snprintf(libs, sizeof(libs), "%s/.libs", top);
	return found(path, size, libs, name);
}

enum dgb_where dgb_locate_module(char *path, size_t size)
{
	static const char name[] = "dgrambatch.so";

	if (in_build_tree(path, size, name))
		return DGB_WHERE_BUILD_TREE;
	if (found(path, size, getenv("OPENSSL_MODULES"), name))
		return DGB_WHERE_OPENSSL_MODULES;
	if (found(path, size, DGB_MODULESDIR_EXPANDED, name))
		return DGB_WHERE_INSTALLED;
	if (found(path, size, OPENSSL_info(OPENSSL_INFO_MODULES_DIR), name))
		return DGB_WHERE_LIBCRYPTO;
	return DGB_WHERE_NONE;
}

enum dgb_where dgb_locate_shim(char *path, size_t size, char *ld_path, size_t ld_size)
{
	static const char name[] = "dgrambatch-preload.so";
	enum dgb_where w = DGB_WHERE_NONE;
	const char *ld = path;

	if (in_build_tree(path, size, name)) {
		w = DGB_WHERE_BUILD_TREE;
	} else if (strlen(DGB_PRELOAD_SHIM) < size && is_file(DGB_PRELOAD_SHIM)) {
		memcpy(path, DGB_PRELOAD_SHIM, sizeof(DGB_PRELOAD_SHIM));
		ld = DGB_PRELOAD_SHIM_LD;
		w = DGB_WHERE_INSTALLED;
	}
	if (w == DGB_WHERE_NONE || strlen(ld) >= ld_size)
		return DGB_WHERE_NONE;
	memmove(ld_path, ld, strlen(ld) + 1);
	return w;
}
