/* alert.c - alert ids, evidence helpers and the JSON form published on the alert topic. */
#include "alert.h"

#include <ctype.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/pseudo.h"

static const char *const g_sev[] = {"LOW", "MEDIUM", "HIGH", "CRITICAL"};
const char *fg_severity_name(fg_severity_t s) { return (unsigned)s < 4 ? g_sev[s] : "LOW"; }

void fg_alerts_init(fg_alerts_t *l) { memset(l, 0, sizeof(*l)); }
void fg_alerts_clear(fg_alerts_t *l) { l->n = 0; }
void fg_alerts_free(fg_alerts_t *l) {
    free(l->v);
    memset(l, 0, sizeof(*l));
}

fg_alert_t *fg_alerts_upsert(fg_alerts_t *l, const char *id) {
    for (size_t i = 0; i < l->n; i++)
        if (!strcmp(l->v[i].id, id)) return &l->v[i];
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        fg_alert_t *v = realloc(l->v, cap * sizeof(*v));
        if (!v) abort();
        l->v = v;
        l->cap = cap;
    }
    fg_alert_t *a = &l->v[l->n++];
    memset(a, 0, sizeof(*a));
    fg_alert_set(a->id, sizeof(a->id), id);
    return a;
}

static void hex(char *out, const unsigned char *in, size_t n) {
    static const char d[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = d[in[i] >> 4];
        out[2 * i + 1] = d[in[i] & 15];
    }
    out[2 * n] = '\0';
}

static void sha256_hex(const char *data, size_t len, char *out, size_t hexchars) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
    hex(out, md, hexchars / 2);
}

void fg_alert_make_id(char out[FG_ALERT_ID_LEN + 1], const char *rule, const char *pattern,
                      const char *subject_type, const char *subject_id, const char *window_key) {
    /* unit separators keep ("a","bc") and ("ab","c") apart */
    char buf[1024];
    int n = snprintf(buf, sizeof(buf), "%s\x1f%s\x1f%s\x1f%s\x1f%s", rule, pattern, subject_type, subject_id,
                     window_key);
    if (n < 0) n = 0;
    if ((size_t)n >= sizeof(buf)) n = sizeof(buf) - 1;
    sha256_hex(buf, (size_t)n, out, FG_ALERT_ID_LEN);
}

void fg_alert_set(char *dst, size_t size, const char *src) {
    if (!size) return;
    if (!src) src = "";
    size_t n = strlen(src);
    if (n >= size) n = size - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

void fg_alert_add_event(fg_alert_t *a, const char *event_id) {
    /* full: nothing to add, duplicate or not. Checked first: a detector re-listing its 256 capped records
       for every event of a flooding patient spent a third of its CPU in the duplicate scan below. */
    if (!event_id || !*event_id || a->n_event_ids >= FG_ALERT_MAX_EVENTS) return;
    for (uint32_t i = 0; i < a->n_event_ids; i++)
        if (!strcmp(a->event_ids[i], event_id)) return;
    fg_alert_set(a->event_ids[a->n_event_ids++], FG_ALERT_STR, event_id);
}

void fg_alert_add_figure(fg_alert_t *a, const char *name, double value, double threshold, const char *op) {
    for (uint32_t i = 0; i < a->n_figures; i++)
        if (!strcmp(a->figures[i].name, name)) {
            a->figures[i].value = value;
            a->figures[i].threshold = threshold;
            fg_alert_set(a->figures[i].op, sizeof(a->figures[i].op), op);
            return;
        }
    if (a->n_figures >= FG_ALERT_MAX_FIGURES) return;
    fg_figure_t *f = &a->figures[a->n_figures++];
    fg_alert_set(f->name, sizeof(f->name), name);
    f->value = value;
    f->threshold = threshold;
    fg_alert_set(f->op, sizeof(f->op), op);
}

char *fg_alert_to_json(const fg_alert_t *a, int with_detection_time) {
    json_t *ev = json_array();
    for (uint32_t i = 0; i < a->n_event_ids; i++) json_array_append_new(ev, json_string(a->event_ids[i]));
    json_t *figs = json_array();
    for (uint32_t i = 0; i < a->n_figures; i++)
        json_array_append_new(figs, json_pack("{s:s, s:f, s:f, s:s}", "name", a->figures[i].name, "value",
                                              a->figures[i].value, "threshold", a->figures[i].threshold,
                                              "op", a->figures[i].op));
    /* money as integer fen (exact) and as a yuan string for people */
    char yuan[32];
    snprintf(yuan, sizeof(yuan), "%lld.%02lld", (long long)(a->amount_at_risk_fen / 100),
             (long long)(a->amount_at_risk_fen % 100));
    json_t *o = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:s, s:f, s:s, s:s, s:s, s:s, s:I, s:I,"
        " s:{s:o, s:o, s:s, s:i}, s:I, s:s, s:I, s:s}",
        "alert_id", a->id, "rule_id", a->rule_id ? a->rule_id : "", "pattern", a->pattern ? a->pattern : "",
        "rule_name_zh", a->rule_name_zh ? a->rule_name_zh : "", "rule_name_en",
        a->rule_name_en ? a->rule_name_en : "", "severity", fg_severity_name(a->severity), "score", a->score,
        "subject_type", a->subject_type, "subject_id", a->subject_id, "institution_id", a->institution_id,
        "region", a->region, "window_start", (json_int_t)a->window_start, "window_end",
        (json_int_t)a->window_end, "evidence", "event_ids", ev, "figures", figs, "summary", a->summary,
        "late_events", (int)a->late_events, "amount_at_risk_fen", (json_int_t)a->amount_at_risk_fen,
        "amount_at_risk_yuan", yuan, "event_time", (json_int_t)a->event_time, "ruleset_version",
        a->ruleset_version ? a->ruleset_version : "");
    if (!o) abort(); /* only on OOM or a format bug; both are programming errors here */
    if (with_detection_time) json_object_set_new(o, "detection_time", json_integer(a->detection_time));
    char *s = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(10));
    json_decref(o);
    if (!s) abort();
    return s;
}

