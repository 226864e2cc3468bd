/*
 * harness.h - what tests/run.sh started for the tests: a real redis-server and
 * the embedded Kafka broker (`fundguard broker`) on free loopback ports.
 * Tests never fake either; they isolate themselves with unique key prefixes,
 * topic names and consumer group ids instead.
 */
#ifndef FG_TEST_HARNESS_H
#define FG_TEST_HARNESS_H

/** @returns $FG_TEST_REDIS_PORT; fails the test with a clear message if unset. */
int fg_test_redis_port(void);
/** @returns $FG_TEST_BOOTSTRAP (host:port,...) of the embedded broker; fails the test if unset. */
const char *fg_test_bootstrap(void);
/** @returns $FG_BIN, the fundguard binary (set by CTest). */
const char *fg_test_bin(void);
/** @returns $FG_SOURCE_DIR, the repository root (set by CTest). */
const char *fg_test_source_dir(void);
/**
 * @brief A name unique to this process and call: "<base>-<pid>-<n>-<rand>".
 * @returns a static buffer rotated over 16 slots (copy it if you keep many).
 */
const char *fg_test_unique(const char *base);

#endif
