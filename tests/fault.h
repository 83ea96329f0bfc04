/*
 * fault.h - the control function of the test-only send-path fault
 * interposer (tests/fault.c, which documents the plans it reads).
 *
 * Copyright 2026 The dgrambatch authors.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef DGB_FAULT_H
#define DGB_FAULT_H

/*
 * Replace the fault plan (NULL or "": none) and start every count afresh;
 * 0, or -1 with errno EINVAL.  "?NAME" returns a count instead.
 */
int dgb_fault_plan(const char *spec);

#endif /* DGB_FAULT_H */
