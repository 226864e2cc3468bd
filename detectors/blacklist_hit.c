/*
 * blacklist_hit.c - 黑名单 (blacklist hit): any event involving a blacklisted
 * institution, doctor or insured person (the seeds' 黑名单制度).
 *
 * Reads all three streams and the blacklists of the knowledge base (dc->kb):
 *  - pattern "institution": institution_id of any event;
 *  - pattern "doctor": doctor_id of claims and inpatient events;
 *  - pattern "person": patient_id of claims and inpatient events (subject type
 *    "patient"), and the card of claims (subject type "card": lists may carry
 *    社保卡号 as well as personal ids).
 * One alert per listed subject per event-time day (China Standard Time, UTC+8, like
 * the other day-based rules; window key
 * "YYYY-MM-DD"): the subject's further events that day update it with more
 * evidence and a larger amount at risk rather than opening new cases.
 *
 * State, only for events that hit a list (everything else costs three hash
 * lookups and no Redis key): per subject and day, one hash
 * "<prefix>:bl:<day number>:{<tag>:<subject>}" with field = event id and value
 * "event_ms\x1ffund_paid_fen\x1flate\x1finstitution\x1fregion"; and per subject
 * a watermark hash "<prefix>:blw:{<tag>:<subject>}" (field "~max") to judge
 * lateness. Persons and cards are keyed by their pseudonyms, never in clear.
 * Keyed by event id, so a re-delivered event rewrites nothing and the alert's
 * content cannot change. A subject's day keeps at most BL_MAX_EVENTS events,
 * the earliest by (event time, event id), so the kept set does not depend on
 * arrival order; counts and money saturate there (said in the summary).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "detector.h"
#include "util.h"

#define BL_MAX_EVENTS 256 /* per subject per day: a blacklisted pharmacy's whole day is evidence enough */
#define BL_SEP '\x1f'
#define BL_MAX_HITS 4     /* institution, doctor, patient, card */

typedef struct {
    bool lists[FG_KB_LIST_COUNT];
} bl_cfg_t;

typedef struct {
    const char *pattern;      /* "institution" | "doctor" | "person" */
    const char *subject_type; /* "institution" | "doctor" | "patient" | "card" */
    const char *subject_id;   /* clear id, for the alert */
    char key[320], wkey[320];
} bl_hit_t;

typedef struct {
    char eid[FG_ALERT_STR];
    int64_t t_ms, fund_fen;
    int late;
    char inst[FG_ALERT_STR], region[FG_ALERT_STR];
} bl_entry_t;

typedef struct {
    bl_entry_t *v;
    size_t n;
} bl_entries_t;

static const fg_conf_decl_t g_conf[] = {
    {"check_institutions", FG_CONF_BOOL, "true", 0, 0, 0,
     "Alert on any event (claim, inpatient, invoicing) of an institution on the institutions blacklist."},
    {"check_doctors", FG_CONF_BOOL, "true", 0, 0, 0,
     "Alert on claims and inpatient events whose doctor is on the doctors blacklist."},
    {"check_persons", FG_CONF_BOOL, "true", 0, 0, 0,
     "Alert on claims and inpatient events of an insured person on the persons blacklist (by person id, "
     "or by social-security card number on claims)."},
};

extern const fg_detector_t fg_det_blacklist_hit;
#define SELF (&fg_det_blacklist_hit)

static int bl_init(const fg_config_t *cf, const char *prefix, void **priv, char *errstr, size_t errstr_size) {
    static const char *const keys[FG_KB_LIST_COUNT] = {"check_institutions", "check_doctors", "check_persons"};
    char k[160];
    bl_cfg_t *c = calloc(1, sizeof(*c));
    if (!c) return fg_err(errstr, errstr_size, FG_ERR, "blacklist_hit: out of memory");
    for (int l = 0; l < FG_KB_LIST_COUNT; l++) {
        snprintf(k, sizeof(k), "%s%s", prefix, keys[l]);
        c->lists[l] = fg_config_bool(cf, k);
    }
    *priv = c;
    return FG_OK;
}

static void bl_destroy(void *priv) { free(priv); }

#define BL_DAY_OFFSET_MS (8 * FG_MS_PER_HOUR) /* days are China Standard Time days */

/* floor division: the UTC+8 day number of an event time */
static int64_t day_of(int64_t t_ms) {
    t_ms += BL_DAY_OFFSET_MS;
    return t_ms >= 0 ? t_ms / FG_MS_PER_DAY : -((-t_ms + FG_MS_PER_DAY - 1) / FG_MS_PER_DAY);
}

