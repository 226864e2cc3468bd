/*
 * institution_indicators.c - 次均费用 / 平均住院日 / 住院人次: an institution's daily
 * indicators jumping above its own trailing baseline.
 *
 * Reads claims and inpatient. Per institution and event-time day (China
 * Standard Time) three indicators, each compared with the EWMA mean + sigma x
 * EWMA std of its own previous baseline_days days (state/baseline.h), firing
 * only with >= min_baseline_days days of history and a minimum volume that day:
 *  - cost_per_visit: sum of the day's claims' total / number of distinct claims
 *    (volume: visits). Amount at risk: (avg - baseline mean) x visits x the
 *    day's fund-paid ratio.
 *  - length_of_stay: mean (discharge - admit) of the stays discharged that day
 *    (volume: discharges whose admission is known). A DISCHARGE whose ADMIT
 *    arrives later counts when the ADMIT arrives.
 *  - admissions: distinct stays admitted that day (volume: the same count).
 * Alert id: rule + indicator + institution + "YYYY-MM-DD"; later events of the
 * day update the same alert, and so do events of its baseline days arriving after
 * it (they re-judge it: judge_from).
 *
 * State:
 *  - institution hash "ii" {i:<institution>}: daily buckets "<series>:<day>"
 *    cs/cn/cf (claims' total fen / count / fund-paid fen), ls/ln (LOS seconds /
 *    discharges with LOS), ad (admissions), lt (late events, judged against the
 *    event's own source partition: fg_dctx_watermark), and evidence
 *    ec/el/ea (the day's top claims by total, stays by LOS, latest admissions).
 *    HINCRBY only: many patient partitions (consumer processes) feed one
 *    institution and increments add up. Pruned by the institution's event-time
 *    watermark once per day: counters after baseline_days + partition_skew_days +
 *    lateness + 1 day, evidence after partition_skew_days + lateness + 1 day
 *    (fg_baseline_horizon).
 *  - patient hash "ii" {p:<pseudonym>}: "c\x1f<claim id>" -> day (claims
 *    already counted) and "s\x1f<institution>\x1f<admission>" -> admit/discharge
 *    time and event ids of the patient's stays. Why per patient, not per
 *    institution: a patient's events share a partition (one writer, no race),
 *    and the key stays tiny, while a per-institution set of counted claims or
 *    open stays would be fetched whole (HGETALL) by every batch touching a large
 *    hospital: thousands of fields. Idempotence trade-off: exact while the
 *    patient's entry lives (lateness + 1 day of the patient's event time past the
 *    claim or discharge); a re-delivery later than that counts a claim or an
 *    admission twice. Re-delivery happens on restart, minutes after processing,
 *    so this is exact in practice while the institution keys hold counters only.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detector.h"
#include "state/baseline.h"

#define II_SEP '\x1f'
#define II_PAT_MAX 256 /* hostile input bound: entries kept per patient (oldest dropped) */
#define II_EVIDENCE 8

typedef struct {
    int64_t baseline_days, min_baseline_days, min_visits, min_discharges, min_admissions;
    int64_t max_stay_ms, skew_days;
    double sigma, alpha, min_std_pct;
} ii_cfg_t;

/* One indicator: value = num / den per day (den NULL: value = num, a count). */
typedef struct {
    const char *pattern;
    const char *num, *den, *evid;
    double scale;         /* value unit: fen -> yuan, seconds -> days */
    int count;            /* a count: Poisson floor on the std */
    const char *unit, *volume_name;
} ii_ind_t;

static const ii_ind_t IND_COST = {"cost_per_visit", "cs", "cn", "ec", 100.0, 0, "yuan", "visits"};
static const ii_ind_t IND_LOS = {"length_of_stay", "ls", "ln", "el", 86400.0, 0, "days", "discharges"};
static const ii_ind_t IND_ADM = {"admissions", "ad", NULL, "ea", 1.0, 1, "admissions", "admitted_patients"};

