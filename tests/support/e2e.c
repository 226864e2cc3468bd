/* e2e.c - per-test topics and configuration for end-to-end tests. */
#include "e2e.h"

#include <stdio.h>

#include "harness.h"
#include "proc.h"

void fg_e2e_setup(fg_e2e_t *e) {
    snprintf(e->base, sizeof(e->base), "%s", fg_test_unique("e2e"));
    snprintf(e->claims, sizeof(e->claims), "%s-claims", e->base);
    snprintf(e->inpatient, sizeof(e->inpatient), "%s-inpatient", e->base);
    snprintf(e->invoicing, sizeof(e->invoicing), "%s-invoicing", e->base);
    snprintf(e->alerts, sizeof(e->alerts), "%s-alerts", e->base);
    snprintf(e->dlq, sizeof(e->dlq), "%s-dlq", e->base);
    snprintf(e->control, sizeof(e->control), "%s-control", e->base);
    snprintf(e->risk, sizeof(e->risk), "%s-risk", e->base);
    snprintf(e->cfg, sizeof(e->cfg), "/tmp/%s.json", e->base);
    snprintf(e->log, sizeof(e->log), "/tmp/%s.log", e->base);
}

void fg_e2e_config(fg_e2e_t *e, const char *group, const char *extra) {
    char text[8192];
    snprintf(text, sizeof(text),
             "{\n"
             "  \"kafka\": {\"bootstrap.servers\": \"%s\", \"group.id\": \"%s\",\n"
             "            \"session.timeout.ms\": \"6000\", \"fetch.wait.max.ms\": \"50\"},\n"
             "  \"redis\": {\"port\": %d, \"prefix\": \"%s\"},\n"
             "  \"topics\": {\"claims\": \"%s\", \"inpatient\": \"%s\", \"invoicing\": \"%s\",\n"
             "             \"alerts\": \"%s\", \"dead_letter\": \"%s\", \"control\": \"%s\", \"risk\": \"%s\"},\n"
             "  \"schemas\": {\"avro_ids\": {\"7\": \"%s/schemas/inpatient.avsc\"}},\n"
             "  \"pipeline\": {\"batch_wait_ms\": 10, \"stats_interval_ms\": 0}%s%s\n"
             "}\n",
             fg_test_bootstrap(), group, fg_test_redis_port(), e->base, e->claims, e->inpatient, e->invoicing,
             e->alerts, e->dlq, e->control, e->risk, fg_test_source_dir(), extra && *extra ? ",\n  " : "",
             extra ? extra : "");
    fg_tp_write(e->cfg, text);
}