/* one hit: its day key and its watermark key; 0 if the key does not fit (overlong id) */
static int make_hit(fg_dctx_t *dc, const fg_event_t *ev, bl_hit_t *h, const char *pattern, const char *stype,
                    const char *id, char tag, const char *key_id) {
    char kind[48];
    h->pattern = pattern;
    h->subject_type = stype;
    h->subject_id = id;
    snprintf(kind, sizeof(kind), "bl:%lld", (long long)day_of(ev->event_time_ms));
    return key_id && fg_state_key(dc->st, h->key, sizeof(h->key), kind, tag, key_id) > 0 &&
           fg_state_key(dc->st, h->wkey, sizeof(h->wkey), "blw", tag, key_id) > 0;
}

static const char *doctor_of(const fg_event_t *ev) {
    if (ev->stream == FG_STREAM_CLAIMS) return ev->u.claim.doctor_id;
    if (ev->stream == FG_STREAM_INPATIENT) return ev->u.inpatient.doctor_id;
    return NULL;
}

/* the event's listed subjects, by the kb of this batch (the same in want and on_event) */
static size_t collect(const bl_cfg_t *c, const fg_event_t *ev, fg_dctx_t *dc, bl_hit_t *h) {
    const fg_kb_t *kb = dc->kb;
    size_t n = 0;
    if (c->lists[FG_KB_INSTITUTION] && ev->institution_id && fg_kb_listed(kb, FG_KB_INSTITUTION, ev->institution_id))
        n += (size_t)make_hit(dc, ev, &h[n], "institution", "institution", ev->institution_id, 'i',
                              ev->institution_id);
    const char *doc = doctor_of(ev);
    if (c->lists[FG_KB_DOCTOR] && doc && fg_kb_listed(kb, FG_KB_DOCTOR, doc))
        n += (size_t)make_hit(dc, ev, &h[n], "doctor", "doctor", doc, 'd', doc);
    if (c->lists[FG_KB_PERSON] && ev->stream != FG_STREAM_INVOICING) {
        if (ev->patient_id && fg_kb_listed(kb, FG_KB_PERSON, ev->patient_id))
            n += (size_t)make_hit(dc, ev, &h[n], "person", "patient", ev->patient_id, 'p', dc->patient_pseudo);
        if (ev->stream == FG_STREAM_CLAIMS && ev->card_id && fg_kb_listed(kb, FG_KB_PERSON, ev->card_id))
            n += (size_t)make_hit(dc, ev, &h[n], "person", "card", ev->card_id, 'c', dc->card_pseudo);
    }
    return n;
}

static void bl_want(void *priv, const fg_event_t *ev, fg_dctx_t *dc) {
    bl_hit_t h[BL_MAX_HITS];
    size_t n = collect(priv, ev, dc, h);
    for (size_t i = 0; i < n; i++) {
        fg_state_want(dc->st, h[i].key);
        fg_state_want(dc->st, h[i].wkey);
    }
}

static int load_entry(const char *field, const char *val, size_t len, void *ud) {
    bl_entries_t *s = ud;
    char parts[5][FG_ALERT_STR];
    if (s->n >= BL_MAX_EVENTS + 1 || fg_rec_split(val, len, BL_SEP, parts, 5) != 5) return 0; /* corrupt: ignore, it expires */
    bl_entry_t *e = &s->v[s->n++];
    fg_alert_set(e->eid, sizeof(e->eid), field);
    e->t_ms = strtoll(parts[0], NULL, 10);
    e->fund_fen = strtoll(parts[1], NULL, 10);
    e->late = parts[2][0] == '1';
    fg_alert_set(e->inst, sizeof(e->inst), parts[3]);
    fg_alert_set(e->region, sizeof(e->region), parts[4]);
    return 0;
}

static int by_time(const void *x, const void *y) {
    const bl_entry_t *a = x, *b = y;
    if (a->t_ms != b->t_ms) return a->t_ms < b->t_ms ? -1 : 1;
    return strcmp(a->eid, b->eid); /* ties broken by id, never by arrival */
}