static const fg_conf_decl_t g_conf[] = {
    {"baseline_days", FG_CONF_INT, "28", 3, 365, 0,
     "Each indicator of a day is compared with the institution's own previous this-many days (the day itself "
     "excluded)."},
    {"min_baseline_days", FG_CONF_INT, "7", 2, 365, 0,
     "No alert until the baseline holds at least this many days with data (a new institution first builds "
     "its history)."},
    {"sigma", FG_CONF_DOUBLE, "3", 0.5, 50, 0,
     "An indicator fires when the day's value exceeds baseline mean + sigma x baseline standard deviation."},
    {"ewma_alpha", FG_CONF_DOUBLE, "0.2", 0, 1, 0,
     "Weight of the most recent day in the exponentially weighted baseline mean and deviation; 0 uses the "
     "plain mean and standard deviation of the baseline days."},
    {"min_std_pct", FG_CONF_DOUBLE, "5", 0, 100, 0,
     "Floor on the baseline deviation, in percent of the baseline mean, so a perfectly flat history does not "
     "turn every small rise into an alert."},
    {"min_visits", FG_CONF_INT, "20", 1, 1000000, 0,
     "cost_per_visit needs at least this many claims at the institution that day."},
    {"min_discharges", FG_CONF_INT, "5", 1, 1000000, 0,
     "length_of_stay needs at least this many discharges (with a known admission) that day."},
    {"min_admissions", FG_CONF_INT, "5", 1, 1000000, 0, "admissions needs at least this many admissions that day."},
    {"max_stay_days", FG_CONF_INT, "180", 1, 3650, 0,
     "An admission is remembered this long while waiting for its discharge; longer stays are not measured."},
    {"partition_skew_days", FG_CONF_INT, "30", 0, 365, 0,
     "How far (event time) one patient partition may be behind another feeding the same institution, e.g. "
     "while a consumer works off a backlog, with every day still judged on all its events: days are kept "
     "and re-judged until the institution's newest event is this many days plus events.allowed_lateness_days "
     "past them. An event further behind still counts, but its day is not judged again (late-events metric). "
     "Costs Redis memory per institution: one day's counters and evidence per day of allowance."},
};

extern const fg_detector_t fg_det_institution_indicators;
#define SELF (&fg_det_institution_indicators)

static int ii_init(const fg_config_t *cf, const char *prefix, void **priv, char *errstr, size_t errstr_size) {
    char k[160];
    ii_cfg_t *c = calloc(1, sizeof(*c));
    if (!c) return fg_err(errstr, errstr_size, FG_ERR, "institution_indicators: out of memory");
#define II_INT(f, name)                                                                                            \
    snprintf(k, sizeof(k), "%s" name, prefix);                                                                     \
    c->f = fg_config_int(cf, k)
#define II_DBL(f, name)                                                                                            \
    snprintf(k, sizeof(k), "%s" name, prefix);                                                                     \
    c->f = fg_config_double(cf, k)
    II_INT(baseline_days, "baseline_days");
    II_INT(min_baseline_days, "min_baseline_days");
    II_INT(min_visits, "min_visits");
    II_INT(min_discharges, "min_discharges");
    II_INT(min_admissions, "min_admissions");
    II_INT(max_stay_ms, "max_stay_days");
    II_INT(skew_days, "partition_skew_days");
    II_DBL(sigma, "sigma");
    II_DBL(alpha, "ewma_alpha");
    II_DBL(min_std_pct, "min_std_pct");
#undef II_INT
#undef II_DBL
    c->max_stay_ms *= FG_MS_PER_DAY;
    if (c->min_baseline_days > c->baseline_days) {
        int64_t mb = c->min_baseline_days, b = c->baseline_days;
        free(c);
        return fg_err(errstr, errstr_size, FG_ERR,
                      "institution_indicators: min_baseline_days (%lld) exceeds baseline_days (%lld)", (long long)mb,
                      (long long)b);
    }
    *priv = c;
    return FG_OK;
}

