/*
 * broker.c - `fundguard broker`: librdkafka's mock cluster as a process of its
 * own, so fundguard, the tests, the demo, the benchmarks and kcat all talk the
 * real Kafka protocol to one shared broker on loopback.
 *
 * What clients of this broker should know (librdkafka 2.0.2 mock, measured):
 *  - Memory only, and only a bounded tail per partition (about 100k messages
 *    or 5 MB, whichever comes first). A consumer that falls further behind
 *    gets "Offset out of range": pace replays by the group's lag or spread
 *    them over more partitions, and never let auto.offset.reset hide it.
 *  - Topics are created here, up front, with the partition counts asked for.
 *    There is no admin API (CreateTopics, DeleteTopics, DescribeGroups, ...).
 *    Any client that asks for metadata of an unknown topic (a producer, but
 *    also a consumer subscribing to it, or `kcat -L -t`) makes the mock
 *    auto-create it with 4 partitions, not --partitions: the mock speaks
 *    Metadata v2 only, so the client's allow.auto.create.topics=false cannot
 *    even be sent. A misspelt topic name therefore "works" against a
 *    4-partition topic nobody writes to; anything that cares about names or
 *    partition counts (fundguard's streams, benchmarks) must be listed here.
 *  - A member that rejoins a group waits for the previous member's session
 *    to expire: use session.timeout.ms=6000 (the default 45 s is painful).
 *  - An empty fetch waits fetch.wait.max.ms (default 500 ms): set it to a few
 *    tens of ms where latency matters (tests, demo).
 *  - Idempotent producers work; transactions are accepted but not honoured.
 *  - The listeners bind 127.0.0.1 on ephemeral ports: the address list is
 *    printed as `bootstrap.servers=<list>` and optionally written to a file.
 *  - Fault injection for outage tests: SIGUSR1 takes every broker down
 *    (connections dropped, new ones refused: rd_kafka_mock_broker_set_down),
 *    SIGUSR2 brings them back up. Unlike a restart of this process, the data,
 *    committed offsets and groups survive the outage.
 */
#include "broker/broker.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "core/common.h"
#include "core/config.h"
#include "core/log.h"
#include "core/settings.h"

#define FG_BROKER_MAX_TOPICS 64
#define FG_BROKER_MAX_PARTITIONS 1024
#define FG_BROKER_MAX_BROKERS 16
#define FG_BROKER_TOPIC_NAME_MAX 249 /* Kafka's own limit */

/* The streams fundguard reads and writes; see docs and config for their roles. */
static const char *const fg_broker_default_topics[] = {
    "claims", "inpatient", "invoicing", "alerts", "fundguard-dead-letter", "fundguard-control",
};

typedef struct fg_broker_topic {
    char name[FG_BROKER_TOPIC_NAME_MAX + 1];
    int partitions; /* 0: use fg_broker_opts.default_partitions */
} fg_broker_topic_t;

typedef struct fg_broker_opts {
    fg_broker_topic_t topics[FG_BROKER_MAX_TOPICS];
    int topic_cnt;
    int default_partitions;
    int brokers;
    const char *bootstrap_file; /* borrowed from argv */
    const char *config_file;    /* borrowed from argv */
    int partitions_given;       /* --partitions beats broker.partitions from --config */
} fg_broker_opts_t;

static volatile sig_atomic_t fg_broker_stop;
/* 1: take the brokers down, 2: bring them up (SIGUSR1 / SIGUSR2); 0: nothing asked */
static volatile sig_atomic_t fg_broker_fault;

static void fg_broker_on_signal(int sig) {
    if (sig == SIGUSR1) fg_broker_fault = 1;
    else if (sig == SIGUSR2) fg_broker_fault = 2;
    else fg_broker_stop = 1;
}

/* Applies a pending SIGUSR1/SIGUSR2 to all brokers (from the main thread, not the handler). */
static void fg_broker_apply_fault(rd_kafka_mock_cluster_t *mcluster) {
    int what = fg_broker_fault;
    if (!what) return;
    fg_broker_fault = 0;
    rd_kafka_resp_err_t err = what == 1 ? rd_kafka_mock_broker_set_down(mcluster, -1)
                                        : rd_kafka_mock_broker_set_up(mcluster, -1);
    if (err)
        FG_ERROR("broker: cannot set the brokers %s: %s", what == 1 ? "down" : "up", rd_kafka_err2str(err));
    else if (what == 1)
        FG_WARN("broker: SIGUSR1: all brokers DOWN (connections dropped and refused; data kept) until SIGUSR2");
    else
        FG_INFO("broker: SIGUSR2: all brokers up again");
}

