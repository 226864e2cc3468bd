/*
 * test_broker.c - the embedded broker (`fundguard broker`) works for other
 * processes: this test process and kcat produce and consume through the
 * broker tests/run.sh started, consumer groups resume from committed offsets,
 * and a second broker process started here honours its options and exits 0
 * on SIGTERM.
 *
 * Every test uses fresh topic and group names (the mock auto-creates unknown
 * topics on produce, with 4 partitions) and bounded waits, so a broken broker
 * fails a test instead of hanging it.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "core/common.h"
#include "tests/support/harness.h"

#define FG_T_MSGS 1000
#define FG_T_KEYS 37

/* --- helpers ----------------------------------------------------------- */

typedef struct {
    int ok;
    int failed;
} fg_t_dr_t;

static void fg_t_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    fg_t_dr_t *dr = opaque;
    if (m->err) {
        dr->failed++;
        fprintf(stderr, "delivery failed: %s\n", rd_kafka_err2str(m->err));
    } else {
        dr->ok++;
    }
}

static void fg_t_set(rd_kafka_conf_t *conf, const char *k, const char *v) {
    char errstr[256];
    cr_assert_eq(rd_kafka_conf_set(conf, k, v, errstr, sizeof(errstr)), RD_KAFKA_CONF_OK,
                 "%s=%s: %s", k, v, errstr);
}

/* Idempotent producer (acks=all): what fundguard's alert and dead-letter
 * producers use. */
static rd_kafka_t *fg_t_producer(const char *bootstrap, fg_t_dr_t *dr) {
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    fg_t_set(conf, "bootstrap.servers", bootstrap);
    fg_t_set(conf, "enable.idempotence", "true");
    fg_t_set(conf, "acks", "all");
    fg_t_set(conf, "linger.ms", "5");
    fg_t_set(conf, "message.timeout.ms", "30000");
    rd_kafka_conf_set_dr_msg_cb(conf, fg_t_dr_cb);
    rd_kafka_conf_set_opaque(conf, dr);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    cr_assert_not_null(rk, "producer: %s", errstr);
    return rk;
}

/* Group consumer with the settings the platform notes ask for on the mock. */
static rd_kafka_t *fg_t_consumer(const char *group, const char *topic) {
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    fg_t_set(conf, "bootstrap.servers", fg_test_bootstrap());
    fg_t_set(conf, "group.id", group);
    fg_t_set(conf, "auto.offset.reset", "earliest");
    fg_t_set(conf, "enable.auto.commit", "false");
    fg_t_set(conf, "session.timeout.ms", "6000");
    fg_t_set(conf, "fetch.wait.max.ms", "50");
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
    cr_assert_not_null(rk, "consumer: %s", errstr);
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t *subs = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(subs, topic, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t err = rd_kafka_subscribe(rk, subs);
    rd_kafka_topic_partition_list_destroy(subs);
    cr_assert_eq(err, 0, "subscribe %s: %s", topic, rd_kafka_err2str(err));
    return rk;
}

static void fg_t_consumer_close(rd_kafka_t *rk) {
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
}

static void fg_t_produce(rd_kafka_t *rk, const char *topic, int32_t partition, const char *key,
                         const char *payload) {
    rd_kafka_resp_err_t err;
    do {
        err = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
                                RD_KAFKA_V_KEY(key, key ? strlen(key) : 0),
                                RD_KAFKA_V_VALUE((void *)payload, strlen(payload)),
                                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
        if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) rd_kafka_poll(rk, 10);
    } while (err == RD_KAFKA_RESP_ERR__QUEUE_FULL);
    cr_assert_eq(err, 0, "produce to %s: %s", topic, rd_kafka_err2str(err));
}

static void fg_t_flush(rd_kafka_t *rk, fg_t_dr_t *dr, int expect) {
    cr_assert_eq(rd_kafka_flush(rk, 30000), 0, "flush timed out");
    cr_assert_eq(dr->failed, 0, "%d deliveries failed", dr->failed);
    cr_assert_eq(dr->ok, expect, "delivered %d, expected %d", dr->ok, expect);
}