static void ii_destroy(void *priv) { free(priv); }

static int relevant(const fg_event_t *ev) {
    if (!ev->institution_id || !ev->event_id) return 0;
    if (ev->stream == FG_STREAM_CLAIMS) return 1;
    return ev->stream == FG_STREAM_INPATIENT && ev->u.inpatient.admission_id &&
           (ev->u.inpatient.type == FG_IP_ADMIT || ev->u.inpatient.type == FG_IP_DISCHARGE);
}

static void ii_want(void *priv, const fg_event_t *ev, fg_dctx_t *dc) {
    char key[256];
    if (!relevant(ev)) return;
    if (fg_dctx_patient_key(dc, key, sizeof(key), "ii") > 0) fg_state_want(dc->st, key);
    if (fg_dctx_inst_key(dc, key, sizeof(key), "ii", ev->institution_id) > 0) fg_state_want(dc->st, key);
}

/* the institution's horizons (state/baseline.h), from its key-wide watermark */
static void horizon_of(const fg_dctx_t *dc, const ii_cfg_t *c, int64_t max_ms, fg_horizon_t *h) {
    fg_baseline_horizon(fg_day_of(max_ms, FG_CST_OFFSET_MS), c->baseline_days, dc->allowed_lateness_ms, c->skew_days,
                        h);
}

/* ---------- the indicator test ---------- */

/*
 * A run of consecutive days of one indicator, read once per judgement: a changed day
 * re-judges up to baseline_days later days, each over its own baseline, and they
 * overlap, so reading the buckets once (not baseline_days times) keeps a lagging
 * partition's events as cheap as in-order ones.
 */
#define II_RUN_MAX (2 * FG_BASELINE_MAX_DAYS + 1)
typedef struct {
    int64_t from;            /* day of index 0 */
    double x[II_RUN_MAX];    /* the day's value (indicator units) */
    int64_t vol[II_RUN_MAX]; /* its volume */
    unsigned char has[II_RUN_MAX];
} ii_run_t;

/* days [from, from + n): a ratio has data when its denominator is > 0, a count when its bucket exists */
static void load_run(fg_state_t *st, const char *ikey, const ii_ind_t *ind, int64_t from, size_t n, ii_run_t *r) {
    r->from = from;
    for (size_t i = 0; i < n && i < II_RUN_MAX; i++) {
        int64_t num, den, day = from + (int64_t)i;
        int hn = fg_baseline_get(st, ikey, ind->num, day, &num);
        if (!ind->den) {
            r->has[i] = (unsigned char)hn;
            r->x[i] = (double)num;
            r->vol[i] = num;
            continue;
        }
        int hd = fg_baseline_get(st, ikey, ind->den, day, &den);
        r->has[i] = hd && den > 0;
        r->x[i] = r->has[i] ? (double)num / (double)den / ind->scale : 0.0;
        r->vol[i] = den;
    }
}

