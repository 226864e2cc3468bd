/* kafka.h - producing to and reading back from the harness's broker in tests. */
#ifndef FG_TEST_KAFKA_H
#define FG_TEST_KAFKA_H

#include <stddef.h>

typedef struct fg_tmsg {
    char *key, *value; /* NUL-terminated copies; value may hold binary (use len) */
    size_t len;
    int partition;
    long long offset;
    char *reason, *src_topic, *src_offset; /* fundguard dead-letter headers, or NULL */
} fg_tmsg_t;

typedef struct fg_tmsgs {
    fg_tmsg_t *v;
    size_t n;
} fg_tmsgs_t;

/** @brief Produces (key, value, len) to topic and waits for every acknowledgement. */
void fg_tk_produce(const char *topic, const char *key, const void *value, size_t len);
/** @brief Produces one message per line of a "key|json" text (lines starting '#' skipped). */
void fg_tk_produce_lines(const char *topic, const char *text);
/** @brief Creates topic (auto-created by the broker on first metadata request). */
void fg_tk_touch(const char *topic);
/**
 * @brief Reads every message of topic from the beginning of all partitions until
 * the end offsets seen at the start are reached. @returns the list; free with fg_tk_free.
 */
fg_tmsgs_t fg_tk_read_all(const char *topic);
void fg_tk_free(fg_tmsgs_t *m);
/** @returns the group's committed offsets summed over the topic's partitions (-1 none) and, in *end, the high watermarks' sum. */
long long fg_tk_committed_sum(const char *group, const char *topic, long long *end);

#endif
