/*
 * fault.h - the control function of the test-only fault interposer
 * (tests/fault.c, which documents the plans it reads), and the suites of
 * the program it is linked into.
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

/*
 * tests/gso_faults runs two suites: the send path's (tests/test_gso_faults.c,
 * which has main()) and the receive path's (tests/test_gro_faults.c).
 */
struct Suite;
struct Suite *suite_gro_faults(void);

#endif /* DGB_FAULT_H */
