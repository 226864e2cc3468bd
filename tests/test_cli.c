/*
 * test_cli.c - what operators touch first: the shipped example config
 * validates, its secrets never print, and docs/CONFIGURATION.md matches the
 * declarations it is generated from.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/harness.h"
#include "support/proc.h"

Test(cli, configuration_reference_in_docs_is_current) {
    char out[256], doc[512];
    snprintf(out, sizeof(out), "/tmp/%s.md", fg_test_unique("cfgdoc"));
    const char *args[] = {"config-doc", NULL};
    cr_assert_eq(fg_tp_run(out, 30, args), 0);
    snprintf(doc, sizeof(doc), "%s/docs/CONFIGURATION.md", fg_test_source_dir());
    char *want = fg_tp_read(out), *have = fg_tp_read(doc);
    cr_assert(want && have, "missing %s", doc);
    cr_assert(!strcmp(want, have), "docs/CONFIGURATION.md is stale: regenerate with `fundguard config-doc > docs/CONFIGURATION.md`");
    free(want);
    free(have);
    remove(out);
}

Test(cli, example_config_validates_and_masks_its_secrets) {
    setenv("FUNDGUARD_KAFKA_PASSWORD", "kafka-pw-must-not-print", 1);
    setenv("FUNDGUARD_REDIS_PASSWORD", "redis-pw-must-not-print", 1);
    char cfg[512], out[256];
    snprintf(cfg, sizeof(cfg), "%s/deploy/fundguard.example.json", fg_test_source_dir());
    snprintf(out, sizeof(out), "/tmp/%s.txt", fg_test_unique("check"));
    const char *args[] = {"run", "--config", cfg, "--check-config", NULL};
    cr_assert_eq(fg_tp_run(out, 30, args), 0);
    char *dump = fg_tp_read(out);
    cr_assert(dump && strstr(dump, "\"redis.ybpt.internal\""), "dump: %s", dump ? dump : "");
    cr_assert(!strstr(dump, "must-not-print"), "a secret was printed: %s", dump);
    cr_assert(strstr(dump, "***"));
    free(dump);
    remove(out);
}

Test(cli, example_config_without_its_secret_env_fails_naming_the_variable) {
    unsetenv("FUNDGUARD_KAFKA_PASSWORD");
    setenv("FUNDGUARD_REDIS_PASSWORD", "x", 1);
    char cfg[512], out[256];
    snprintf(cfg, sizeof(cfg), "%s/deploy/fundguard.example.json", fg_test_source_dir());
    snprintf(out, sizeof(out), "/tmp/%s.txt", fg_test_unique("check"));
    const char *args[] = {"run", "--config", cfg, "--check-config", NULL};
    cr_assert_eq(fg_tp_run(out, 30, args), 1);
    char *log = fg_tp_read(out);
    cr_assert(log && strstr(log, "FUNDGUARD_KAFKA_PASSWORD"), "log: %s", log ? log : "");
    free(log);
    remove(out);
}

Test(cli, unknown_subcommand_exits_2_with_usage) {
    char out[256];
    snprintf(out, sizeof(out), "/tmp/%s.txt", fg_test_unique("usage"));
    const char *args[] = {"frobnicate", NULL};
    cr_assert_eq(fg_tp_run(out, 10, args), 2);
    char *log = fg_tp_read(out);
    cr_assert(log && strstr(log, "usage: fundguard"));
    free(log);
    remove(out);
}

Test(cli, readme_rule_table_matches_the_detectors) {
    char out[256], path[512];
    snprintf(out, sizeof(out), "/tmp/%s.md", fg_test_unique("rules"));
    const char *args[] = {"rules", NULL};
    cr_assert_eq(fg_tp_run(out, 30, args), 0);
    snprintf(path, sizeof(path), "%s/README.md", fg_test_source_dir());
    char *want = fg_tp_read(out), *readme = fg_tp_read(path);
    cr_assert(want && readme);
    const char *begin = strstr(readme, "<!-- rules:begin");
    cr_assert(begin, "README has no rules section");
    begin = strchr(begin, '\n') + 1;
    const char *end = strstr(begin, "<!-- rules:end");
    cr_assert(end);
    cr_assert(strlen(want) == (size_t)(end - begin) && !strncmp(begin, want, strlen(want)),
              "README's rule table is stale: replace it with the output of `fundguard rules`");
    free(want);
    free(readme);
    remove(out);
}