/* judges day (r holds [day - baseline_days, day]) */
static void evaluate(fg_dctx_t *dc, const ii_cfg_t *c, const fg_event_t *ev, const char *ikey, const ii_ind_t *ind,
                     int64_t day, int64_t min_volume, const ii_run_t *r) {
    size_t at = (size_t)(day - r->from), nb = (size_t)c->baseline_days;
    double value = r->x[at];
    int64_t volume = r->vol[at];
    if (!r->has[at] || volume <= 0 || volume < min_volume) return;
    fg_baseline_t bl;
    fg_baseline_stats(r->x + at - nb, r->has + at - nb, nb, c->alpha, &bl);
    if ((int64_t)bl.days < c->min_baseline_days) return;
    double mean, std;
    double threshold = fg_baseline_bar(&bl, c->alpha, c->sigma, c->min_std_pct, ind->count, &mean, &std);
    if (!(value > threshold) || !(std > 0.0)) return;

    char wkey[16];
    fg_day_str(day, wkey, sizeof(wkey));
    fg_alert_t *a = fg_dctx_alert(dc, SELF, ind->pattern, "institution", ev->institution_id, wkey);
    double z = (value - mean) / std;
    a->severity = z >= 2.0 * c->sigma ? FG_SEV_HIGH : FG_SEV_MEDIUM;
    a->score = 1.0 - c->sigma / z;
    if (a->score < 0.0) a->score = 0.0;
    fg_alert_set(a->institution_id, sizeof(a->institution_id), ev->institution_id);
    fg_alert_set(a->region, sizeof(a->region), ev->region);
    a->window_start = fg_day_start_ms(day, FG_CST_OFFSET_MS);
    a->window_end = fg_day_start_ms(day + 1, FG_CST_OFFSET_MS);

    fg_evidence_t evd;
    fg_evidence_get(dc->st, ikey, ind->evid, day, &evd);
    a->event_time = evd.max_t ? evd.max_t : ev->event_time_ms;
    a->n_event_ids = 0;
    for (size_t i = 0; i < evd.n; i++) fg_alert_add_event(a, evd.id[i]);

    a->n_figures = 0;
    fg_alert_add_figure(a, ind->pattern, value, threshold, ">");
    fg_alert_add_figure(a, "z_score", z, c->sigma, ">");
    fg_alert_add_figure(a, ind->volume_name, (double)volume, (double)min_volume, ">=");
    fg_alert_add_figure(a, "baseline_days", (double)bl.days, (double)c->min_baseline_days, ">=");

    a->amount_at_risk_fen = 0;
    if (ind == &IND_COST) {
        int64_t cs, cf;
        fg_baseline_get(dc->st, ikey, "cs", day, &cs);
        fg_baseline_get(dc->st, ikey, "cf", day, &cf);
        double ratio = cs > 0 ? (double)cf / (double)cs : 0.0;
        a->amount_at_risk_fen = (int64_t)llround((value - mean) * ind->scale * (double)volume * ratio);
    }
    int64_t late;
    fg_baseline_get(dc->st, ikey, "lt", day, &late);
    a->late_events = (int32_t)late;
    snprintf(a->summary, sizeof(a->summary),
             "%s %s on %s: %.2f %s over %lld %s, above its %zu-day baseline %.2f +/- %.2f (threshold %.2f)",
             ev->institution_id, ind->pattern, wkey, value, ind->unit, (long long)volume, ind->volume_name, bl.days,
             mean, std, threshold);
}

/*
 * An indicator of day changed: judge that day and every later day up to the
 * institution's watermark within baseline_days after it, whose baseline it is part
 * of. Claims and stays of different patients arrive on different partitions in any
 * order, so a spike day may be counted before (some of) its baseline days;
 * re-judging it when they arrive makes the outcome depend on the set of events, not
 * their order. Everything a judged day shows comes from its buckets, so a re-judged
 * day's alert is the one its own events would give. Bounded: at most baseline_days
 * extra days, none in time order (no later day has data yet). Days older than the
 * judging horizon (the changed day itself included) are not judged: an event reaches
 * them only when it is more than partition_skew_days + allowed_lateness behind the
 * institution's newest event (it is counted as late), their evidence is gone and is
 * not re-created (inst_day_open), so their alert keeps the content it had.
 *
 * Why the horizon allows for partition skew: lateness is judged per source partition,
 * and a consumer working off a backlog can be many days further on one partition than
 * on another. With the horizon at allowed_lateness behind the key-wide watermark (as
 * before), a spike day whose claims came partly from a lagging partition was counted
 * but never judged on its complete day (benchmark, 16 partitions: 4 of 30
 * cost_per_visit cases missed, partitions up to 29 days apart).
 */
