/*
 * preload.c - the LD_PRELOAD shim, dgrambatch-preload.so.
 *
 * Copyright 2026 The dgrambatch authors.
 * SPDX-License-Identifier: Apache-2.0
 *
 * The shim is how unmodified programs get the module's datagram BIO: it
 * will interpose BIO_s_datagram() and BIO_new_dgram(), and export those
 * OpenSSL names and nothing else.  Until the BIO is a complete drop-in for
 * OpenSSL's own, the shim interposes nothing, so preloading it changes no
 * behaviour; its build, install and export checks are in place so that the
 * interposer lands into a finished artefact.
 */
#include "config.h"

#include "glue.h"