/* A message, or NULL; consumer errors other than partition EOF fail the test. */
static rd_kafka_message_t *fg_t_poll(rd_kafka_t *rk, int timeout_ms) {
    rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, timeout_ms);
    if (m && m->err) {
        rd_kafka_resp_err_t err = m->err;
        char what[512];
        snprintf(what, sizeof(what), "%s", rd_kafka_message_errstr(m));
        rd_kafka_message_destroy(m);
        if (err == RD_KAFKA_RESP_ERR__PARTITION_EOF) return NULL;
        cr_assert_fail("consumer error: %s: %s", rd_kafka_err2str(err), what);
    }
    return m;
}

static char *fg_t_strndup(const void *p, size_t n) {
    char *s = malloc(n + 1);
    cr_assert_not_null(s);
    if (n) memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

static int fg_t_cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* --- (a) keyed round trip, per-partition order ------------------------- */

Test(broker, thousand_keyed_messages_round_trip_in_order_per_partition, .timeout = 120) {
    char topic[128], group[128];
    snprintf(topic, sizeof(topic), "%s", fg_test_unique("fg-broker-rt"));
    snprintf(group, sizeof(group), "%s", fg_test_unique("fg-broker-rt-g"));

    fg_t_dr_t dr = {0, 0};
    rd_kafka_t *prod = fg_t_producer(fg_test_bootstrap(), &dr);
    for (int i = 0; i < FG_T_MSGS; i++) {
        char key[32], payload[64];
        snprintf(key, sizeof(key), "key-%d", i % FG_T_KEYS);
        snprintf(payload, sizeof(payload), "%s|%06d", key, i);
        fg_t_produce(prod, topic, RD_KAFKA_PARTITION_UA, key, payload);
        rd_kafka_poll(prod, 0);
    }
    fg_t_flush(prod, &dr, FG_T_MSGS);
    rd_kafka_destroy(prod);

    /* Per key: which partition it landed in and the last sequence seen;
     * per partition: last offset and sequence. Keys map to one partition and
     * keep production order within it. */
    int key_part[FG_T_KEYS], key_last[FG_T_KEYS];
    int64_t part_last_off[64];
    int seen[FG_T_MSGS];
    for (int k = 0; k < FG_T_KEYS; k++) key_part[k] = -1, key_last[k] = -1;
    for (int p = 0; p < 64; p++) part_last_off[p] = -1;
    memset(seen, 0, sizeof(seen));

    int64_t t0 = fg_mono_us(), first_at = -1;
    rd_kafka_t *cons = fg_t_consumer(group, topic);
    int got = 0;
    int64_t deadline = fg_mono_us() + 60 * 1000000LL;
    while (got < FG_T_MSGS && fg_mono_us() < deadline) {
        rd_kafka_message_t *m = fg_t_poll(cons, 200);
        if (!m) continue;
        if (first_at < 0) first_at = fg_mono_us();
        char *key = fg_t_strndup(m->key, m->key_len);
        char *val = fg_t_strndup(m->payload, m->len);
        int k = -1, seq = -1;
        cr_assert_eq(sscanf(key, "key-%d", &k), 1, "bad key '%s'", key);
        char vkey[32];
        cr_assert_eq(sscanf(val, "%31[^|]|%d", vkey, &seq), 2, "bad payload '%s'", val);
        cr_assert_str_eq(vkey, key, "payload %s under key %s", val, key);
        cr_assert(k >= 0 && k < FG_T_KEYS && seq >= 0 && seq < FG_T_MSGS);
        cr_assert_eq(seq % FG_T_KEYS, k, "seq %d under key %s", seq, key);
        cr_assert_eq(seen[seq], 0, "duplicate message %d", seq);
        seen[seq] = 1;
        cr_assert(m->partition >= 0 && m->partition < 64);
        if (key_part[k] < 0) key_part[k] = m->partition;
        cr_assert_eq(m->partition, key_part[k], "key %s in partitions %d and %d", key,
                     key_part[k], (int)m->partition);
        cr_assert_gt(seq, key_last[k], "key %s: %d after %d", key, seq, key_last[k]);
        key_last[k] = seq;
        cr_assert_gt(m->offset, part_last_off[m->partition], "partition %d offsets not increasing",
                     (int)m->partition);
        part_last_off[m->partition] = m->offset;
        free(key);
        free(val);
        rd_kafka_message_destroy(m);
        got++;
    }
    /* Nothing beyond the 1000: a short extra poll would show duplicates. */
    int64_t settle = fg_mono_us() + 500 * 1000;
    while (got == FG_T_MSGS && fg_mono_us() < settle) {
        rd_kafka_message_t *m = fg_t_poll(cons, 100);
        if (m) {
            rd_kafka_message_destroy(m);
            got++;
        }
    }
    fg_t_consumer_close(cons);
    cr_assert_eq(got, FG_T_MSGS, "consumed %d of %d", got, FG_T_MSGS);
    fprintf(stderr, "test_broker: %d produced, %d consumed; first join to first message %.2f s\n",
            FG_T_MSGS, got, (double)(first_at - t0) / 1e6);
}

/* --- (b) committed offsets survive a member leaving -------------------- */

Test(broker, new_group_member_resumes_after_committed_offset, .timeout = 180) {
    enum { TOTAL = 200, FIRST = 60 };
    char topic[128], group[128];
    snprintf(topic, sizeof(topic), "%s", fg_test_unique("fg-broker-commit"));
    snprintf(group, sizeof(group), "%s", fg_test_unique("fg-broker-commit-g"));

    /* One partition so "resume after the committed offset" is exact. */
    fg_t_dr_t dr = {0, 0};
    rd_kafka_t *prod = fg_t_producer(fg_test_bootstrap(), &dr);
    for (int i = 0; i < TOTAL; i++) {
        char payload[32];
        snprintf(payload, sizeof(payload), "m%04d", i);
        fg_t_produce(prod, topic, 0, NULL, payload);
    }
    fg_t_flush(prod, &dr, TOTAL);
    rd_kafka_destroy(prod);

    /* First member: read FIRST messages, commit synchronously, leave. */
    rd_kafka_t *c1 = fg_t_consumer(group, topic);
    int got = 0;
    int64_t last = -1;
    int64_t deadline = fg_mono_us() + 60 * 1000000LL;
    while (got < FIRST && fg_mono_us() < deadline) {
        rd_kafka_message_t *m = fg_t_poll(c1, 200);
        if (!m) continue;
        if (m->partition == 0) {
            cr_assert_eq(m->offset, last + 1, "first member: offset %lld after %lld",
                         (long long)m->offset, (long long)last);
            last = m->offset;
            got++;
        }
        rd_kafka_message_destroy(m);
    }
    cr_assert_eq(got, FIRST, "first member consumed %d of %d", got, FIRST);
    /* Commit exactly what was processed (the prefetch may be further on). */
    rd_kafka_topic_partition_list_t *offs = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(offs, topic, 0)->offset = last + 1;
    rd_kafka_resp_err_t err = rd_kafka_commit(c1, offs, 0 /* sync */);
    rd_kafka_topic_partition_list_destroy(offs);
    cr_assert_eq(err, 0, "commit: %s", rd_kafka_err2str(err));
    fg_t_consumer_close(c1);

    /* Second member of the same group: the broker must hand back FIRST. */
    int64_t t0 = fg_mono_us();
    rd_kafka_t *c2 = fg_t_consumer(group, topic);
    rd_kafka_topic_partition_list_t *q = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(q, topic, 0);
    err = rd_kafka_committed(c2, q, 10000);
    cr_assert_eq(err, 0, "committed(): %s", rd_kafka_err2str(err));
    cr_assert_eq(q->elems[0].offset, FIRST, "committed offset %lld, expected %d",
                 (long long)q->elems[0].offset, FIRST);
    rd_kafka_topic_partition_list_destroy(q);

    int64_t first_at = -1;
    int64_t expect = FIRST;
    deadline = fg_mono_us() + 60 * 1000000LL;
    while (expect < TOTAL && fg_mono_us() < deadline) {
        rd_kafka_message_t *m = fg_t_poll(c2, 200);
        if (!m) continue;
        if (first_at < 0) first_at = fg_mono_us();
        cr_assert_eq(m->partition, 0);
        cr_assert_eq(m->offset, expect, "second member got offset %lld, expected %lld",
                     (long long)m->offset, (long long)expect);
        char want[32];
        snprintf(want, sizeof(want), "m%04d", (int)expect);
        cr_assert(m->len == strlen(want) && !memcmp(m->payload, want, m->len),
                  "offset %lld: wrong payload", (long long)m->offset);
        rd_kafka_message_destroy(m);
        expect++;
    }
    fg_t_consumer_close(c2);
    cr_assert_eq(expect, TOTAL, "second member stopped at offset %lld of %d", (long long)expect,
                 TOTAL);
    fprintf(stderr, "test_broker: rejoin to first resumed message took %.2f s\n",
            (double)(first_at - t0) / 1e6);
}

/* --- (c) kcat, another process, produces and consumes ------------------ */

#define FG_T_KCAT_N 20

/* Runs cmd, returns its stdout lines (sorted) in out[]; returns the count. */
static int fg_t_read_lines(const char *cmd, char **out, int max) {
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p, "popen %s: %s", cmd, strerror(errno));
    char line[256];
    int n = 0;
    while (fgets(line, sizeof(line), p)) {
        line[strcspn(line, "\n")] = '\0';
        if (n < max) out[n] = fg_t_strndup(line, strlen(line));
        n++;
    }
    int st = pclose(p);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "'%s' failed (status %d)", cmd, st);
    cr_assert_leq(n, max, "'%s' printed %d lines, expected at most %d", cmd, n, max);
    qsort(out, (size_t)n, sizeof(out[0]), fg_t_cmp_str);
    return n;
}

