/* CUnit driver for the tests that need DPDK's EAL (shadow filters and
 * copies on real mbufs): EAL without hugepages, PCI or shared files, then
 * the suites of tests/test_filter.c.  Prints CUnit's summary and a final
 * "N passed, N failed" line like sluice-unit. */
#include <stdio.h>

#include <CUnit/Basic.h>

#include <rte_eal.h>
#include <rte_errno.h>

void sl_test_register_filter(void);

int main(void)
{
	char *eal[] = { "sluice-filter-test", "--no-huge", "--no-pci", "--no-shconf", "-m", "256",
			"-l", "0", "--log-level=*:error", NULL };
	unsigned passed, failed;

	if (rte_eal_init(9, eal) < 0) {
		fprintf(stderr, "sluice-filter-test: EAL initialisation failed: %s\n",
			rte_strerror(rte_errno));
		printf("0 passed, 1 failed\n");
		return 1;
	}
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	sl_test_register_filter();
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failed = CU_get_number_of_tests_failed();
	passed = CU_get_number_of_tests_run() - failed;
	printf("\n%u passed, %u failed\n", passed, failed);
	if (CU_get_number_of_failures() > 0 && failed == 0)
		failed = 1;
	CU_cleanup_registry();
	rte_eal_cleanup();
	return failed ? 1 : 0;
}
