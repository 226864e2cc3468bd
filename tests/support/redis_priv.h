/*
 * redis_priv.h - a private redis-server on a free loopback port for tests that
 * need one of their own (outages, passwords, ACL users), beside the shared one
 * tests/run.sh starts.
 */
#ifndef FG_TEST_REDIS_PRIV_H
#define FG_TEST_REDIS_PRIV_H

typedef struct fg_tredis {
    int port;          /* 0: pick a free port on first start */
    char pidfile[128];
} fg_tredis_t;

/** @returns a loopback port that was free a moment ago. */
int fg_tredis_free_port(void);
/** @brief Starts redis-server with extra_args (e.g. "--requirepass x") and waits until it accepts connections. */
void fg_tredis_start(fg_tredis_t *r, const char *extra_args);
/** @brief SHUTDOWN NOSAVE as user/password (NULLs for none) and waits until the port refuses. */
void fg_tredis_stop(fg_tredis_t *r, const char *user, const char *password);
/**
 * @brief A real outage: SIGKILL through the pidfile (no save, no goodbye to clients)
 * and waits until the port refuses. What survives is what the server persisted
 * (start it with "--appendonly yes --appendfsync always --dir D" to keep every
 * acknowledged write), and fg_tredis_start with the same port and arguments brings it back.
 */
void fg_tredis_crash(fg_tredis_t *r);
/** @brief Kills it through its pidfile if it is still up (for .fini). */
void fg_tredis_kill(fg_tredis_t *r);

#endif
