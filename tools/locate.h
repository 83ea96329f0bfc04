/*
 * locate.h - where the tool finds the provider module and the preload
 * shim: in the build tree it runs from, else where they were installed.
 *
 * Copyright 2026 The dgrambatch authors.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef DGB_TOOLS_LOCATE_H
#define DGB_TOOLS_LOCATE_H

#include <stddef.h>

/* Where a file was found. */
enum dgb_where {
	DGB_WHERE_NONE,
	/* The build tree the program itself was built in. */
	DGB_WHERE_BUILD_TREE,
	/* The directory named by OPENSSL_MODULES (the module only). */
	DGB_WHERE_OPENSSL_MODULES,
	/* Where make install put it. */
	DGB_WHERE_INSTALLED,
	/* libcrypto's own modules directory (the module only). */
	DGB_WHERE_LIBCRYPTO
};

/* Words for a message: "the build tree", "OPENSSL_MODULES", ... */
const char *dgb_where_name(enum dgb_where w);

/*
 * The provider module, dgrambatch.so: the build tree's, else the one in
 * OPENSSL_MODULES, in the installed modules directory, or in libcrypto's
 * modules directory, the first that exists.  Writes its path to path.
 */
enum dgb_where dgb_locate_module(char *path, size_t size);

/*
 * The preload shim: the build tree's, else the installed one.  Writes the
 * file's path to path and the path to put in LD_PRELOAD (with the dynamic
 * linker's $LIB token where the installed path has it) to ld_path.
 */
enum dgb_where dgb_locate_shim(char *path, size_t size, char *ld_path, size_t ld_size);

#endif /* DGB_TOOLS_LOCATE_H */
