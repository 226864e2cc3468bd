/*
 * test_rebalance.c - two fundguard processes in one consumer group, one of them
 * stopped and restarted mid-run (reliability issue, item 4): the union of their
 * alerts must be the alerts of a single process over the same input.
 *
 * Scenario: the mixed every-pattern scenario (tests/support/mixed.c) on a
 * private broker with 8 partitions per input topic (24 partitions for the group
 * to share; the shared broker would auto-create 4). Each run reads its own copy
 * of the input (same events, same keys, own topics), so that B and C can start
 * on empty topics and get the input only once both members hold partitions: a
 * lone first member would otherwise process most of it during the join.
 *  A  (the reference) one `fundguard run` alone, its own group, Redis prefix and
 *     output topics.
 *  B  two processes P1, P2 in group B (one Redis prefix, one alerts topic: alert
 *     markers in Redis are shared, as in production). Once both hold partitions
 *     the input is produced; once the group has committed a quarter of it, P2 is
 *     stopped with SIGTERM (graceful: it finishes its batch, commits and leaves
 *     the group), then restarted and rejoins.
 *  C  the same with SIGKILL: P2 dies without committing or leaving; its
 *     partitions move to P1 only once its session times out (session.timeout.ms
 *     6000), and what it had processed but not committed is processed again.
 * Every process ends by --idle-exit-ms once the input is drained; each group
 * must have committed every input offset, no process may exit non-zero, and B's
 * and C's final alerts (tests/support/runcmp.h) must equal A's.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "support/broker_priv.h"
#include "support/e2e.h"
#include "support/harness.h"
#include "support/kafka.h"
#include "support/mixed.h"
#include "support/proc.h"
#include "support/runcmp.h"

#define FG_RB_PARTITIONS 8
#define FG_RB_BATCH 10

static fg_tbroker_t broker;

static void cleanup(void) {
    fg_tbroker_stop(&broker);
    fg_tp_kill_spawned(); /* fundguard processes a failed assertion left running */
}

static int count_in_log(const char *path, const char *text) {
    char *s = fg_tp_read(path);
    int n = 0;
    for (const char *p = s; p && (p = strstr(p, text)); p += strlen(text)) n++;
    free(s);
    return n;
}

/* events consumed by a process as its last stats line in log says (0: none yet) */
static unsigned long long consumed_in_log(const char *path) {
    char *s = fg_tp_read(path);
    unsigned long long c = 0, i = 0, v = 0;
    const char *last = NULL;
    for (const char *p = s; p && (p = strstr(p, "stats: consumed ")); p++) last = p;
    if (last && sscanf(last, "stats: consumed claims=%llu inpatient=%llu invoicing=%llu", &c, &i, &v) != 3) c = i = v = 0;
    free(s);
    return c + i + v;
}

/*
 * One two-process run with a stop of P2 by sig mid-run. P1 logs to r->log, P2 to
 * r->log + ".p2" (its restart appends). @returns the seconds the run took.
 */
