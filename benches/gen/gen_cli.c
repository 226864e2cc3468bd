/*
 * gen_cli.c - `fundguard gen`: writes a synthetic province to a directory
 * (claims / inpatient / invoicing as recorded-stream files, truth.jsonl,
 * manifest.json), and `fundguard gen score`: alerts vs that truth.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/common.h"
#include "gen.h"
#include "schemas/recfile.h"
#include "score.h"

static void usage(FILE *out) {
    fprintf(out, "usage: fundguard gen --out DIR [--seed N] [--days N] [--events N] [--start YYYY-MM-DD]\n"
                 "                     [--format avro|jsonl] [--rate PATTERN=R ...] [--rates-scale X]\n"
                 "                     [--blacklists FILE] [--quiet]\n"
                 "       fundguard gen score --truth DIR/truth.jsonl --alerts ALERTS.jsonl [--json OUT] [--misses N]\n"
                 "\n"
                 "Writes a synthetic province: DIR/claims, DIR/inpatient, DIR/invoicing (.avro or .jsonl, the\n"
                 "recorded-stream files `fundguard replay` reads), DIR/truth.jsonl (one line per injected case and\n"
                 "rule it must trigger) and DIR/manifest.json (parameters and counts). Deterministic for a seed.\n"
                 "\n"
                 "  --out DIR          output directory (created if missing)\n"
                 "  --seed N           random seed (default 1)\n"
                 "  --days N           days of event time, 28..3650 (default 30)\n"
                 "  --events N         approximate total events of the three streams (default 100000)\n"
                 "  --start DATE       first day, Beijing calendar, 2000..2058 (default 2026-01-01)\n"
                 "  --format F         avro (default) or jsonl\n"
                 "  --rate P=R         injected cases per 10,000 events for P: all, a rule, or rule.pattern\n"
                 "                     (default 1 for every pattern; 0 switches a pattern off); repeatable\n"
                 "  --rates-scale X    multiply every rate by X (applied after the --rate options)\n"
                 "  --blacklists FILE  blacklists JSON whose ids the blacklist cases use (default: the sample's)\n"
                 "  --quiet            no summary line\n"
                 "\n"
                 "patterns (rule.pattern):\n");
    for (int p = 0; p < FG_GP_COUNT; p++)
        fprintf(out, "  %s.%s\n", fg_gen_pattern_rule((fg_gen_pattern_t)p), fg_gen_pattern_name((fg_gen_pattern_t)p));
    fprintf(out, "\n`gen score` scores alert JSON lines (the payloads of the alert topic, e.g. from\n"
                 "`fundguard alerts --json`; the last version of each alert id counts) against truth.jsonl:\n"
                 "per rule cases, found, alerts, right, precision and recall.\n");
}

typedef struct {
    fg_rec_writer_t *w[FG_STREAM_COUNT];
    FILE *truth;
    char err[512];
} cli_sink_t;

static int on_event(void *ctx, const char *key, size_t key_len, int64_t ts, const fg_event_t *ev) {
    cli_sink_t *s = ctx;
    return fg_rec_writer_put(s->w[ev->stream], key, key_len, ts, ev, s->err, sizeof(s->err)) != FG_OK;
}

static int on_truth(void *ctx, const char *line) {
    cli_sink_t *s = ctx;
    if (fputs(line, s->truth) < 0 || fputc('\n', s->truth) < 0) {
        snprintf(s->err, sizeof(s->err), "truth.jsonl: %s", strerror(errno));
        return 1;
    }
    return 0;
}

static int parse_u64(const char *s, uint64_t *out) {
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (!*s || *s == '-' || *end || errno)
        return -1;
    *out = v;
    return 0;
}

static int write_manifest(const char *path, const fg_gen_params_t *p, const char *format, const fg_gen_stats_t *st,
                          double secs) {
    json_t *rates = json_object(), *cases = json_object();
    for (int i = 0; i < FG_GP_COUNT; i++) {
        char k[96];
        snprintf(k, sizeof(k), "%s.%s", fg_gen_pattern_rule((fg_gen_pattern_t)i),
                 fg_gen_pattern_name((fg_gen_pattern_t)i));
        json_object_set_new(rates, k, json_real(p->rates[i]));
        json_object_set_new(cases, k, json_integer((json_int_t)st->cases[i]));
    }
    static const char *const visits[4] = {"OUTPATIENT", "INPATIENT", "PHARMACY", "EMERGENCY"};
    static const char *const ips[6] = {"ADMIT", "DISCHARGE", "TRANSFER", "LEAVE", "RETURN", "PRESENCE_CHECK"};
    static const char *const invs[4] = {"PURCHASE", "SALE", "RETURN", "STOCKTAKE"};
    json_t *cv = json_object(), *ci = json_object(), *cn = json_object();
    for (int i = 0; i < 4; i++)
        json_object_set_new(cv, visits[i], json_integer((json_int_t)st->claims_by_visit[i]));
    for (int i = 0; i < 6; i++)
        json_object_set_new(ci, ips[i], json_integer((json_int_t)st->inpatient_by_type[i]));
    for (int i = 0; i < 4; i++)
        json_object_set_new(cn, invs[i], json_integer((json_int_t)st->invoicing_by_type[i]));
    int y, m, d;
    {
        /* civil date of start_day */
        int64_t z = p->start_day + 719468;
        int64_t era = (z >= 0 ? z : z - 146096) / 146097;
        unsigned doe = (unsigned)(z - era * 146097);
        unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
        unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        unsigned mp = (5 * doy + 2) / 153;
        d = (int)(doy - (153 * mp + 2) / 5 + 1);
        m = (int)(mp < 10 ? mp + 3 : mp - 9);
        y = (int)(yoe + era * 400 + (m <= 2));
    }
    char start[48];
    snprintf(start, sizeof(start), "%04d-%02d-%02d", y, m, d);
    uint64_t total = st->events[0] + st->events[1] + st->events[2];
    json_t *o = json_pack(
        "{s:s, s:I, s:{s:I, s:s, s:I, s:s, s:o, s:s?}, s:{s:I, s:I, s:I, s:I, s:o, s:o, s:o},"
        " s:{s:i, s:i, s:i}, s:i, s:i, s:I, s:I, s:o, s:I, s:f, s:f}",
        "generator", FG_GEN_VERSION, "seed", (json_int_t)p->seed, "params", "days", (json_int_t)p->days, "start", start,
        "target_events", (json_int_t)p->target_events, "format", format, "rates_per_10k_events", rates, "blacklists",
        p->blacklists, "events", "total", (json_int_t)total, "claims", (json_int_t)st->events[FG_STREAM_CLAIMS],
        "inpatient", (json_int_t)st->events[FG_STREAM_INPATIENT], "invoicing",
        (json_int_t)st->events[FG_STREAM_INVOICING], "claims_by_visit", cv, "inpatient_by_type", ci,
        "invoicing_by_type", cn, "institutions", "hospitals", (int)st->institutions[0], "primary_care",
        (int)st->institutions[1], "pharmacies", (int)st->institutions[2], "regions", (int)st->regions, "doctors",
        (int)st->doctors, "persons", (json_int_t)st->persons, "case_persons", (json_int_t)st->case_persons,
        "injected_cases", cases, "truth_lines", (json_int_t)st->truth_lines, "seconds", secs, "events_per_second",
        secs > 0 ? (double)total / secs : 0.0);
    if (!o)
        return -1;
    int rc = json_dump_file(o, path, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(o);
    return rc;
}

