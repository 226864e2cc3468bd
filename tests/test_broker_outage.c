/*
 * test_broker_outage.c - the Kafka broker goes away mid-stream and comes back
 * (reliability issue, item 3). fundguard must not exit, must not commit past
 * what it processed, and must end with the same final alerts as an
 * uninterrupted run.
 *
 * The embedded broker keeps everything in memory, so restarting its process
 * would lose the input and the committed offsets. The outage is injected
 * instead through the mock cluster: a private `fundguard broker` takes all its
 * brokers down on SIGUSR1 (connections dropped, new ones refused) and up on
 * SIGUSR2 (broker/broker.c, tests/support/broker_priv.h).
 *
 * Scenario: the mixed every-pattern scenario (tests/support/mixed.c) on a
 * private broker (8 partitions per input topic).
 *  B  (the outage run) `fundguard run` with small batches; once it has
 *     committed part of the input, all brokers go down for FG_BROKER_OUTAGE_S
 *     seconds (default 12, longer than the 6 s session timeout, so the group
 *     membership expires on the broker too). Meanwhile fundguard must keep
 *     running and report /readyz not ready (Kafka not connected). After the
 *     brokers return it must finish the input by itself (every input offset
 *     committed) and stop cleanly when idle.
 *  A  (the reference) an uninterrupted run over the same input topics with its
 *     own group, Redis prefix and output topics.
 * Then the final alerts of B equal A's (tests/support/runcmp.h), no dead
 * letters, and B's committed offsets never went backwards or beyond the input.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/broker_priv.h"
#include "support/e2e.h"
#include "support/harness.h"
#include "support/kafka.h"
#include "support/mixed.h"
#include "support/proc.h"
#include "support/runcmp.h"

static fg_tbroker_t broker;

static void cleanup(void) {
    fg_tbroker_stop(&broker);
    fg_tp_kill_spawned(); /* fundguard processes a failed assertion left running */
}

static int log_has(const char *path, const char *text) {
    char *s = fg_tp_read(path);
    int has = s && strstr(s, text);
    free(s);
    return has;
}

static void alive(int pid, const char *log) {
    int status = 0;
    cr_assert(!fg_tp_wait(pid, 0, &status), "fundguard ended with status 0x%x while input was pending (log %s)",
              status, log);
}

Test(broker_outage, brokers_down_mid_stream_then_resume_with_same_alerts, .fini = cleanup, .timeout = 240) {
    double t0 = fg_rc_now();
    double outage_s = fg_rc_env_seconds("FG_BROKER_OUTAGE_S", 12);

    fg_mixed_t m;
    fg_mixed_build(&m);
    fg_e2e_t e;
    fg_e2e_setup(&e);
    int port = fg_rc_free_port();
    fg_rc_run_t A, B;
    /* names only so far: the configs are written once the broker's address is known */
    const char *topics[] = {e.claims, e.inpatient, e.invoicing, e.control, NULL};
    fg_tbroker_start(&broker, 8, topics);
    fg_rc_run_init(&A, &e, "A", &(fg_rc_opts_t){.batch_max = 10});
    fg_rc_run_init(&B, &e, "B", &(fg_rc_opts_t){.batch_max = 10, .http_port = port});
    fg_rc_run_touch(&A);
    fg_rc_run_touch(&B);
    fg_rc_produce_mixed(&m, &e, 0, m.n);

    fg_rc_progress_t pb;
    fg_rc_progress_open(&pb, &e, B.group);
    long long end = fg_rc_progress_end(&pb);
    cr_assert_eq(end, (long long)m.n, "%lld messages on the input topics, %zu produced", end, m.n);

    /* B: runs until part of the input is committed */
    const char *args[] = {"run", "--config", B.cfg, "--idle-exit-ms", "4000", NULL};
    int pid = fg_tp_spawn(B.log, args);
    double until = fg_rc_now() + 60;
    long long before = 0;
    while ((before = fg_rc_progress_committed(&pb, 5000)) < end / 5) {
        alive(pid, B.log);
        cr_assert(fg_rc_now() < until, "no progress within 60 s (committed %lld of %lld, log %s)", before, end, B.log);
        fg_rc_sleep(0.02);
    }
    cr_assert(before < end, "B committed all the input before the outage could start: make batches smaller");

    /* the outage */
    fg_tbroker_down(&broker);
    double down_at = fg_rc_now();
    int saw_unready = 0, checks = 0;
    while (fg_rc_now() - down_at < outage_s) {
        alive(pid, B.log);
        char *ready = fg_rc_http_get(port, "/readyz");
        saw_unready |= !ready;
        free(ready);
        checks++;
        fg_rc_sleep(0.25);
    }
    cr_assert(saw_unready, "/readyz stayed ready during %.0f s without a broker (log %s)", outage_s, B.log);
    cr_assert(log_has(broker.log, "SIGUSR1: all brokers DOWN"), "the broker did not log the outage (%s)", broker.log);
    fg_tbroker_up(&broker);
    double up_at = fg_rc_now();

    /* it finishes by itself; the committed offsets only move forward */
    long long at_up = -1, c = -1, last = before;
    until = up_at + 120;
    for (;;) {
        c = fg_rc_progress_committed(&pb, 2000);
        if (c >= 0) {
            if (at_up < 0) at_up = c;
            cr_assert(c >= last, "committed offsets went back from %lld to %lld (log %s)", last, c, B.log);
            cr_assert(c <= end, "committed %lld, beyond the input's %lld", c, end);
            last = c;
        }
        if (c == end) break;
        alive(pid, B.log);
        cr_assert(fg_rc_now() < until, "not all committed within 120 s after the brokers returned (%lld of %lld, log %s)",
                  c, end, B.log);
        fg_rc_sleep(0.1);
    }
    double t_done = fg_rc_now();
    fg_tp_finish(pid, 60, B.log);
    cr_assert(!log_has(B.log, "DATA LOSS"), "data loss reported (log %s)", B.log);
    cr_assert(log_has(broker.log, "SIGUSR2: all brokers up again"), "the broker did not log its return (%s)",
              broker.log);
    fg_rc_progress_close(&pb);

    /* A: the reference */
    double ta = fg_rc_now();
    const char *args_a[] = {"run", "--config", A.cfg, "--idle-exit-ms", "4000", NULL};
    cr_assert_eq(fg_tp_run(A.log, 120, args_a), 0, "reference run failed, see %s", A.log);
    fg_rc_progress_t pa;
    fg_rc_progress_open(&pa, &e, A.group);
    long long ca = fg_rc_progress_committed(&pa, 5000);
    fg_rc_progress_close(&pa);
    cr_assert_eq(ca, end, "reference run committed %lld of %lld (log %s)", ca, end, A.log);
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
            "broker_outage: %zu events; brokers down at %lld of %lld committed for %.0f s (FG_BROKER_OUTAGE_S), "
            "/readyz not ready seen over %d checks; %lld committed when they returned; all committed %.1f s later\n"
            "broker_outage: alerts: %zu ids in both (outage run %zu messages, reference %zu); reference run %.1f s; "
            "total %.1f s\n",
            m.n, before, end, outage_s, checks, at_up, t_done - up_at, aa.n, ab.messages, aa.messages, t_a,
            fg_rc_now() - t0);
    fg_rc_alerts_free(&aa);
    fg_rc_alerts_free(&ab);
    fg_mixed_free(&m);
    remove(A.cfg);
    remove(B.cfg);
}