static double two_processes(const fg_mixed_t *m, const fg_e2e_t *e, const fg_rc_run_t *r, int sig) {
    double t0 = fg_rc_now();
    fg_rc_progress_t p;
    fg_rc_progress_open(&p, e, r->group);
    cr_assert_eq(p.partitions, 3 * FG_RB_PARTITIONS, "input partitions: %d", p.partitions);
    const char *args[] = {"run", "--config", r->cfg, "--idle-exit-ms", "4000", NULL};
    char log2[320];
    snprintf(log2, sizeof(log2), "%s.p2", r->log);
    int p1 = fg_tp_spawn(r->log, args);
    int p2 = fg_tp_spawn(log2, args);
    const char *what = sig == SIGKILL ? "SIGKILL" : "SIGTERM";

    /* both members got partitions (the later one's assignment completes the rebalance for both) */
    int status = 0;
    while (!count_in_log(r->log, "assigned ") || !count_in_log(log2, "assigned ")) {
        cr_assert(!fg_tp_wait(p1, 0, &status), "%s run: P1 ended early with status 0x%x (log %s)", what, status, r->log);
        cr_assert(!fg_tp_wait(p2, 0, &status), "%s run: P2 ended early with status 0x%x (log %s)", what, status, log2);
        cr_assert(fg_rc_now() - t0 < 60, "%s run: the two members did not both get partitions within 60 s (logs %s, "
                  "%s)", what, r->log, log2);
        fg_rc_sleep(0.02);
    }
    /* then the input, and the group makes progress */
    fg_rc_produce_mixed(m, e, 0, m->n);
    long long end = fg_rc_progress_end(&p), c = 0;
    cr_assert_eq(end, (long long)m->n, "%lld messages on the input topics, %zu produced", end, m->n);
    while ((c = fg_rc_progress_committed(&p, 5000)) < end / 4) {
        cr_assert(!fg_tp_wait(p1, 0, &status), "%s run: P1 ended early with status 0x%x (log %s)", what, status, r->log);
        cr_assert(!fg_tp_wait(p2, 0, &status), "%s run: P2 ended early with status 0x%x (log %s)", what, status, log2);
        cr_assert(fg_rc_now() - t0 < 60, "%s run: no progress within 60 s (committed %lld of %lld, log %s)", what, c,
                  end, r->log);
        fg_rc_sleep(0.02);
    }
    cr_assert(c < end, "%s run: the input was committed before P2 could be stopped (%lld of %lld): use more input "
                       "or smaller batches", what, c, end);
    long long at_stop = c;
    kill(p2, sig);
    cr_assert(fg_tp_wait(p2, 30, &status), "%s run: P2 did not end within 30 s of %s (log %s)", what, what, log2);
    if (sig == SIGKILL)
        cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "status 0x%x", status);
    else
        cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s run: P2 exited with status 0x%x (log %s)", what,
                  status, log2);
    /* a graceful stop logs its totals; after a kill the last periodic stats line (every second) is all there is */
    unsigned long long p2_consumed = consumed_in_log(log2);
    if (sig == SIGTERM)
        cr_assert(p2_consumed > 0, "%s run: P2 consumed nothing before it was stopped (log %s)", what, log2);
    long long after_stop = fg_rc_progress_committed(&p, 5000);
    cr_assert(after_stop < end, "%s run: everything committed before P2 came back (%lld of %lld): use more input or "
                                "smaller batches", what, after_stop, end);
    p2 = fg_tp_spawn(log2, args);

    fg_tp_finish(p1, 120, r->log);
    fg_tp_finish(p2, 120, log2);
    long long done = fg_rc_progress_committed(&p, 5000);
    fg_rc_progress_close(&p);
    cr_assert_eq(done, end, "%s run: committed %lld of %lld after both processes stopped (log %s)", what, done, end,
                 r->log);
    cr_assert(!count_in_log(r->log, "DATA LOSS") && !count_in_log(log2, "DATA LOSS"), "%s run: data loss reported "
              "(logs %s, %s)", what, r->log, log2);
    double took = fg_rc_now() - t0;
    fprintf(stderr, "rebalance: %s of P2 at %lld of %lld committed (%lld right after; P2 had consumed %llu); P2 "
                    "restarted; partition assignments P1 %d, P2 %d; run %.1f s\n",
            what, at_stop, end, after_stop, p2_consumed, count_in_log(r->log, "assigned "),
            count_in_log(log2, "assigned "), took);
    return took;
}

