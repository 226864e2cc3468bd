/*
 * test_redis_outage.c - Redis goes away mid-stream and comes back (reliability
 * issue, item 2). fundguard must not crash, must not commit offsets for events it
 * has not processed, must back off and say so in its log and metrics, and must
 * resume when Redis returns with the same final alerts as an uninterrupted run.
 *
 * Scenario: the mixed every-pattern scenario (tests/support/mixed.c), split in
 * event-time order into a first and a second half.
 *  B  (the outage run) `fundguard run` (small batches) against a private
 *     redis-server that persists every write (appendonly, appendfsync always);
 *     the first half is processed and committed; then the second half is
 *     produced and, as soon as fundguard has committed a batch of it (so it is
 *     busy, with Redis writes possibly in flight), redis-server is SIGKILLed:
 *     a real outage, the port refuses. For the outage (FG_REDIS_OUTAGE_S
 *     seconds, default 30; 10 under ASan, where the whole suite runs a second
 *     time) the test checks every ~0.5 s that fundguard runs, reports
 *     fundguard_state_store_paused 1 with Redis errors counted and /readyz not
 *     ready, and that once it reported the pause the group's committed offsets
 *     do not move (and stay short of the input's end). Then redis-server
 *     restarts from its append-only file on the same port; fundguard must
 *     resume by itself, commit everything, report paused 0 and stop cleanly
 *     when idle. The batch that was in flight is processed again: its state
 *     updates must not count twice.
 *  A  (the reference) an uninterrupted run over the same input topics with its
 *     own group, Redis prefix (the harness's redis-server) and output topics.
 * Then the final alerts of B equal A's (tests/support/runcmp.h) and neither run
 * dead-lettered anything.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support/e2e.h"
#include "support/harness.h"
#include "support/kafka.h"
#include "support/mixed.h"
#include "support/proc.h"
#include "support/redis_priv.h"
#include "support/runcmp.h"

#if defined(__SANITIZE_ADDRESS__) /* gcc */
#define FG_T_ASAN 1
#elif defined(__has_feature) /* clang */
#if __has_feature(address_sanitizer)
#define FG_T_ASAN 1
#endif
#endif
#if defined(FG_T_ASAN)
#define FG_OUTAGE_DEFAULT_S 10.0 /* ASan run: the suite's second pass, keep it shorter */
#else
#define FG_OUTAGE_DEFAULT_S 30.0 /* the figure */
#endif

static fg_tredis_t redis;
static char redis_dir[128];

static void cleanup(void) {
    fg_tp_kill_spawned(); /* a fundguard a failed assertion left running */
    fg_tredis_kill(&redis);
    if (redis_dir[0]) {
        char cmd[256];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", redis_dir);
        if (system(cmd) != 0) fprintf(stderr, "redis_outage: could not remove %s\n", redis_dir);
    }
}

static int log_has(const char *path, const char *text) {
    char *s = fg_tp_read(path);
    int has = s && strstr(s, text);
    free(s);
    return has;
}

/* the process is still running; fails the test with its log otherwise */
static void alive(int pid, const char *log) {
    int status = 0;
    cr_assert(!fg_tp_wait(pid, 0, &status), "fundguard ended during the outage with status 0x%x (log %s)", status,
              log);
}

typedef struct {
    const fg_mixed_t *m;
    const fg_e2e_t *e;
    size_t from;
} second_half_t;

static void *produce_second_half(void *arg) {
    const second_half_t *sh = arg;
    fg_rc_produce_mixed(sh->m, sh->e, sh->from, sh->m->n);
    return NULL;
}