static int cli_score(int argc, char **argv) {
    const char *truth = NULL, *alerts = NULL, *json_out = NULL;
    uint64_t misses = 20;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--truth") && v) {
            truth = v, i++;
        } else if (!strcmp(a, "--alerts") && v) {
            alerts = v, i++;
        } else if (!strcmp(a, "--json") && v) {
            json_out = v, i++;
        } else if (!strcmp(a, "--misses") && v && !parse_u64(v, &misses)) {
            i++;
        } else {
            fprintf(stderr, "fundguard gen score: unknown or incomplete option '%s' (see --help)\n", a);
            return 2;
        }
    }
    if (!truth || !alerts) {
        fprintf(stderr, "fundguard gen score: --truth FILE and --alerts FILE are required\n");
        return 2;
    }
    char err[512];
    fg_gen_score_t *s = fg_gen_score_create();
    if (!s || fg_gen_score_add_file(s, truth, 1, err, sizeof(err)) ||
        fg_gen_score_add_file(s, alerts, 0, err, sizeof(err))) {
        fprintf(stderr, "fundguard gen score: %s\n", s ? err : "out of memory");
        fg_gen_score_destroy(s);
        return 1;
    }
    fg_gen_score_print(s, stdout, (size_t)misses);
    int rc = 0;
    if (json_out) {
        char *j = fg_gen_score_json(s);
        FILE *f = j ? fopen(json_out, "w") : NULL;
        if (!f || fputs(j, f) < 0 || fputc('\n', f) < 0) {
            fprintf(stderr, "fundguard gen score: cannot write %s: %s\n", json_out, strerror(errno));
            rc = 1;
        }
        if (f && fclose(f))
            rc = 1;
        free(j);
    }
    fg_gen_score_destroy(s);
    return rc;
}