static void fg_broker_usage(FILE *out) {
    fprintf(out,
            "usage: fundguard broker [options]\n"
            "\n"
            "Starts the embedded Kafka-protocol broker (librdkafka's mock cluster) on\n"
            "loopback for development, tests, the demo and benchmarks. It keeps data in\n"
            "memory only, and only a bounded tail of each partition (~100k messages or\n"
            "~5 MB). Prints `bootstrap.servers=<list>` on stdout once the topics exist,\n"
            "then runs until SIGINT or SIGTERM. For outage tests, SIGUSR1 takes all\n"
            "brokers down (connections dropped and refused, data kept) and SIGUSR2\n"
            "brings them back up.\n"
            "\n"
            "options:\n"
            "  --topic NAME[:PARTITIONS]  create this topic (repeatable; a repeated name\n"
            "                             keeps the last partition count). Without any\n"
            "                             --topic: claims inpatient invoicing alerts\n"
            "                             fundguard-dead-letter fundguard-control\n"
            "  --partitions N             partitions for topics given without a count\n"
            "                             (default 8, 1..%d)\n"
            "  --brokers N                number of mock brokers (default 1, 1..%d)\n"
            "  --config FILE              create the topics that `fundguard run --config FILE`\n"
            "                             uses, with broker.partitions partitions each\n"
            "  --bootstrap-file PATH      also write the bootstrap servers to PATH\n"
            "                             (atomically: temp file + rename; removed on exit)\n"
            "  --help                     this text\n"
            "\n"
            "Topics that producers auto-create get 4 partitions; there is no admin API.\n",
            FG_BROKER_MAX_PARTITIONS, FG_BROKER_MAX_BROKERS);
}

/* Strict decimal parse: the whole string, within [lo, hi]. */
static int fg_broker_parse_int(const char *s, int lo, int hi, int *out) {
    if (!s || !*s) return FG_ERR;
    errno = 0;
    char *end = NULL;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < lo || v > hi) return FG_ERR;
    *out = (int)v;
    return FG_OK;
}