Test(broker, kcat_produces_and_consumes_through_the_broker, .timeout = 120) {
    char topic[128], group[128], cmd[1024];
    snprintf(topic, sizeof(topic), "%s", fg_test_unique("fg-broker-kcat"));
    snprintf(group, sizeof(group), "%s", fg_test_unique("fg-broker-kcat-g"));
    const char *bs = fg_test_bootstrap();
    /* A kcat that dies early must fail the test, not kill it on write. */
    signal(SIGPIPE, SIG_IGN);

    /* kcat produces (another process). `timeout` keeps a wedged kcat from
     * hanging the suite. */
    snprintf(cmd, sizeof(cmd), "timeout 30 kcat -b '%s' -P -t '%s' -K '\\t'", bs, topic);
    FILE *p = popen(cmd, "w");
    cr_assert_not_null(p);
    char *want[FG_T_KCAT_N];
    for (int i = 0; i < FG_T_KCAT_N; i++) {
        char line[64];
        snprintf(line, sizeof(line), "k%02d=kcat-line-%02d", i % 5, i);
        want[i] = fg_t_strndup(line, strlen(line));
        fprintf(p, "k%02d\tkcat-line-%02d\n", i % 5, i);
    }
    int st = pclose(p);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "kcat -P failed (status %d)", st);
    qsort(want, FG_T_KCAT_N, sizeof(want[0]), fg_t_cmp_str);

    /* kcat consumes everything from the beginning and exits at the end. */
    char *got[FG_T_KCAT_N + 8];
    snprintf(cmd, sizeof(cmd),
             "timeout 30 kcat -b '%s' -C -t '%s' -e -o beginning -q -f '%%k=%%s\\n'", bs, topic);
    int n = fg_t_read_lines(cmd, got, FG_T_KCAT_N + 8);
    cr_assert_eq(n, FG_T_KCAT_N, "kcat consumed %d of %d", n, FG_T_KCAT_N);
    for (int i = 0; i < n; i++) cr_assert_str_eq(got[i], want[i]);
    for (int i = 0; i < n; i++) free(got[i]);

    /* ...and this process's group consumer sees exactly what kcat wrote. */
    rd_kafka_t *cons = fg_t_consumer(group, topic);
    char *mine[FG_T_KCAT_N];
    int m_n = 0;
    int64_t deadline = fg_mono_us() + 60 * 1000000LL;
    while (m_n < FG_T_KCAT_N && fg_mono_us() < deadline) {
        rd_kafka_message_t *m = fg_t_poll(cons, 200);
        if (!m) continue;
        char line[300];
        snprintf(line, sizeof(line), "%.*s=%.*s", (int)m->key_len, (const char *)m->key,
                 (int)m->len, (const char *)m->payload);
        mine[m_n++] = fg_t_strndup(line, strlen(line));
        rd_kafka_message_destroy(m);
    }
    fg_t_consumer_close(cons);
    cr_assert_eq(m_n, FG_T_KCAT_N, "consumer read %d of kcat's %d", m_n, FG_T_KCAT_N);
    qsort(mine, (size_t)m_n, sizeof(mine[0]), fg_t_cmp_str);
    for (int i = 0; i < m_n; i++) cr_assert_str_eq(mine[i], want[i]);

    /* The other direction: this process produces, kcat consumes. */
    char topic2[128];
    snprintf(topic2, sizeof(topic2), "%s", fg_test_unique("fg-broker-kcat2"));
    fg_t_dr_t dr = {0, 0};
    rd_kafka_t *prod = fg_t_producer(bs, &dr);
    for (int i = 0; i < FG_T_KCAT_N; i++) {
        char key[16], val[32];
        snprintf(key, sizeof(key), "k%02d", i % 5);
        snprintf(val, sizeof(val), "kcat-line-%02d", i);
        fg_t_produce(prod, topic2, RD_KAFKA_PARTITION_UA, key, val);
    }
    fg_t_flush(prod, &dr, FG_T_KCAT_N);
    rd_kafka_destroy(prod);
    snprintf(cmd, sizeof(cmd),
             "timeout 30 kcat -b '%s' -C -t '%s' -e -o beginning -q -f '%%k=%%s\\n'", bs, topic2);
    n = fg_t_read_lines(cmd, got, FG_T_KCAT_N + 8);
    cr_assert_eq(n, FG_T_KCAT_N, "kcat consumed %d of %d", n, FG_T_KCAT_N);
    for (int i = 0; i < n; i++) cr_assert_str_eq(got[i], want[i]);

    for (int i = 0; i < n; i++) free(got[i]);
    for (int i = 0; i < FG_T_KCAT_N; i++) free(want[i]), free(mine[i]);
}

