/*
 * dgb_check.c - the Check runner: every area contributes one suite.
 *
 * Copyright 2026 The dgrambatch authors.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "config.h"

#include <stdlib.h>

#include "testutil.h"

int main(void)
{
	SRunner *sr = srunner_create(suite_probe());
	int failed;

	srunner_add_suite(sr, suite_core());
	srunner_add_suite(sr, suite_provider());
	srunner_add_suite(sr, suite_dgram());
	srunner_add_suite(sr, suite_mmsg());
	srunner_add_suite(sr, suite_threads());
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
