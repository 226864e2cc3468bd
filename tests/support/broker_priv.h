/*
 * broker_priv.h - a private `fundguard broker` for tests that need one of their
 * own: outages (SIGUSR1/SIGUSR2 take its brokers down and up, see broker/broker.c)
 * or topics with a chosen partition count (the shared broker auto-creates 4).
 */
#ifndef FG_TEST_BROKER_PRIV_H
#define FG_TEST_BROKER_PRIV_H

typedef struct fg_tbroker {
    int pid;
    char bootstrap[256];
    char file[128], log[128];
} fg_tbroker_t;

/**
 * @brief Starts `fundguard broker --partitions N --topic T...` (topics: NULL-terminated,
 * created with N partitions each) and waits for its bootstrap list.
 * Then points this test process at it: FG_TEST_BOOTSTRAP is replaced, so every
 * tests/support helper (kafka.h, e2e.h, runcmp.h) talks to this broker from then on.
 */
void fg_tbroker_start(fg_tbroker_t *b, int partitions, const char *const *topics);
/** @brief All brokers down (connections dropped and refused; data, offsets and groups kept). */
void fg_tbroker_down(fg_tbroker_t *b);
/** @brief All brokers up again. */
void fg_tbroker_up(fg_tbroker_t *b);
/** @brief SIGTERM and reap (accepts a zeroed or already stopped b). */
void fg_tbroker_stop(fg_tbroker_t *b);

#endif