void fg_alert_digest(const fg_alert_t *a, char out[17]) {
    char *s = fg_alert_to_json(a, 0);
    sha256_hex(s, strlen(s), out, 16);
    free(s);
}

int fg_alert_ids_parse(const char *name) {
    if (name && !strcmp(name, "real")) return FG_ALERT_IDS_REAL;
    if (name && !strcmp(name, "pseudonym")) return FG_ALERT_IDS_PSEUDONYM;
    return -1;
}

static int id_char(char ch) { return isalnum((unsigned char)ch) || ch == '-' || ch == '_'; }

/*
 * Replaces every occurrence of id that stands as a whole word in dst (size bytes)
 * by rep (so patient "P1" leaves "P10" alone); the result is cut at size - 1.
 */
static void replace_all(char *dst, size_t size, const char *id, const char *rep) {
    size_t lid = strlen(id), lrep = strlen(rep);
    if (!lid || !strstr(dst, id)) return;
    char out[1024];
    size_t n = 0;
    for (const char *p = dst; *p && n + 1 < sizeof(out);) {
        if (!strncmp(p, id, lid) && (p == dst || !id_char(p[-1])) && !id_char(p[lid])) {
            size_t k = lrep < sizeof(out) - 1 - n ? lrep : sizeof(out) - 1 - n;
            memcpy(out + n, rep, k);
            n += k;
            p += lid;
        } else {
            out[n++] = *p++;
        }
    }
    out[n] = '\0';
    fg_alert_set(dst, size, out);
}

char *fg_alert_to_wire_json(const fg_alert_t *a, fg_alert_ids_t mode) {
    if (mode != FG_ALERT_IDS_PSEUDONYM ||
        (strcmp(a->subject_type, "patient") && strcmp(a->subject_type, "card")) || !a->subject_id[0])
        return fg_alert_to_json(a, 1);
    /* the only personal ids an alert holds are its subject's: detectors name patients and cards nowhere
       else (event ids are claim and event ids), but a summary may repeat the subject (blacklist_hit) */
    fg_alert_t *c = malloc(sizeof(*c));
    if (!c) abort();
    memcpy(c, a, sizeof(*c));
    char ps[FG_PSEUDO_LEN + 1];
    fg_pseudo(a->subject_id, ps);
    fg_alert_set(c->subject_id, sizeof(c->subject_id), ps);
    replace_all(c->summary, sizeof(c->summary), a->subject_id, ps);
    char *s = fg_alert_to_json(c, 1);
    free(c);
    return s;
}
