/* score.c - alerts vs ground truth, per rule (see score.h). */
#include "score.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"

typedef struct {
    char *rule, *pattern, *stype, *sid, *id; /* id: case id for truth, alert id for alerts */
    int64_t from, to;
    uint64_t order;
    int hit;
} sc_rec_t;

typedef struct {
    sc_rec_t *v;
    size_t n, cap;
} sc_vec_t;

struct fg_gen_score {
    sc_vec_t truth, alerts;
    int dedup_done;
};

fg_gen_score_t *fg_gen_score_create(void) { return calloc(1, sizeof(fg_gen_score_t)); }

static void vec_free(sc_vec_t *v) {
    for (size_t i = 0; i < v->n; i++) {
        free(v->v[i].rule);
        free(v->v[i].pattern);
        free(v->v[i].stype);
        free(v->v[i].sid);
        free(v->v[i].id);
    }
    free(v->v);
    memset(v, 0, sizeof(*v));
}

void fg_gen_score_destroy(fg_gen_score_t *s) {
    if (!s)
        return;
    vec_free(&s->truth);
    vec_free(&s->alerts);
    free(s);
}

static char *dup_or_null(const char *x) { return x ? strdup(x) : NULL; }

static int add(sc_vec_t *v, json_t *j, int truth, char *errstr, size_t n) {
    const char *rule = json_string_value(json_object_get(j, truth ? "rule" : "rule_id"));
    const char *stype = json_string_value(json_object_get(j, "subject_type"));
    const char *sid = json_string_value(json_object_get(j, "subject_id"));
    const char *id = json_string_value(json_object_get(j, truth ? "case" : "alert_id"));
    json_t *pj = json_object_get(j, "pattern");
    if (!rule || !stype || !sid || !id || (pj && !json_is_string(pj) && !json_is_null(pj)) || (!truth && !pj))
        return fg_err(errstr, n, -1, "%s line lacks %s, pattern, subject_type, subject_id or %s",
                      truth ? "truth" : "alert", truth ? "rule" : "rule_id", truth ? "case" : "alert_id");
    int64_t from, to;
    if (truth) {
        json_t *f = json_object_get(j, "from_ms"), *t = json_object_get(j, "to_ms");
        if (!json_is_integer(f) || !json_is_integer(t))
            return fg_err(errstr, n, -1, "truth line lacks from_ms/to_ms");
        from = json_integer_value(f);
        to = json_integer_value(t);
    } else {
        from = json_integer_value(json_object_get(j, "window_start"));
        to = json_integer_value(json_object_get(j, "window_end"));
        if (!from && !to)
            from = to = json_integer_value(json_object_get(j, "event_time"));
        if (to < from)
            to = from;
    }
    if (v->n == v->cap) {
        v->cap = v->cap ? 2 * v->cap : 1024;
        sc_rec_t *nv = realloc(v->v, v->cap * sizeof(*nv));
        if (!nv)
            return fg_err(errstr, n, -1, "out of memory");
        v->v = nv;
    }
    sc_rec_t *r = &v->v[v->n];
    memset(r, 0, sizeof(*r));
    r->rule = strdup(rule);
    r->pattern = dup_or_null(json_string_value(pj));
    r->stype = strdup(stype);
    r->sid = strdup(sid);
    r->id = strdup(id);
    r->from = from;
    r->to = to;
    r->order = v->n++;
    return 0;
}

static int add_line(fg_gen_score_t *s, const char *line, int truth, char *errstr, size_t n) {
    json_error_t je;
    json_t *j = json_loads(line, 0, &je);
    if (!j || !json_is_object(j)) {
        json_decref(j);
        return fg_err(errstr, n, -1, "not a JSON object: %s", j ? "wrong type" : je.text);
    }
    int rc = add(truth ? &s->truth : &s->alerts, j, truth, errstr, n);
    json_decref(j);
    s->dedup_done = 0;
    return rc;
}

int fg_gen_score_add_truth(fg_gen_score_t *s, const char *l, char *e, size_t n) { return add_line(s, l, 1, e, n); }
int fg_gen_score_add_alert(fg_gen_score_t *s, const char *l, char *e, size_t n) { return add_line(s, l, 0, e, n); }