static void emit(fg_dctx_t *dc, const bl_hit_t *h, const fg_event_t *ev, bl_entries_t *s) {
    qsort(s->v, s->n, sizeof(s->v[0]), by_time);
    int64_t day = day_of(ev->event_time_ms);
    time_t dsec = (time_t)(day * 86400);
    struct tm tm;
    gmtime_r(&dsec, &tm);
    char wkey[48]; /* sized for any int fields, though a date needs 11 */
    snprintf(wkey, sizeof(wkey), "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);

    fg_alert_t *a = fg_dctx_alert(dc, SELF, h->pattern, h->subject_type, h->subject_id, wkey);
    int64_t fund = 0;
    int32_t late = 0;
    a->n_event_ids = 0;
    for (size_t i = 0; i < s->n; i++) {
        fund += s->v[i].fund_fen;
        late += s->v[i].late;
        fg_alert_add_event(a, s->v[i].eid); /* the first FG_ALERT_MAX_EVENTS by time */
    }
    const bl_entry_t *last = &s->v[s->n - 1];
    a->severity = FG_SEV_HIGH;
    a->score = 1.0; /* a listed subject is a certainty, not a measure */
    fg_alert_set(a->institution_id, sizeof(a->institution_id), last->inst);
    fg_alert_set(a->region, sizeof(a->region), last->region);
    a->window_start = day * FG_MS_PER_DAY - BL_DAY_OFFSET_MS;
    a->window_end = (day + 1) * FG_MS_PER_DAY - BL_DAY_OFFSET_MS;
    a->event_time = last->t_ms;
    a->late_events = late;
    a->amount_at_risk_fen = fund;
    fg_alert_add_figure(a, "events", (double)s->n, 1.0, ">=");
    fg_alert_add_figure(a, "fund_paid_fen", (double)fund, 0.0, ">=");
    snprintf(a->summary, sizeof(a->summary), "%zu event(s)%s on %s involving blacklisted %s %s (fund paid %.2f yuan)",
             s->n, s->n >= BL_MAX_EVENTS ? " (first ones kept)" : "", wkey, h->pattern, h->subject_id,
             (double)fund / 100.0);
}

static void bl_on_event(void *priv, const fg_event_t *ev, fg_dctx_t *dc) {
    bl_hit_t h[BL_MAX_HITS];
    size_t n = collect(priv, ev, dc, h);
    if (!n || !ev->event_id) return;
    int64_t fund = ev->stream == FG_STREAM_CLAIMS ? ev->u.claim.fund_paid_fen : 0;
    int64_t ttl = FG_MS_PER_DAY + dc->allowed_lateness_ms + FG_MS_PER_DAY;
    static _Thread_local bl_entry_t buf[BL_MAX_EVENTS + 2];

    for (size_t k = 0; k < n; k++) {
        int64_t maxt = 0;
        int late = fg_dctx_watermark(dc, h[k].wkey, ev->event_time_ms, &maxt);
        fg_state_expire(dc->st, h[k].wkey, ttl);

        bl_entries_t s = {buf, 0};
        fg_state_hforeach(dc->st, h[k].key, load_entry, &s);
        int known = 0;
        for (size_t i = 0; i < s.n && !known; i++) known = !strcmp(s.v[i].eid, ev->event_id);
        if (!known) { /* a re-delivered event keeps what it first stored, its late flag included */
            bl_entry_t *e = &s.v[s.n++];
            fg_alert_set(e->eid, sizeof(e->eid), ev->event_id);
            e->t_ms = ev->event_time_ms;
            e->fund_fen = fund;
            e->late = late;
            fg_alert_set(e->inst, sizeof(e->inst), ev->institution_id ? ev->institution_id : "");
            fg_alert_set(e->region, sizeof(e->region), ev->region ? ev->region : "");
            /* over the cap: the latest by (time, id) goes, which may be this very event */
            size_t drop = s.n;
            if (s.n > BL_MAX_EVENTS) {
                drop = 0;
                for (size_t i = 1; i < s.n; i++)
                    if (by_time(&s.v[i], &s.v[drop]) > 0) drop = i;
            }
            if (drop != s.n - 1) {
                char v[3 * FG_ALERT_STR + 64];
                int len = snprintf(v, sizeof(v), "%lld%c%lld%c%d%c%s%c%s", (long long)e->t_ms, BL_SEP,
                                   (long long)e->fund_fen, BL_SEP, e->late, BL_SEP, e->inst, BL_SEP, e->region);
                fg_state_hset(dc->st, h[k].key, e->eid, v, (size_t)len);
                fg_state_expire(dc->st, h[k].key, ttl);
            }
            if (drop != s.n) {
                if (drop != s.n - 1) fg_state_hdel(dc->st, h[k].key, s.v[drop].eid);
                s.v[drop] = s.v[--s.n];
            }
        }
        if (s.n) emit(dc, &h[k], ev, &s);
    }
}

const fg_detector_t fg_det_blacklist_hit = {
    .name = "blacklist_hit",
    .name_zh = "黑名单",
    .name_en = "blacklist hit",
    .description = "Any event involving an institution, doctor or insured person on the blacklists of the "
                   "reference data (黑名单制度): one alert per listed subject per day, updated as its further "
                   "events that day arrive.",
    .streams = FG_STREAM_BIT(FG_STREAM_CLAIMS) | FG_STREAM_BIT(FG_STREAM_INPATIENT) |
               FG_STREAM_BIT(FG_STREAM_INVOICING),
    .conf = g_conf,
    .n_conf = FG_ARRAY_SIZE(g_conf),
    .init = bl_init,
    .want = bl_want,
    .on_event = bl_on_event,
    .destroy = bl_destroy,
};
