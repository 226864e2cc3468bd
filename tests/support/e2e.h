/* e2e.h - a private set of topics, a Redis prefix and a config file for one end-to-end test. */
#ifndef FG_TEST_E2E_H
#define FG_TEST_E2E_H

typedef struct fg_e2e {
    char base[128], claims[160], inpatient[160], invoicing[160], alerts[160], dlq[160], control[160], risk[160];
    char cfg[256], log[256];
} fg_e2e_t;

/** @brief Unique names for everything a run touches. */
void fg_e2e_setup(fg_e2e_t *e);
/**
 * @brief Writes e->cfg: the harness's broker and Redis, e's topics and prefix, group,
 * short timeouts, schema id 7 = inpatient.avsc, and `extra` (JSON members, may be "")
 * spliced into the top-level object.
 */
void fg_e2e_config(fg_e2e_t *e, const char *group, const char *extra);

#endif