static void judge_from(fg_dctx_t *dc, const ii_cfg_t *c, const fg_event_t *ev, const char *ikey, const ii_ind_t *ind,
                       int64_t day, int64_t min_volume) {
    int64_t maxt = fg_state_hget_int(dc->st, ikey, FG_WATERMARK_FIELD);
    int64_t wm_day = fg_day_of(maxt, FG_CST_OFFSET_MS);
    fg_horizon_t h;
    horizon_of(dc, c, maxt, &h);
    int64_t ev_from = h.judge_from; /* as inst_day_open prunes evidence */
    int64_t first = day >= ev_from ? day : ev_from;
    int64_t last = day + c->baseline_days < wm_day ? day + c->baseline_days : wm_day;
    if (last < day) last = day; /* the changed day itself is always judged (when not below the horizon) */
    if (last < first) return;
    static _Thread_local ii_run_t run;
    load_run(dc->st, ikey, ind, first - c->baseline_days, (size_t)(last - first + 1 + c->baseline_days), &run);
    for (int64_t d = first; d <= last; d++) evaluate(dc, c, ev, ikey, ind, d, min_volume, &run);
}

/* ---------- per-patient idempotence and stays ---------- */

typedef struct {
    char field[2 * FG_ALERT_STR + 4];
    int64_t t;
} ii_ent_t;

typedef struct {
    ii_ent_t *v;
    size_t n;
    int64_t claim_before, closed_before, open_before;
    int open; /* an admission waits for its discharge */
} ii_pat_t;

/* "admit_ms\x1fdischarge_ms\x1fadmit_eid\x1fdischarge_eid" (-1: unknown) */
typedef struct {
    int64_t admit_ms, discharge_ms;
    char admit_eid[FG_ALERT_STR], discharge_eid[FG_ALERT_STR];
} ii_stay_t;

static int parse_stay(const char *v, size_t len, ii_stay_t *s) {
    memset(s, 0, sizeof(*s));
    s->admit_ms = s->discharge_ms = -1;
    char parts[4][FG_ALERT_STR];
    int i = 0;
    size_t start = 0;
    for (size_t p = 0; p <= len && i < 4; p++) {
        if (p < len && v[p] != II_SEP) continue;
        size_t l = p - start;
        if (l >= FG_ALERT_STR) l = FG_ALERT_STR - 1;
        memcpy(parts[i], v + start, l);
        parts[i++][l] = '\0';
        start = p + 1;
    }
    if (i != 4) return 0;
    s->admit_ms = strtoll(parts[0], NULL, 10);
    s->discharge_ms = strtoll(parts[1], NULL, 10);
    fg_alert_set(s->admit_eid, sizeof(s->admit_eid), parts[2]);
    fg_alert_set(s->discharge_eid, sizeof(s->discharge_eid), parts[3]);
    return 1;
}

static void store_stay(fg_state_t *st, const char *pkey, const char *field, const ii_stay_t *s) {
    char v[2 * FG_ALERT_STR + 64];
    int n = snprintf(v, sizeof(v), "%lld%c%lld%c%s%c%s", (long long)s->admit_ms, II_SEP, (long long)s->discharge_ms,
                     II_SEP, s->admit_eid, II_SEP, s->discharge_eid);
    fg_state_hset(st, pkey, field, v, (size_t)n);
}

/* collects the patient's entries with the time they are judged by; expired ones are dropped */
static int collect(const char *field, const char *val, size_t len, void *ud) {
    ii_pat_t *p = ud;
    int64_t t;
    if (field[0] == 'c' && field[1] == II_SEP) {
        t = strtoll(val, NULL, 10) * FG_MS_PER_DAY; /* a claim's day */
        if (t < p->claim_before) t = INT64_MIN;
    } else if (field[0] == 's' && field[1] == II_SEP) {
        ii_stay_t s;
        if (!parse_stay(val, len, &s)) t = INT64_MIN;
        else if (s.discharge_ms >= 0) t = s.discharge_ms < p->closed_before ? INT64_MIN : s.discharge_ms;
        else if (s.admit_ms < p->open_before) t = INT64_MIN;
        else {
            t = s.admit_ms;
            p->open = 1;
        }
    } else {
        return 0; /* watermark */
    }
    if (p->n >= II_PAT_MAX + 8) return 0; /* hostile: the bound below deletes the rest next time */
    ii_ent_t *e = &p->v[p->n++];
    fg_alert_set(e->field, sizeof(e->field), field);
    e->t = t;
    return 0;
}