static int fg_broker_topic_name_ok(const char *name, size_t len) {
    if (len == 0 || len > FG_BROKER_TOPIC_NAME_MAX) return 0;
    if ((len == 1 && name[0] == '.') || (len == 2 && !strncmp(name, "..", 2))) return 0;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

/*
 * Adds or updates one topic. Every source of topics (--topic, the built-in
 * defaults, later --config) goes through here, so a later source overrides an
 * earlier one by name instead of creating the topic twice.
 */
static int fg_broker_opts_add_topic(fg_broker_opts_t *o, const char *spec, char *errstr,
                                    size_t errstr_size) {
    const char *colon = strchr(spec, ':');
    size_t len = colon ? (size_t)(colon - spec) : strlen(spec);
    int partitions = 0;
    if (!fg_broker_topic_name_ok(spec, len))
        return fg_err(errstr, errstr_size, FG_ERR,
                      "invalid topic name in '%s' (1-%d chars of [a-zA-Z0-9._-])", spec,
                      FG_BROKER_TOPIC_NAME_MAX);
    if (colon &&
        fg_broker_parse_int(colon + 1, 1, FG_BROKER_MAX_PARTITIONS, &partitions) != FG_OK)
        return fg_err(errstr, errstr_size, FG_ERR,
                      "invalid partition count in '%s' (expected 1..%d)", spec,
                      FG_BROKER_MAX_PARTITIONS);

    for (int i = 0; i < o->topic_cnt; i++) {
        if (strlen(o->topics[i].name) == len && !strncmp(o->topics[i].name, spec, len)) {
            o->topics[i].partitions = partitions;
            return FG_OK;
        }
    }
    if (o->topic_cnt == FG_BROKER_MAX_TOPICS)
        return fg_err(errstr, errstr_size, FG_ERR, "too many topics (max %d)",
                      FG_BROKER_MAX_TOPICS);
    fg_broker_topic_t *t = &o->topics[o->topic_cnt++];
    memcpy(t->name, spec, len);
    t->name[len] = '\0';
    t->partitions = partitions;
    return FG_OK;
}

/*
 * --config: the topics `fundguard run` would use with the same file, at
 * broker.partitions each. Topics also given with --topic keep that count.
 */
static int fg_broker_opts_from_config(fg_broker_opts_t *o, char *errstr, size_t errstr_size) {
    fg_config_t *cf = fg_settings_load(o->config_file, NULL, 0, errstr, errstr_size);
    if (!cf) return FG_ERR;
    if (!o->partitions_given) o->default_partitions = (int)fg_config_int(cf, "broker.partitions");
    static const char *const keys[] = {"topics.claims", "topics.inpatient", "topics.invoicing", "topics.alerts",
                                       "topics.dead_letter"};
    int rc = FG_OK;
    for (size_t k = 0; k < FG_ARRAY_SIZE(keys) && rc == FG_OK; k++) {
        const char *name = fg_config_str(cf, keys[k]);
        int known = 0;
        for (int i = 0; i < o->topic_cnt; i++) known |= !strcmp(o->topics[i].name, name);
        if (!known) rc = fg_broker_opts_add_topic(o, name, errstr, errstr_size);
    }
    fg_config_destroy(cf);
    return rc;
}

/*
 * All option parsing lives here. @returns FG_OK, FG_ERR (errstr set), or
 * FG_DECLINED when --help was printed and the caller should exit 0.
 */
static int fg_broker_opts_parse(fg_broker_opts_t *o, int argc, char **argv, char *errstr,
                                size_t errstr_size) {
    memset(o, 0, sizeof(*o));
    o->default_partitions = 8;
    o->brokers = 1;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fg_broker_usage(stdout);
            return FG_DECLINED;
        }
        /* Accept both "--opt value" and "--opt=value". */
        static const char *const with_value[] = {"--topic", "--partitions", "--brokers",
                                                 "--bootstrap-file", "--config"};
        const char *opt = NULL;
        for (size_t k = 0; k < FG_ARRAY_SIZE(with_value) && !opt; k++) {
            size_t n = strlen(with_value[k]);
            if (!strcmp(a, with_value[k])) {
                if (i + 1 >= argc)
                    return fg_err(errstr, errstr_size, FG_ERR, "%s needs a value", a);
                opt = with_value[k];
                val = argv[++i];
            } else if (!strncmp(a, with_value[k], n) && a[n] == '=') {
                opt = with_value[k];
                val = a + n + 1;
            }
        }
        if (!opt) return fg_err(errstr, errstr_size, FG_ERR, "unknown option '%s'", a);

        if (!strcmp(opt, "--topic")) {
            if (fg_broker_opts_add_topic(o, val, errstr, errstr_size) != FG_OK) return FG_ERR;
        } else if (!strcmp(opt, "--config")) {
            o->config_file = val;
        } else if (!strcmp(opt, "--partitions")) {
            o->partitions_given = 1;
            if (fg_broker_parse_int(val, 1, FG_BROKER_MAX_PARTITIONS, &o->default_partitions) !=
                FG_OK)
                return fg_err(errstr, errstr_size, FG_ERR,
                              "--partitions: '%s' is not a number in 1..%d", val,
                              FG_BROKER_MAX_PARTITIONS);
        } else if (!strcmp(opt, "--brokers")) {
            if (fg_broker_parse_int(val, 1, FG_BROKER_MAX_BROKERS, &o->brokers) != FG_OK)
                return fg_err(errstr, errstr_size, FG_ERR,
                              "--brokers: '%s' is not a number in 1..%d", val,
                              FG_BROKER_MAX_BROKERS);
        } else { /* --bootstrap-file */
            if (!*val) return fg_err(errstr, errstr_size, FG_ERR, "--bootstrap-file is empty");
            o->bootstrap_file = val;
        }
    }

    if (o->config_file && fg_broker_opts_from_config(o, errstr, errstr_size) != FG_OK) return FG_ERR;
    if (o->topic_cnt == 0) {
        for (size_t k = 0; k < FG_ARRAY_SIZE(fg_broker_default_topics); k++)
            if (fg_broker_opts_add_topic(o, fg_broker_default_topics[k], errstr, errstr_size) !=
                FG_OK)
                return FG_ERR;
    }
    return FG_OK;
}

/* Temp file + rename in the same directory, so a script polling for PATH
 * never sees a partial line. */
static int fg_broker_write_bootstrap(const char *path, const char *servers, char *errstr,
                                     size_t errstr_size) {
    char tmp[PATH_MAX];
    int n = snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
    if (n < 0 || (size_t)n >= sizeof(tmp))
        return fg_err(errstr, errstr_size, FG_ERR, "bootstrap file path too long: %s", path);
    FILE *f = fopen(tmp, "w");
    if (!f) return fg_err(errstr, errstr_size, FG_ERR, "%s: %s", tmp, strerror(errno));
    int bad = fprintf(f, "%s\n", servers) < 0;
    bad |= fflush(f) != 0;
    bad |= fsync(fileno(f)) != 0;
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return fg_err(errstr, errstr_size, FG_ERR, "cannot write %s: %s", path, strerror(e));
    }
    return FG_OK;
}

