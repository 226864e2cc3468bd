/*
 * control.h - run-time changes without restart, from the control topic.
 *
 * Every fundguard process reads the whole control topic from the beginning
 * with its own consumer (no group: each replica must apply every message, in
 * order; give the topic one partition). Messages are JSON objects:
 *   {"op": "set", "key": "detectors.readmission_burst.readmit_days", "value": 10, "version": "2026-11-23.1"}
 *   {"op": "set", "key": "detectors.card_misuse.enabled", "value": false}
 *   {"op": "blacklist_add", "list": "doctor", "id": "D-1401-0007", "version": "..."}
 *   {"op": "blacklist_remove", "list": "person", "id": "..."}
 *   {"op": "reload"}    re-read the reference files, as SIGHUP does
 * "version", when given, becomes the rule-set version stamped on alerts.
 * A change applies between batches: to every event processed after it.
 */
#ifndef FG_CONTROL_H
#define FG_CONTROL_H

#include <stddef.h>

#include "core/config.h"

typedef enum { FG_CTL_SET = 0, FG_CTL_BLACKLIST_ADD, FG_CTL_BLACKLIST_REMOVE, FG_CTL_RELOAD } fg_ctl_op_t;

typedef struct fg_control_msg {
    fg_ctl_op_t op;
    char key[256];    /* set */
    char value[256];  /* set: the value as text */
    int list;         /* blacklist_*: fg_kb_list_t */
    char id[256];     /* blacklist_* */
    char version[64]; /* "" if none */
    long long offset;
} fg_control_msg_t;

typedef struct fg_control fg_control_t;

/** @returns the reader assigned to every partition of topics.control from the beginning, or NULL with errstr. */
fg_control_t *fg_control_create(const fg_config_t *cf, char *errstr, size_t errstr_size);
void fg_control_destroy(fg_control_t *c); /* accepts NULL */

/**
 * @brief Next control message, without blocking. @returns 1 with *m filled, 0 if
 * none is waiting, -1 for an invalid message (reason logged, message skipped).
 */
int fg_control_poll(fg_control_t *c, fg_control_msg_t *m);

/** @brief Parses one message (exposed for tests). @returns 0 or -1 with reason. */
int fg_control_parse(const char *json, size_t len, fg_control_msg_t *m, char *reason, size_t reason_size);

#endif