static void same_alerts(const fg_rc_run_t *ref, const fg_rc_run_t *r, const char *what, size_t *n_ids, size_t *msgs) {
    fg_tmsgs_t dl = fg_tk_read_all(r->dlq);
    cr_assert_eq(dl.n, 0, "%s: %zu dead letters, the first: %s", what, dl.n, dl.n ? dl.v[0].reason : "");
    fg_tk_free(&dl);
    fg_rc_alerts_t a, b;
    fg_rc_alerts_read(ref->alerts, &a);
    fg_rc_alerts_read(r->alerts, &b);
    cr_assert(a.n > 0, "the reference run published no alerts (log %s)", ref->log);
    char why[8192];
    size_t d = fg_rc_alerts_diff(&a, &b, why, sizeof(why));
    cr_assert_eq(d, 0, "%s: final alerts differ from the single process in %zu ids (logs %s, %s):%s", what, d,
                 ref->log, r->log, why);
    *n_ids = b.n;
    *msgs = b.messages;
    fg_rc_alerts_free(&a);
    fg_rc_alerts_free(&b);
}

Test(rebalance, two_members_one_stopped_and_restarted_same_alerts_as_one, .fini = cleanup, .timeout = 300) {
    double t0 = fg_rc_now();
    fg_mixed_t m;
    fg_mixed_build(&m);
    fg_e2e_t e, eb, ec; /* one copy of the input each */
    fg_e2e_setup(&e);
    fg_e2e_setup(&eb);
    fg_e2e_setup(&ec);
    const char *topics[] = {e.claims,  e.inpatient,  e.invoicing,  e.control,  eb.claims, eb.inpatient,
                            eb.invoicing, eb.control, ec.claims, ec.inpatient, ec.invoicing, ec.control, NULL};
    fg_tbroker_start(&broker, FG_RB_PARTITIONS, topics);
    fg_rc_run_t A, B, C;
    fg_rc_opts_t o = {.batch_max = FG_RB_BATCH};
    fg_rc_run_init(&A, &e, "A", &o);
    fg_rc_run_init(&B, &eb, "B", &o);
    fg_rc_run_init(&C, &ec, "C", &o);
    fg_rc_run_touch(&A);
    fg_rc_run_touch(&B);
    fg_rc_run_touch(&C);
    fg_rc_produce_mixed(&m, &e, 0, m.n);
    fg_rc_progress_t p;
    fg_rc_progress_open(&p, &e, A.group);
    long long end = fg_rc_progress_end(&p);
    cr_assert_eq(p.partitions, 3 * FG_RB_PARTITIONS, "input partitions: %d", p.partitions);
    cr_assert_eq(end, (long long)m.n, "%lld messages on the input topics, %zu produced", end, m.n);

    /* A: one process */
    double ta = fg_rc_now();
    const char *args_a[] = {"run", "--config", A.cfg, "--idle-exit-ms", "4000", NULL};
    cr_assert_eq(fg_tp_run(A.log, 120, args_a), 0, "single-process run failed, see %s", A.log);
    long long ca = fg_rc_progress_committed(&p, 5000);
    fg_rc_progress_close(&p);
    cr_assert_eq(ca, end, "single-process run committed %lld of %lld (log %s)", ca, end, A.log);
    double t_a = fg_rc_now() - ta;

    /* B: graceful stop and restart; C: kill -9 and restart */
    double t_b = two_processes(&m, &eb, &B, SIGTERM);
    size_t ids_b, msgs_b, ids_c, msgs_c;
    same_alerts(&A, &B, "SIGTERM run", &ids_b, &msgs_b);
    double t_c = two_processes(&m, &ec, &C, SIGKILL);
    same_alerts(&A, &C, "SIGKILL run", &ids_c, &msgs_c);

    fprintf(stderr,
            "rebalance: %zu events over %d partitions; alerts equal to the single process: SIGTERM run %zu ids in %zu "
            "messages, SIGKILL run %zu ids in %zu messages\n"
            "rebalance: timing: single %.1f s, SIGTERM run %.1f s, SIGKILL run %.1f s, total %.1f s\n",
            m.n, 3 * FG_RB_PARTITIONS, ids_b, msgs_b, ids_c, msgs_c, t_a, t_b, t_c, fg_rc_now() - t0);
    fg_mixed_free(&m);
    remove(A.cfg);
    remove(B.cfg);
    remove(C.cfg);
}