int fg_gen_score_add_file(fg_gen_score_t *s, const char *path, int truth, char *errstr, size_t n) {
    FILE *f = fopen(path, "r");
    if (!f)
        return fg_err(errstr, n, -1, "%s: cannot open", path);
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    long no = 0;
    int rc = 0;
    char err[256];
    while ((len = getline(&line, &cap, f)) >= 0) {
        no++;
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r' || line[len - 1] == ' '))
            line[--len] = '\0';
        if (!len)
            continue;
        if (add_line(s, line, truth, err, sizeof(err))) {
            rc = fg_err(errstr, n, -1, "%s:%ld: %s", path, no, err);
            break;
        }
    }
    free(line);
    fclose(f);
    return rc;
}

int64_t fg_gen_score_widen_ms(const char *rule) {
    static const struct {
        const char *rule;
        int days;
    } W[] = {
        {"readmission_burst", 90}, {"claims_during_stay", 30}, {"prescription_volume", 30}, {"inventory_mismatch", 31},
        {"trace_code_reuse", 730}, {"duplicate_billing", 2},   {"bed_hanging", 3},
    };
    for (size_t i = 0; i < sizeof(W) / sizeof(W[0]); i++)
        if (!strcmp(W[i].rule, rule))
            return W[i].days * FG_MS_PER_DAY;
    return FG_MS_PER_DAY; /* day-keyed rules: the finding's own day */
}

static int cmp_subject(const sc_rec_t *a, const sc_rec_t *b) {
    int c = strcmp(a->rule, b->rule);
    if (!c)
        c = strcmp(a->stype, b->stype);
    if (!c)
        c = strcmp(a->sid, b->sid);
    return c;
}

static int cmp_rec(const void *x, const void *y) {
    const sc_rec_t *a = x, *b = y;
    int c = cmp_subject(a, b);
    if (c)
        return c;
    return a->order < b->order ? -1 : a->order > b->order;
}

static int cmp_alert_id(const void *x, const void *y) {
    const sc_rec_t *a = x, *b = y;
    int c = strcmp(a->id, b->id);
    if (c)
        return c;
    return a->order < b->order ? -1 : a->order > b->order;
}

static void prepare(fg_gen_score_t *s) {
    if (s->dedup_done)
        return;
    /* keep the last version of each alert id */
    sc_vec_t *a = &s->alerts;
    qsort(a->v, a->n, sizeof(*a->v), cmp_alert_id);
    size_t w = 0;
    for (size_t i = 0; i < a->n; i++) {
        if (i + 1 < a->n && !strcmp(a->v[i].id, a->v[i + 1].id)) {
            free(a->v[i].rule), free(a->v[i].pattern), free(a->v[i].stype), free(a->v[i].sid), free(a->v[i].id);
            continue;
        }
        a->v[w++] = a->v[i];
    }
    a->n = w;
    qsort(a->v, a->n, sizeof(*a->v), cmp_rec);
    qsort(s->truth.v, s->truth.n, sizeof(*s->truth.v), cmp_rec);
    /* match within each (rule, subject type, subject id) group */
    for (size_t i = 0; i < s->truth.n; i++)
        s->truth.v[i].hit = 0;
    for (size_t i = 0; i < a->n; i++)
        a->v[i].hit = 0;
    size_t ti = 0, ai = 0;
    while (ti < s->truth.n && ai < a->n) {
        int c = cmp_subject(&s->truth.v[ti], &a->v[ai]);
        if (c < 0) {
            ti++;
            continue;
        }
        if (c > 0) {
            ai++;
            continue;
        }
        size_t te = ti, ae = ai;
        while (te < s->truth.n && !cmp_subject(&s->truth.v[te], &s->truth.v[ti]))
            te++;
        while (ae < a->n && !cmp_subject(&a->v[ae], &a->v[ai]))
            ae++;
        int64_t widen = fg_gen_score_widen_ms(s->truth.v[ti].rule);
        for (size_t t = ti; t < te; t++)
            for (size_t k = ai; k < ae; k++) {
                sc_rec_t *tr = &s->truth.v[t], *al = &a->v[k];
                if (tr->pattern && strcmp(tr->pattern, al->pattern ? al->pattern : ""))
                    continue;
                if (al->to < tr->from - widen || al->from > tr->to + widen)
                    continue;
                tr->hit = al->hit = 1;
            }
        ti = te;
        ai = ae;
    }
    s->dedup_done = 1;
}

