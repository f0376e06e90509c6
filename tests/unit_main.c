/* CUnit driver for the core unit tests.  Prints CUnit's summary (CI counts
 * tests from it) and a final "N passed, N failed" line.  Optional argument:
 * run only the suite of that name. */
#include <stdio.h>
#include <string.h>

#include <CUnit/Basic.h>

#include "unit.h"

int main(int argc, char **argv)
{
	unsigned passed, failed;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	sl_test_register_parse();
	sl_test_register_hash();
	sl_test_register_maglev();
	sl_test_register_flowtable();
	sl_test_register_tables();
	sl_test_register_decide();
	sl_test_register_evidence();
	sl_test_register_config();
	sl_test_register_dpstats();
	sl_test_register_maps();
	sl_test_register_rollout();
	sl_test_register_proto();
	sl_test_register_journal();
	sl_test_register_state();
	sl_test_register_schedule();
	sl_test_register_sequential();
	sl_test_register_guard();
	sl_test_register_metrics();

	CU_basic_set_mode(CU_BRM_VERBOSE);
	if (argc > 1) {
		CU_pSuite s = CU_get_suite(argv[1]);

		if (!s) {
			fprintf(stderr, "sluice-unit: no suite named '%s'\n", argv[1]);
			CU_cleanup_registry();
			return 2;
		}
		CU_basic_run_suite(s);
	} else {
		CU_basic_run_tests();
	}
	failed = CU_get_number_of_tests_failed();
	passed = CU_get_number_of_tests_run() - failed;
	printf("\n%u passed, %u failed\n", passed, failed);
	if (CU_get_number_of_failures() > 0 && failed == 0)
		failed = 1;
	CU_cleanup_registry();
	return failed ? 1 : 0;
}