/* advances the patient's watermark and drops what can no longer matter (or the oldest beyond the bound) */
static void patient_prune(fg_dctx_t *dc, const ii_cfg_t *c, const char *pkey, int64_t t_ms) {
    int64_t maxt = fg_state_hget_int(dc->st, pkey, FG_WATERMARK_FIELD);
    if (t_ms > maxt) {
        char v[24];
        int n = snprintf(v, sizeof(v), "%lld", (long long)t_ms);
        fg_state_hset(dc->st, pkey, FG_WATERMARK_FIELD, v, (size_t)n);
        maxt = t_ms;
    }
    static _Thread_local ii_ent_t buf[II_PAT_MAX + 8];
    int64_t keep = dc->allowed_lateness_ms + FG_MS_PER_DAY;
    ii_pat_t p = {buf, 0, maxt - keep - FG_MS_PER_DAY, maxt - keep, maxt - c->max_stay_ms - keep, 0};
    fg_state_hforeach(dc->st, pkey, collect, &p);
    size_t live = 0;
    for (size_t i = 0; i < p.n; i++) {
        if (p.v[i].t == INT64_MIN) fg_state_hdel(dc->st, pkey, p.v[i].field);
        else p.v[live++] = p.v[i];
    }
    while (live > II_PAT_MAX) {
        size_t oldest = 0;
        for (size_t i = 1; i < live; i++)
            if (p.v[i].t < p.v[oldest].t) oldest = i;
        fg_state_hdel(dc->st, pkey, p.v[oldest].field);
        p.v[oldest] = p.v[--live];
    }
    /* only an open stay needs the long memory; counted claims and closed stays need the lateness */
    fg_state_expire(dc->st, pkey, (p.open ? c->max_stay_ms : FG_MS_PER_DAY) + keep);
}

/* ---------- institution side ---------- */

/*
 * Advances the institution's watermark, prunes its buckets when the watermark
 * enters a new day, and tells whether day is still kept (0: older than any
 * baseline or lateness can use, so it is not counted) and in *evidence whether
 * its evidence is (1: day is at or after the evidence horizon).
 *
 * Why the final state depends on the set of events only, not on how patient
 * partitions interleave: both horizons follow the key-wide watermark "~max" (a
 * maximum: its final value is order-free), everything below a horizon is deleted
 * when the horizon advances, and nothing is ever written below the current
 * horizon. So a bucket at or after the final horizon got every event of its day
 * (the horizon was never past it), and one below it is gone, whatever the order.
 */
static int inst_day_open(fg_dctx_t *dc, const ii_cfg_t *c, const char *ikey, int64_t t_ms, int64_t day, int *late,
                         int *evidence) {
    int64_t before = fg_state_hget_int(dc->st, ikey, FG_WATERMARK_FIELD), maxt;
    *late = fg_dctx_watermark(dc, ikey, t_ms, &maxt);
    int64_t wm_day = fg_day_of(maxt, FG_CST_OFFSET_MS);
    fg_horizon_t h;
    horizon_of(dc, c, maxt, &h);
    if (!before || fg_day_of(before, FG_CST_OFFSET_MS) < wm_day) {
        fg_baseline_prune(dc->st, ikey, NULL, h.keep_from);
        /* evidence is only read for days an event can still change (see judge_from) */
        fg_baseline_prune(dc->st, ikey, "ec", h.judge_from);
        fg_baseline_prune(dc->st, ikey, "el", h.judge_from);
        fg_baseline_prune(dc->st, ikey, "ea", h.judge_from);
    }
    fg_state_expire(dc->st, ikey,
                    (c->baseline_days + c->skew_days + 1) * FG_MS_PER_DAY + dc->allowed_lateness_ms + FG_MS_PER_DAY);
    /* on time for its own partition, but further behind the institution than the skew allowance: its day is
     * no longer judged, so the late metric says so rather than nothing (not the "lt" counter: whether an
     * event is that far behind the key-wide watermark depends on the interleaving, and the state must not) */
    if (day < h.judge_from) dc->late = 1;
    *evidence = day >= h.judge_from;
    return day >= h.keep_from;
}