int fg_cli_gen(int argc, char **argv) {
    if (argc >= 2 && !strcmp(argv[1], "score"))
        return cli_score(argc - 1, argv + 1);
    fg_gen_params_t p;
    fg_gen_params_default(&p);
    const char *out = NULL, *format = "avro";
    double scale = 1.0;
    int quiet = 0;
    char err[512];
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        uint64_t u;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(a, "--quiet")) {
            quiet = 1;
            continue;
        }
        if (!v) {
            fprintf(stderr, "fundguard gen: %s needs a value (see --help)\n", a);
            return 2;
        }
        i++;
        if (!strcmp(a, "--out")) {
            out = v;
        } else if (!strcmp(a, "--seed")) {
            if (parse_u64(v, &p.seed))
                goto bad;
        } else if (!strcmp(a, "--days")) {
            if (parse_u64(v, &u) || u < 28 || u > 3650)
                goto bad;
            p.days = (int)u;
        } else if (!strcmp(a, "--events")) {
            if (parse_u64(v, &p.target_events) || p.target_events < 1000 || p.target_events > 2000000000ULL)
                goto bad;
        } else if (!strcmp(a, "--start")) {
            if (fg_gen_parse_date(v, &p.start_day))
                goto bad;
        } else if (!strcmp(a, "--format")) {
            if (strcmp(v, "avro") && strcmp(v, "jsonl"))
                goto bad;
            format = v;
        } else if (!strcmp(a, "--rate")) {
            if (fg_gen_params_set_rate(&p, v, err, sizeof(err))) {
                fprintf(stderr, "fundguard gen: %s\n", err);
                return 2;
            }
        } else if (!strcmp(a, "--rates-scale")) {
            char *end = NULL;
            scale = strtod(v, &end);
            if (end == v || *end || !(scale >= 0) || scale > 10000)
                goto bad;
        } else if (!strcmp(a, "--blacklists")) {
            p.blacklists = v;
        } else {
            fprintf(stderr, "fundguard gen: unknown option '%s' (see --help)\n", a);
            return 2;
        }
        continue;
    bad:
        fprintf(stderr,
                "fundguard gen: bad value '%s' for %s (seed: unsigned integer; days: 28..3650; events: "
                "1000..2000000000; start: YYYY-MM-DD; format: avro or jsonl; rates-scale: 0..10000)\n",
                v, a);
        return 2;
    }
    if (!out) {
        fprintf(stderr, "fundguard gen: --out DIR is required (see --help)\n");
        return 2;
    }
    for (int i = 0; i < FG_GP_COUNT; i++)
        p.rates[i] *= scale;
    if (((int64_t)p.start_day + p.days) * FG_MS_PER_DAY > fg_now_ms() + FG_MS_PER_DAY)
        fprintf(stderr,
                "fundguard gen: warning: the data reaches into the future; `fundguard run` rejects events more than "
                "validation.max_future_ms ahead of the wall clock\n");
    if (mkdir(out, 0777) && errno != EEXIST) {
        fprintf(stderr, "fundguard gen: cannot create %s: %s\n", out, strerror(errno));
        return 1;
    }
    cli_sink_t cs;
    memset(&cs, 0, sizeof(cs));
    char path[4096];
    int rc = 0;
    for (int s = 0; s < FG_STREAM_COUNT && !rc; s++) {
        snprintf(path, sizeof(path), "%s/%s.%s", out, fg_stream_name((fg_stream_t)s), format);
        cs.w[s] = fg_rec_writer_open(path, (fg_stream_t)s, err, sizeof(err));
        if (!cs.w[s]) {
            fprintf(stderr, "fundguard gen: %s\n", err);
            rc = 1;
        }
    }
    snprintf(path, sizeof(path), "%s/truth.jsonl", out);
    if (!rc && !(cs.truth = fopen(path, "w"))) {
        fprintf(stderr, "fundguard gen: cannot create %s: %s\n", path, strerror(errno));
        rc = 1;
    }
    fg_gen_stats_t st;
    memset(&st, 0, sizeof(st));
    double t0 = (double)fg_mono_us();
    if (!rc) {
        fg_gen_sink_t sink = {.ctx = &cs, .event = on_event, .truth = on_truth, .stats = &st};
        if (fg_gen_run(&p, &sink, err, sizeof(err))) {
            fprintf(stderr, "fundguard gen: %s%s%s\n", err, cs.err[0] ? ": " : "", cs.err);
            rc = 1;
        }
    }
    for (int s = 0; s < FG_STREAM_COUNT; s++)
        if (cs.w[s] && fg_rec_writer_close(cs.w[s], err, sizeof(err)) != FG_OK) {
            fprintf(stderr, "fundguard gen: %s\n", err);
            rc = 1;
        }
    if (cs.truth && fclose(cs.truth)) {
        fprintf(stderr, "fundguard gen: writing truth.jsonl: %s\n", strerror(errno));
        rc = 1;
    }
    if (rc)
        return rc;
    double secs = ((double)fg_mono_us() - t0) / 1e6;
    snprintf(path, sizeof(path), "%s/manifest.json", out);
    if (write_manifest(path, &p, format, &st, secs)) {
        fprintf(stderr, "fundguard gen: cannot write %s\n", path);
        return 1;
    }
    uint64_t total = st.events[0] + st.events[1] + st.events[2];
    uint64_t ncases = 0;
    for (int i = 0; i < FG_GP_COUNT; i++)
        ncases += st.cases[i];
    if (!quiet)
        printf("fundguard gen: %llu events (claims %llu, inpatient %llu, invoicing %llu), %llu injected cases "
               "(%llu truth lines), %u+%u+%u institutions, %llu persons, %d days, seed %llu -> %s in %.1f s "
               "(%.0f events/s)\n",
               (unsigned long long)total, (unsigned long long)st.events[0], (unsigned long long)st.events[1],
               (unsigned long long)st.events[2], (unsigned long long)ncases, (unsigned long long)st.truth_lines,
               st.institutions[0], st.institutions[1], st.institutions[2], (unsigned long long)st.persons, p.days,
               (unsigned long long)p.seed, out, secs, secs > 0 ? (double)total / secs : 0.0);
    return 0;
}