/* --- a second broker process: options, bootstrap line, clean exit ------ */

static pid_t g_child = -1;
static char g_tmpdir[64];

/* Runs even when an assertion ends the test early, so nothing leaks. */
static void fg_t_child_fini(void) {
    if (g_child > 0) {
        kill(g_child, SIGKILL);
        waitpid(g_child, NULL, 0);
        g_child = -1;
    }
    if (g_tmpdir[0]) {
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_tmpdir);
        if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", g_tmpdir);
        g_tmpdir[0] = '\0';
    }
}

/* Reads one line from fd within timeout_ms; returns its length or -1. */
static int fg_t_read_line(int fd, char *buf, size_t size, int timeout_ms) {
    size_t n = 0;
    int64_t deadline = fg_mono_us() + (int64_t)timeout_ms * 1000;
    while (n + 1 < size) {
        int64_t left_ms = (deadline - fg_mono_us()) / 1000;
        if (left_ms <= 0) return -1;
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int r = poll(&pfd, 1, (int)left_ms);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return -1;
        ssize_t got = read(fd, buf + n, 1);
        if (got <= 0) return -1;
        if (buf[n] == '\n') break;
        n++;
    }
    buf[n] = '\0';
    return (int)n;
}

Test(broker, second_broker_process_creates_topics_and_exits_zero_on_sigterm, .timeout = 120,
     .fini = fg_t_child_fini) {
    snprintf(g_tmpdir, sizeof(g_tmpdir), "/tmp/fg-broker-test-XXXXXX");
    cr_assert_not_null(mkdtemp(g_tmpdir), "mkdtemp: %s", strerror(errno));
    char bsfile[128];
    snprintf(bsfile, sizeof(bsfile), "%s/bootstrap", g_tmpdir);

    int pfd[2];
    cr_assert_eq(pipe(pfd), 0);
    const char *bin = fg_test_bin();
    g_child = fork();
    cr_assert_neq(g_child, -1, "fork: %s", strerror(errno));
    if (g_child == 0) {
        /* If this test process dies, the broker must not outlive it. */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        dup2(pfd[1], STDOUT_FILENO);
        close(pfd[0]);
        close(pfd[1]);
        execl(bin, bin, "broker", "--topic", "x:3", "--bootstrap-file", bsfile, (char *)NULL);
        fprintf(stderr, "exec %s: %s\n", bin, strerror(errno));
        _exit(127);
    }
    close(pfd[1]);

    char line[512];
    int len = fg_t_read_line(pfd[0], line, sizeof(line), 15000);
    close(pfd[0]);
    cr_assert_geq(len, 0, "no bootstrap line from `%s broker` within 15 s", bin);
    const char *prefix = "bootstrap.servers=";
    cr_assert_eq(strncmp(line, prefix, strlen(prefix)), 0, "unexpected first line '%s'", line);
    const char *servers = line + strlen(prefix);
    cr_assert_gt(strlen(servers), 0);

    /* The file is written before the line is printed, with the same list. */
    FILE *f = fopen(bsfile, "r");
    cr_assert_not_null(f, "%s: %s", bsfile, strerror(errno));
    char fline[512] = "";
    cr_assert_not_null(fgets(fline, sizeof(fline), f));
    fclose(f);
    fline[strcspn(fline, "\n")] = '\0';
    cr_assert_str_eq(fline, servers);

    /* Topic x exists with the 3 partitions asked for. (The mock would
     * auto-create an unknown x on this very metadata request, but with 4.) */
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    fg_t_set(conf, "bootstrap.servers", servers);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
    cr_assert_not_null(rk, "%s", errstr);
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, "x", NULL);
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, rkt, &md, 10000);
    cr_assert_eq(err, 0, "metadata: %s", rd_kafka_err2str(err));
    cr_assert_eq(md->topic_cnt, 1);
    cr_assert_str_eq(md->topics[0].topic, "x");
    cr_assert_eq(md->topics[0].err, 0, "topic x: %s", rd_kafka_err2str(md->topics[0].err));
    int parts = md->topics[0].partition_cnt;
    rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
    cr_assert_eq(parts, 3, "topic x has %d partitions, expected 3", parts);

    /* SIGTERM: clean shutdown, exit 0 (under ASan this also means no leaks),
     * and the bootstrap file is gone so nobody dials a dead broker. */
    cr_assert_eq(kill(g_child, SIGTERM), 0);
    int status = 0;
    pid_t r = 0;
    int64_t deadline = fg_mono_us() + 20 * 1000000LL;
    while ((r = waitpid(g_child, &status, WNOHANG)) == 0 && fg_mono_us() < deadline)
        usleep(20 * 1000);
    cr_assert_eq(r, g_child, "broker did not exit within 20 s of SIGTERM");
    g_child = -1;
    cr_assert(WIFEXITED(status), "broker died by signal %d", WTERMSIG(status));
    cr_assert_eq(WEXITSTATUS(status), 0, "broker exit code %d", WEXITSTATUS(status));
    cr_assert_neq(access(bsfile, F_OK), 0, "%s still exists after shutdown", bsfile);
}
