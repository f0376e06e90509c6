/* Unit test registry: each tests/test_<module>.c defines one
 * sl_test_register_<module>() that adds a CUnit suite and its tests. */
#ifndef SLUICE_TEST_UNIT_H
#define SLUICE_TEST_UNIT_H

#include <CUnit/CUnit.h>

void sl_test_register_parse(void);
void sl_test_register_hash(void);
void sl_test_register_maglev(void);
void sl_test_register_flowtable(void);
void sl_test_register_tables(void);
void sl_test_register_decide(void);
void sl_test_register_evidence(void);
void sl_test_register_config(void);
void sl_test_register_dpstats(void);
void sl_test_register_maps(void);
void sl_test_register_rollout(void);
void sl_test_register_proto(void);
void sl_test_register_journal(void);
void sl_test_register_state(void);
void sl_test_register_schedule(void);
void sl_test_register_sequential(void);
void sl_test_register_guard(void);
void sl_test_register_metrics(void);

#endif