Test(redis_outage, stop_redis_mid_stream_then_resume_with_same_alerts, .fini = cleanup, .timeout = 240) {
    double t0 = fg_rc_now();
    double outage_s = fg_rc_env_seconds("FG_REDIS_OUTAGE_S", FG_OUTAGE_DEFAULT_S);

    /* a private redis-server that keeps every acknowledged write across a kill -9 */
    snprintf(redis_dir, sizeof(redis_dir), "/tmp/%s", fg_test_unique("fg-redis-outage"));
    cr_assert_eq(mkdir(redis_dir, 0700), 0, "mkdir %s", redis_dir);
    char redis_args[512];
    snprintf(redis_args, sizeof(redis_args), "--dir %s --appendonly yes --appendfsync always", redis_dir);
    fg_tredis_start(&redis, redis_args);

    fg_mixed_t m;
    fg_mixed_build(&m);
    size_t half = m.n / 2;
    fg_e2e_t e;
    fg_e2e_setup(&e);
    int port = fg_rc_free_port();
    fg_rc_run_t A, B;
    fg_rc_opts_t ob = {.redis_port = redis.port, .http_port = port, .batch_max = 10};
    fg_rc_run_init(&B, &e, "B", &ob);
    fg_rc_run_init(&A, &e, "A", &(fg_rc_opts_t){.batch_max = 20});
    fg_rc_produce_mixed(&m, &e, 0, half);
    fg_tk_touch(e.control);
    fg_rc_run_touch(&A);
    fg_rc_run_touch(&B);

    /* B, first half: processed and committed */
    fg_rc_progress_t pb;
    fg_rc_progress_open(&pb, &e, B.group);
    long long end1 = fg_rc_progress_end(&pb);
    cr_assert_eq(end1, (long long)half, "first half: %lld messages on the input topics, %zu produced", end1, half);
    const char *args[] = {"run", "--config", B.cfg, "--idle-exit-ms", "4000", NULL};
    int pid = fg_tp_spawn(B.log, args);
    double until = fg_rc_now() + 90;
    long long c = 0;
    while ((c = fg_rc_progress_committed(&pb, 5000)) != end1) {
        alive(pid, B.log);
        cr_assert(fg_rc_now() < until, "first half not committed within 90 s (%lld of %lld, log %s)", c, end1, B.log);
        fg_rc_sleep(0.1);
    }
    double t_half = fg_rc_now();

    /* the second half arrives (produced by a thread, so that this one sees the first commit of it at once);
     * Redis is killed while fundguard works through it */
    second_half_t sh = {&m, &e, half};
    pthread_t producer;
    cr_assert_eq(pthread_create(&producer, NULL, produce_second_half, &sh), 0);
    while ((c = fg_rc_progress_committed(&pb, 5000)) == end1) {
        alive(pid, B.log);
        cr_assert(fg_rc_now() < until, "no batch of the second half committed within 90 s (log %s)", B.log);
        fg_rc_sleep(0.002);
    }
    fg_tredis_crash(&redis);
    double down_at = fg_rc_now();
    pthread_join(producer, NULL);
    long long end = fg_rc_progress_end(&pb);
    cr_assert_eq(end, (long long)m.n);
    cr_assert(c < end, "all the input was committed before Redis could be killed: use smaller batches");
    fprintf(stderr, "redis_outage: %zu events, first half (%lld) committed after %.1f s; redis-server killed at "
                    "%lld committed, down for %.0f s (FG_REDIS_OUTAGE_S)\n",
            m.n, end1, t_half - t0, c, outage_s);

    int saw_paused = 0, saw_unready = 0, checks = 0;
    double errors = 0, pauses = 0;
    long long held = -1; /* committed offsets once the pause was reported */
    while (fg_rc_now() - down_at < outage_s) {
        alive(pid, B.log);
        char *metrics = fg_rc_http_get(port, "/metrics");
        cr_assert(metrics, "/metrics did not answer during the outage (log %s)", B.log);
        long long cc = fg_rc_progress_committed(&pb, 5000);
        cr_assert(cc >= c && cc < end, "committed %lld during the Redis outage (%lld at the kill, input %lld; log %s)",
                  cc, c, end, B.log);
        if (held >= 0)
            cr_assert_eq(cc, held, "committed offsets moved from %lld to %lld while the state store was paused "
                                   "(log %s)", held, cc, B.log);
        if (fg_rc_metric(metrics, "fundguard_state_store_paused") == 1) {
            /* an asynchronous commit of the batch before may still land: from the next check on, nothing may */
            if (saw_paused && held < 0) held = cc;
            saw_paused = 1;
            errors = fg_rc_metric(metrics, "fundguard_redis_errors_total");
            pauses = fg_rc_metric(metrics, "fundguard_state_store_pauses_total");
            cr_assert(errors >= 1 && pauses >= 1, "paused, but redis_errors_total %g, state_store_pauses_total %g",
                      errors, pauses);
            char *ready = fg_rc_http_get(port, "/readyz");
            saw_unready |= !ready;
            free(ready);
        }
        free(metrics);
        checks++;
        fg_rc_sleep(0.5);
    }
    cr_assert(saw_paused && held >= 0, "fundguard did not report fundguard_state_store_paused 1 during %.0f s "
                                       "without Redis (log %s)", outage_s, B.log);
    cr_assert(saw_unready, "/readyz answered ready while the state store was paused (log %s)", B.log);
    cr_assert(log_has(B.log, "state store unavailable"), "no state-store outage in the log %s", B.log);
    cr_assert(!log_has(B.log, "state store back"), "the log says the state store came back while it was down (%s)",
              B.log);

    /* Redis returns with its data; fundguard resumes by itself */
    fg_tredis_start(&redis, redis_args);
    double up_at = fg_rc_now();
    until = up_at + 90;
    while ((c = fg_rc_progress_committed(&pb, 5000)) != end) {
        alive(pid, B.log);
        cr_assert(fg_rc_now() < until, "not all committed within 90 s after Redis returned (%lld of %lld, log %s)", c,
                  end, B.log);
        fg_rc_sleep(0.1);
    }
    double t_resumed = fg_rc_now();
    char *metrics = fg_rc_http_get(port, "/metrics");
    cr_assert(metrics, "/metrics did not answer after the outage (log %s)", B.log);
    double paused_after = fg_rc_metric(metrics, "fundguard_state_store_paused");
    double pauses_after = fg_rc_metric(metrics, "fundguard_state_store_pauses_total");
    free(metrics);
    cr_assert_eq(paused_after, 0, "fundguard_state_store_paused %g after Redis returned (log %s)", paused_after, B.log);
    cr_assert(pauses_after >= 1, "fundguard_state_store_pauses_total %g", pauses_after);
    fg_tp_finish(pid, 60, B.log);
    cr_assert(log_has(B.log, "state store back after"), "no recovery line in the log %s", B.log);
    fg_rc_progress_close(&pb);

    /* A: the reference, uninterrupted */
    double ta = fg_rc_now();
    const char *args_a[] = {"run", "--config", A.cfg, "--idle-exit-ms", "4000", NULL};
    cr_assert_eq(fg_tp_run(A.log, 120, args_a), 0, "reference run failed, see %s", A.log);
    const char *inputs[3] = {e.claims, e.inpatient, e.invoicing};
    for (int i = 0; i < 3; i++) {
        long long end_a = 0, ca = fg_tk_committed_sum(A.group, inputs[i], &end_a);
        cr_assert_eq(ca, end_a, "reference run: %s committed %lld of %lld (log %s)", inputs[i], ca, end_a, A.log);
    }
    double t_a = fg_rc_now() - ta;

    fg_tmsgs_t dla = fg_tk_read_all(A.dlq), dlb = fg_tk_read_all(B.dlq);
    cr_assert_eq(dla.n, 0, "reference run: %zu dead letters, the first: %s", dla.n, dla.n ? dla.v[0].reason : "");
    cr_assert_eq(dlb.n, 0, "outage run: %zu dead letters, the first: %s", dlb.n, dlb.n ? dlb.v[0].reason : "");
    fg_tk_free(&dla);
    fg_tk_free(&dlb);

    fg_rc_alerts_t aa, ab;
    fg_rc_alerts_read(A.alerts, &aa);
    fg_rc_alerts_read(B.alerts, &ab);
    cr_assert(aa.n > 0, "the reference run published no alerts (log %s)", A.log);
    char why[8192];
    size_t d = fg_rc_alerts_diff(&aa, &ab, why, sizeof(why));
    cr_assert_eq(d, 0, "final alerts differ from the uninterrupted run in %zu ids (logs %s, %s):%s", d, A.log, B.log,
                 why);

    fprintf(stderr,
            "redis_outage: paused seen over %d checks (redis_errors_total %g, state_store_pauses_total %g); offsets "
            "held at %lld of %lld; resumed and committed all %.1f s after Redis returned\n"
            "redis_outage: alerts: %zu ids in both (outage run %zu messages, reference %zu); reference run %.1f s; "
            "total %.1f s\n",
            checks, errors, pauses_after, held, end, t_resumed - up_at, aa.n, ab.messages, aa.messages, t_a,
            fg_rc_now() - t0);
    fg_rc_alerts_free(&aa);
    fg_rc_alerts_free(&ab);
    fg_mixed_free(&m);
    remove(A.cfg);
    remove(B.cfg);
}
