/* risk.c - institution risk scores from alerts, decayed in event time. */
#include "risk.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fg_risk {
    fg_state_t *st;
    int64_t half_life_ms, window_ms;
    double grade_b, grade_c, grade_d;
};

fg_risk_t *fg_risk_create(const fg_config_t *cf, fg_state_t *st) {
    fg_risk_t *r = calloc(1, sizeof(*r));
    if (!r) abort();
    r->st = st;
    r->half_life_ms = fg_config_int(cf, "risk.half_life_days") * FG_MS_PER_DAY;
    r->window_ms = fg_config_int(cf, "risk.window_days") * FG_MS_PER_DAY;
    r->grade_b = fg_config_double(cf, "risk.grade_b");
    r->grade_c = fg_config_double(cf, "risk.grade_c");
    r->grade_d = fg_config_double(cf, "risk.grade_d");
    return r;
}

void fg_risk_destroy(fg_risk_t *r) { free(r); }

char fg_risk_grade(const fg_risk_t *r, double score) {
    return score >= r->grade_d ? 'D' : score >= r->grade_c ? 'C' : score >= r->grade_b ? 'B' : 'A';
}

/* severity doubles the weight per step; money adds a log factor so one huge case does not swamp the rest */
static double weight(const fg_alert_t *a) {
    double sev = (double)(1 << a->severity);
    return sev * (1.0 + log10(1.0 + (double)a->amount_at_risk_fen / 100000.0));
}

typedef struct {
    int64_t t_max;
    double score;
    int64_t amount;
    int n, by_sev[4];
    int64_t horizon, half_life;
    fg_state_t *st;
    const char *key;
    int pass; /* 0: find t_max, 1: sum, prune */
} fg_fold_t;

static int fold(const char *field, const char *val, size_t len, void *ud) {
    fg_fold_t *f = ud;
    (void)len;
    long long t = 0, amount = 0;
    double w = 0;
    int sev = 0;
    if (sscanf(val, "%lld|%lf|%lld|%d", &t, &w, &amount, &sev) != 4) return 0;
    if (f->pass == 0) {
        if (t > f->t_max) f->t_max = t;
        return 0;
    }
    if (t < f->horizon) {
        fg_state_hdel(f->st, f->key, field);
        return 0;
    }
    f->score += w * pow(0.5, (double)(f->t_max - t) / (double)f->half_life);
    f->amount += amount;
    f->n++;
    if (sev >= 0 && sev < 4) f->by_sev[sev]++;
    return 0;
}

static fg_risk_record_t *rec_add(fg_risk_records_t *out) {
    if (out->n == out->cap) {
        size_t c = out->cap ? out->cap * 2 : 16;
        fg_risk_record_t *v = realloc(out->v, c * sizeof(*v));
        if (!v) abort();
        out->v = v;
        out->cap = c;
    }
    return &out->v[out->n++];
}

int fg_risk_update(fg_risk_t *r, const fg_alerts_t *alerts, fg_risk_records_t *out, char *errstr,
                   size_t errstr_size) {
    if (!alerts->n) return FG_OK;
    char key[512];
    fg_state_begin(r->st);
    for (size_t i = 0; i < alerts->n; i++)
        if (alerts->v[i].institution_id[0] &&
            fg_state_key(r->st, key, sizeof(key), "risk", 'i', alerts->v[i].institution_id) > 0)
            fg_state_want(r->st, key);
    int rc = fg_state_fetch(r->st, errstr, errstr_size);
    if (rc != FG_OK) return rc;

    size_t first = out->n;
    for (size_t i = 0; i < alerts->n; i++) {
        const fg_alert_t *a = &alerts->v[i];
        if (!a->institution_id[0] || fg_state_key(r->st, key, sizeof(key), "risk", 'i', a->institution_id) < 0)
            continue;
        char v[96];
        int n = snprintf(v, sizeof(v), "%lld|%.6f|%lld|%d", (long long)a->event_time, weight(a),
                         (long long)a->amount_at_risk_fen, (int)a->severity);
        fg_state_hset(r->st, key, a->id, v, (size_t)n);
        fg_state_expire(r->st, key, r->window_ms + 30 * FG_MS_PER_DAY);
        size_t j = first;
        while (j < out->n && strcmp(out->v[j].institution_id, a->institution_id)) j++;
        if (j == out->n) {
            fg_risk_record_t *rec = rec_add(out);
            fg_alert_set(rec->institution_id, sizeof(rec->institution_id), a->institution_id);
            rec->json = NULL;
        }
    }
    for (size_t j = first; j < out->n; j++) {
        fg_risk_record_t *rec = &out->v[j];
        fg_state_key(r->st, key, sizeof(key), "risk", 'i', rec->institution_id);
        fg_fold_t f = {.st = r->st, .key = key, .half_life = r->half_life_ms};
        fg_state_hforeach(r->st, key, fold, &f);
        f.pass = 1;
        f.horizon = f.t_max - r->window_ms;
        fg_state_hforeach(r->st, key, fold, &f);
        char grade[2] = {fg_risk_grade(r, f.score), 0};
        json_t *o = json_pack("{s:s, s:f, s:s, s:i, s:I, s:{s:i, s:i, s:i, s:i}, s:I}", "institution_id",
                              rec->institution_id, "score", round(f.score * 1000.0) / 1000.0, "grade", grade,
                              "alerts", f.n, "amount_at_risk_fen", (json_int_t)f.amount, "by_severity", "LOW",
                              f.by_sev[0], "MEDIUM", f.by_sev[1], "HIGH", f.by_sev[2], "CRITICAL", f.by_sev[3],
                              "as_of", (json_int_t)f.t_max);
        if (!o) abort();
        rec->json = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(10));
        json_decref(o);
        if (!rec->json) abort();
    }
    rc = fg_state_flush(r->st, errstr, errstr_size);
    if (rc != FG_OK) {
        for (size_t j = first; j < out->n; j++) free(out->v[j].json);
        out->n = first;
    }
    return rc;
}

void fg_risk_records_clear(fg_risk_records_t *out) {
    for (size_t i = 0; i < out->n; i++) free(out->v[i].json);
    out->n = 0;
}

void fg_risk_records_free(fg_risk_records_t *out) {
    fg_risk_records_clear(out);
    free(out->v);
    memset(out, 0, sizeof(*out));
}
