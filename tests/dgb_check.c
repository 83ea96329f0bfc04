/*
 * dgb_check.c - the Check runner: every area contributes one suite.
 *
 * Copyright 2026 The dgrambatch authors.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include "testutil.h"

int main(void)
{
	SRunner *sr;
	int failed;

	/*
	 * First of all: OpenSSL takes allocators only before it allocates.
	 * test_eagain_allocates_no_text fails if this did not take.
	 */
	if (!tu_alloc_count_install())
		fprintf(stderr, "CRYPTO_set_mem_functions failed: OpenSSL allocated first\n");
	sr = srunner_create(suite_probe());
	srunner_add_suite(sr, suite_core());
	srunner_add_suite(sr, suite_provider());
	srunner_add_suite(sr, suite_dgram());
	srunner_add_suite(sr, suite_mmsg());
	srunner_add_suite(sr, suite_threads());
	srunner_add_suite(sr, suite_abi());
	srunner_add_suite(sr, suite_gso());
	srunner_add_suite(sr, suite_gro());
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