size_t fg_gen_score_compute(fg_gen_score_t *s, fg_gen_score_rule_t *out, size_t max) {
    prepare(s);
    /* rules in name order: both vectors are sorted by rule first */
    size_t nr = 0, ti = 0, ai = 0;
    while (ti < s->truth.n || ai < s->alerts.n) {
        const char *rt = ti < s->truth.n ? s->truth.v[ti].rule : NULL;
        const char *ra = ai < s->alerts.n ? s->alerts.v[ai].rule : NULL;
        const char *rule = !rt ? ra : !ra ? rt : strcmp(rt, ra) <= 0 ? rt : ra;
        fg_gen_score_rule_t r;
        memset(&r, 0, sizeof(r));
        snprintf(r.rule, sizeof(r.rule), "%s", rule);
        for (; ti < s->truth.n && !strcmp(s->truth.v[ti].rule, r.rule); ti++) {
            r.cases++;
            r.cases_found += (uint64_t)s->truth.v[ti].hit;
        }
        for (; ai < s->alerts.n && !strcmp(s->alerts.v[ai].rule, r.rule); ai++) {
            r.alerts++;
            r.alerts_right += (uint64_t)s->alerts.v[ai].hit;
        }
        r.precision = r.alerts ? (double)r.alerts_right / (double)r.alerts : 1.0;
        r.recall = r.cases ? (double)r.cases_found / (double)r.cases : 1.0;
        if (out && nr < max)
            out[nr] = r;
        nr++;
    }
    return nr;
}

char *fg_gen_score_json(fg_gen_score_t *s) {
    size_t n = fg_gen_score_compute(s, NULL, 0);
    fg_gen_score_rule_t *v = calloc(n ? n : 1, sizeof(*v));
    if (!v)
        return NULL;
    fg_gen_score_compute(s, v, n);
    json_t *rules = json_array();
    uint64_t c = 0, cf = 0, a = 0, ar = 0;
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(rules, json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:f}", "rule", v[i].rule,
                                               "cases", (json_int_t)v[i].cases, "found", (json_int_t)v[i].cases_found,
                                               "fn", (json_int_t)(v[i].cases - v[i].cases_found), "alerts",
                                               (json_int_t)v[i].alerts, "tp", (json_int_t)v[i].alerts_right, "fp",
                                               (json_int_t)(v[i].alerts - v[i].alerts_right), "precision",
                                               v[i].precision, "recall", v[i].recall));
        c += v[i].cases, cf += v[i].cases_found, a += v[i].alerts, ar += v[i].alerts_right;
    }
    json_t *o = json_pack("{s:o, s:{s:I, s:I, s:I, s:I, s:f, s:f}}", "rules", rules, "total", "cases", (json_int_t)c,
                          "found", (json_int_t)cf, "alerts", (json_int_t)a, "tp", (json_int_t)ar, "precision",
                          a ? (double)ar / (double)a : 1.0, "recall", c ? (double)cf / (double)c : 1.0);
    free(v);
    char *txt = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6)) : NULL;
    json_decref(o);
    return txt;
}

void fg_gen_score_print(fg_gen_score_t *s, FILE *out, size_t max_misses) {
    size_t n = fg_gen_score_compute(s, NULL, 0);
    fg_gen_score_rule_t *v = calloc(n ? n : 1, sizeof(*v));
    if (!v)
        return;
    fg_gen_score_compute(s, v, n);
    fprintf(out, "%-26s %7s %7s %7s %7s %9s %7s\n", "rule", "cases", "found", "alerts", "right", "precision", "recall");
    for (size_t i = 0; i < n; i++)
        fprintf(out, "%-26s %7llu %7llu %7llu %7llu %9.3f %7.3f\n", v[i].rule, (unsigned long long)v[i].cases,
                (unsigned long long)v[i].cases_found, (unsigned long long)v[i].alerts,
                (unsigned long long)v[i].alerts_right, v[i].precision, v[i].recall);
    free(v);
    size_t shown = 0;
    for (size_t i = 0; i < s->truth.n && shown < max_misses; i++)
        if (!s->truth.v[i].hit) {
            const sc_rec_t *t = &s->truth.v[i];
            fprintf(out, "missed %s %s/%s %s=%s [%lld, %lld]\n", t->id, t->rule, t->pattern ? t->pattern : "*",
                    t->stype, t->sid, (long long)t->from, (long long)t->to);
            shown++;
        }
    shown = 0;
    for (size_t i = 0; i < s->alerts.n && shown < max_misses; i++)
        if (!s->alerts.v[i].hit) {
            const sc_rec_t *a = &s->alerts.v[i];
            fprintf(out, "unmatched alert %s %s/%s %s=%s [%lld, %lld]\n", a->id, a->rule, a->pattern ? a->pattern : "",
                    a->stype, a->sid, (long long)a->from, (long long)a->to);
            shown++;
        }
}