static void on_claim(fg_dctx_t *dc, const ii_cfg_t *c, const fg_event_t *ev, const char *pkey, const char *ikey) {
    char field[FG_ALERT_STR + 4], v[24];
    snprintf(field, sizeof(field), "c%c%s", II_SEP, ev->event_id);
    int64_t day = fg_day_of(ev->event_time_ms, FG_CST_OFFSET_MS);
    if (fg_state_hget(dc->st, pkey, field, NULL)) {
        /* counted already: a re-delivery (e.g. after a crash between the state write and the
         * alert's publication). Nothing is added; the day is judged again from what is stored,
         * so a finding whose publication was lost is published now (same id, same content). */
        judge_from(dc, c, ev, ikey, &IND_COST, day, c->min_visits);
        return;
    }
    int n = snprintf(v, sizeof(v), "%lld", (long long)day);
    fg_state_hset(dc->st, pkey, field, v, (size_t)n);
    patient_prune(dc, c, pkey, ev->event_time_ms);

    int late, evidence;
    if (!inst_day_open(dc, c, ikey, ev->event_time_ms, day, &late, &evidence)) return;
    const fg_claim_t *cl = &ev->u.claim;
    fg_baseline_add(dc->st, ikey, "cs", day, cl->total_fen);
    fg_baseline_add(dc->st, ikey, "cn", day, 1);
    fg_baseline_add(dc->st, ikey, "cf", day, cl->fund_paid_fen);
    if (late) fg_baseline_add(dc->st, ikey, "lt", day, 1);
    if (evidence) fg_evidence_add(dc->st, ikey, "ec", day, cl->total_fen, ev->event_id, ev->event_time_ms, II_EVIDENCE);
    judge_from(dc, c, ev, ikey, &IND_COST, day, c->min_visits);
}

/* a stay whose admit and discharge are both known: its length counts on the discharge day */
static void count_los(fg_dctx_t *dc, const ii_cfg_t *c, const fg_event_t *ev, const char *ikey, const ii_stay_t *s,
                      int late) {
    int64_t los = s->discharge_ms - s->admit_ms;
    if (los < 0 || los > c->max_stay_ms) return; /* inconsistent stay: not a length */
    int64_t dday = fg_day_of(s->discharge_ms, FG_CST_OFFSET_MS);
    fg_horizon_t h;
    horizon_of(dc, c, fg_state_hget_int(dc->st, ikey, FG_WATERMARK_FIELD), &h);
    if (dday < h.keep_from) return;
    fg_baseline_add(dc->st, ikey, "ls", dday, los / 1000);
    fg_baseline_add(dc->st, ikey, "ln", dday, 1);
    if (late && ev->u.inpatient.type == FG_IP_DISCHARGE) fg_baseline_add(dc->st, ikey, "lt", dday, 1);
    if (dday >= h.judge_from) /* evidence horizon, see inst_day_open */
        fg_evidence_add(dc->st, ikey, "el", dday, los / 1000, s->discharge_eid, s->discharge_ms, II_EVIDENCE);
    judge_from(dc, c, ev, ikey, &IND_LOS, dday, c->min_discharges);
}