/* librdkafka's own log lines (from its threads) into ours; fg_log is thread-safe. */
static void fg_broker_rdkafka_log(const rd_kafka_t *rk, int level, const char *fac,
                                  const char *buf) {
    (void)rk;
    if (level <= 3) FG_ERROR("rdkafka %s: %s", fac, buf);
    else if (level == 4) FG_WARN("rdkafka %s: %s", fac, buf);
    else FG_DEBUG("rdkafka %s: %s", fac, buf);
}

int fg_broker_main(int argc, char **argv) {
    char errstr[512];
    fg_broker_opts_t opts;
    int rc = fg_broker_opts_parse(&opts, argc, argv, errstr, sizeof(errstr));
    if (rc == FG_DECLINED) return 0;
    if (rc != FG_OK) {
        fprintf(stderr, "fundguard broker: %s (see `fundguard broker --help`)\n", errstr);
        return 2;
    }

    /*
     * Block SIGINT/SIGTERM while librdkafka starts its threads so they inherit
     * the mask and the signals are delivered to this (main) thread only, which
     * then polls the flag.
     */
    sigset_t stopsigs, oldmask;
    sigemptyset(&stopsigs);
    sigaddset(&stopsigs, SIGINT);
    sigaddset(&stopsigs, SIGTERM);
    sigaddset(&stopsigs, SIGUSR1);
    sigaddset(&stopsigs, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, &stopsigs, &oldmask);

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = fg_broker_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
    sigaction(SIGUSR2, &sa, NULL);
    /* Whoever reads our stdout may go away after the bootstrap line; that
     * must not kill the broker. */
    signal(SIGPIPE, SIG_IGN);

    int exit_code = 1;
    rd_kafka_t *rk = NULL;
    rd_kafka_mock_cluster_t *mcluster = NULL;
    int wrote_file = 0;

    /* The mock cluster needs an rd_kafka_t for its bookkeeping, alive until
     * the cluster is destroyed; it never connects anywhere itself. */
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set_log_cb(conf, fg_broker_rdkafka_log);
    if (rd_kafka_conf_set(conf, "client.id", "fundguard-broker", errstr, sizeof(errstr)) !=
        RD_KAFKA_CONF_OK) {
        rd_kafka_conf_destroy(conf);
        FG_ERROR("broker: %s", errstr);
        goto out;
    }
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (!rk) { /* conf is still ours on failure */
        rd_kafka_conf_destroy(conf);
        FG_ERROR("broker: cannot create the librdkafka handle: %s", errstr);
        goto out;
    }

    mcluster = rd_kafka_mock_cluster_new(rk, opts.brokers);
    if (!mcluster) {
        FG_ERROR("broker: cannot start the mock cluster with %d broker(s) "
                 "(librdkafka logs above say why)",
                 opts.brokers);
        goto out;
    }

    int replication = opts.brokers < 3 ? opts.brokers : 3;
    for (int i = 0; i < opts.topic_cnt; i++) {
        fg_broker_topic_t *t = &opts.topics[i];
        int parts = t->partitions ? t->partitions : opts.default_partitions;
        rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(mcluster, t->name, parts, replication);
        if (err) {
            FG_ERROR("broker: cannot create topic %s (%d partitions): %s", t->name, parts,
                     rd_kafka_err2str(err));
            goto out;
        }
        FG_INFO("broker: topic %s: %d partition(s), replication %d", t->name, parts,
                replication);
    }

    const char *servers = rd_kafka_mock_cluster_bootstraps(mcluster);
    if (opts.bootstrap_file) {
        if (fg_broker_write_bootstrap(opts.bootstrap_file, servers, errstr, sizeof(errstr)) !=
            FG_OK) {
            FG_ERROR("broker: %s", errstr);
            goto out;
        }
        wrote_file = 1;
    }
    printf("bootstrap.servers=%s\n", servers);
    fflush(stdout);
    FG_INFO("broker: %d broker(s), %d topic(s), bootstrap.servers=%s; "
            "auto-created topics get 4 partitions; SIGINT/SIGTERM to stop, SIGUSR1/SIGUSR2 to take "
            "the brokers down/up",
            opts.brokers, opts.topic_cnt, servers);

    /* Only this thread takes the stop signals (see above). */
    pthread_sigmask(SIG_UNBLOCK, &stopsigs, NULL);
    while (!fg_broker_stop) {
        fg_broker_apply_fault(mcluster);
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL); /* EINTR on a signal: the loop re-checks the flag */
    }
    FG_INFO("broker: stopping");
    exit_code = 0;

out:
    if (wrote_file) unlink(opts.bootstrap_file); /* a stale file would point at nothing */
    /* The cluster must go before the handle it was created with. */
    if (mcluster) rd_kafka_mock_cluster_destroy(mcluster);
    if (rk) rd_kafka_destroy(rk);
    pthread_sigmask(SIG_SETMASK, &oldmask, NULL);
    return exit_code;
}