static void on_inpatient(fg_dctx_t *dc, const ii_cfg_t *c, const fg_event_t *ev, const char *pkey,
                         const char *ikey) {
    const fg_inpatient_t *ip = &ev->u.inpatient;
    char field[2 * FG_ALERT_STR + 4];
    snprintf(field, sizeof(field), "s%c%s%c%s", II_SEP, ev->institution_id, II_SEP, ip->admission_id);
    ii_stay_t s;
    size_t len;
    const char *v = fg_state_hget(dc->st, pkey, field, &len);
    if (!v || !parse_stay(v, len, &s)) {
        memset(&s, 0, sizeof(s));
        s.admit_ms = s.discharge_ms = -1;
    }
    int admit = ip->type == FG_IP_ADMIT;
    if ((admit && s.admit_ms >= 0) || (!admit && s.discharge_ms >= 0)) {
        /* this side is counted already (a re-delivery): judge again from what is stored, as on_claim */
        if (admit) judge_from(dc, c, ev, ikey, &IND_ADM, fg_day_of(s.admit_ms, FG_CST_OFFSET_MS), c->min_admissions);
        int64_t los = s.discharge_ms - s.admit_ms;
        if (s.admit_ms >= 0 && s.discharge_ms >= 0 && los >= 0 && los <= c->max_stay_ms)
            judge_from(dc, c, ev, ikey, &IND_LOS, fg_day_of(s.discharge_ms, FG_CST_OFFSET_MS), c->min_discharges);
        return;
    }
    if (admit) {
        s.admit_ms = ev->event_time_ms;
        fg_alert_set(s.admit_eid, sizeof(s.admit_eid), ev->event_id);
    } else {
        s.discharge_ms = ev->event_time_ms;
        fg_alert_set(s.discharge_eid, sizeof(s.discharge_eid), ev->event_id);
    }
    store_stay(dc->st, pkey, field, &s);
    patient_prune(dc, c, pkey, ev->event_time_ms);

    int late, evidence;
    int64_t day = fg_day_of(ev->event_time_ms, FG_CST_OFFSET_MS);
    int open = inst_day_open(dc, c, ikey, ev->event_time_ms, day, &late, &evidence);
    if (admit && open) {
        fg_baseline_add(dc->st, ikey, "ad", day, 1);
        if (late) fg_baseline_add(dc->st, ikey, "lt", day, 1);
        /* the latest admissions of the day are its evidence */
        if (evidence)
            fg_evidence_add(dc->st, ikey, "ea", day, ev->event_time_ms, ev->event_id, ev->event_time_ms, II_EVIDENCE);
        judge_from(dc, c, ev, ikey, &IND_ADM, day, c->min_admissions);
    }
    if (s.admit_ms >= 0 && s.discharge_ms >= 0) count_los(dc, c, ev, ikey, &s, late);
}

static void ii_on_event(void *priv, const fg_event_t *ev, fg_dctx_t *dc) {
    const ii_cfg_t *c = priv;
    char pkey[256], ikey[256];
    if (!relevant(ev) || fg_dctx_patient_key(dc, pkey, sizeof(pkey), "ii") <= 0 ||
        fg_dctx_inst_key(dc, ikey, sizeof(ikey), "ii", ev->institution_id) <= 0)
        return;
    if (ev->stream == FG_STREAM_CLAIMS) on_claim(dc, c, ev, pkey, ikey);
    else on_inpatient(dc, c, ev, pkey, ikey);
}

const fg_detector_t fg_det_institution_indicators = {
    .name = "institution_indicators",
    .name_zh = "次均费用 / 平均住院日 / 住院人次",
    .name_en = "institution indicators: cost per visit, length of stay, admissions",
    .description = "An institution's daily average cost per visit, average length of stay of the day's "
                   "discharges, or number of admissions exceeds its own trailing baseline (EWMA mean + sigma x "
                   "EWMA deviation over baseline_days, with a minimum history and a minimum volume that day).",
    .streams = FG_STREAM_BIT(FG_STREAM_CLAIMS) | FG_STREAM_BIT(FG_STREAM_INPATIENT),
    .conf = g_conf,
    .n_conf = FG_ARRAY_SIZE(g_conf),
    .init = ii_init,
    .want = ii_want,
    .on_event = ii_on_event,
    .destroy = ii_destroy,
};
