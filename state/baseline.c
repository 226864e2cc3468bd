/*
 * baseline.c - daily series, trailing EWMA baselines and per-day evidence on
 * top of the state hash API (layout and semantics in baseline.h).
 *
 * Reads go through fg_state_hget of exact field names (n lookups for an n-day
 * window) rather than walking the hash, so the cost of a baseline does not
 * grow with the number of series an entity keeps. Only pruning walks the hash,
 * and callers do it once per event-time day.
 */
#include "baseline.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EV_SEP '\x1f'  /* between evidence entries */
#define EV_RSEP '\x1e' /* between an entry's rank and id */

static int64_t floor_div(int64_t a, int64_t b) {
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0))) q--;
    return q;
}

int64_t fg_day_of(int64_t t_ms, int64_t offset_ms) {
    int64_t t;
    if (__builtin_add_overflow(t_ms, offset_ms, &t)) t = t_ms;
    return floor_div(t, FG_MS_PER_DAY);
}

int64_t fg_day_start_ms(int64_t day, int64_t offset_ms) { return day * FG_MS_PER_DAY - offset_ms; }

/* Civil date of a day number (H. Hinnant's days_from_civil inverse), exact for any int64 range we use. */
int fg_day_str(int64_t day, char *buf, size_t size) {
    int64_t z = day + 719468;
    int64_t era = floor_div(z, 146097);
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = yoe + era * 400;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t d = doy - (153 * mp + 2) / 5 + 1;
    int64_t m = mp < 10 ? mp + 3 : mp - 9;
    if (m <= 2) y++;
    int n = snprintf(buf, size, "%04" PRId64 "-%02" PRId64 "-%02" PRId64, y, m, d);
    if (n < 0 || (size_t)n >= size) return -1;
    return n;
}

int fg_baseline_field(char *buf, size_t size, const char *series, int64_t day) {
    int n = snprintf(buf, size, "%s:%" PRId64, series, day);
    if (n < 0 || (size_t)n >= size) return -1;
    return n;
}

/* strict decimal int64 of v[0..len) */
static int parse_i64(const char *v, size_t len, int64_t *out) {
    size_t i = 0;
    int neg = 0;
    if (len && v[0] == '-') {
        neg = 1;
        i = 1;
    }
    if (i == len) return 0;
    uint64_t x = 0;
    for (; i < len; i++) {
        unsigned d = (unsigned)(v[i] - '0');
        if (d > 9 || x > (UINT64_MAX - d) / 10) return 0;
        x = x * 10 + d;
    }
    if (x > (uint64_t)INT64_MAX + (uint64_t)neg) return 0;
    *out = neg ? (int64_t)(0 - x) : (int64_t)x;
    return 1;
}

int64_t fg_baseline_add(fg_state_t *st, const char *key, const char *series, int64_t day, int64_t delta) {
    char f[FG_BASELINE_SERIES_MAX + 24];
    if (fg_baseline_field(f, sizeof(f), series, day) < 0) return 0;
    return fg_state_hincrby(st, key, f, delta);
}

int fg_baseline_get(fg_state_t *st, const char *key, const char *series, int64_t day, int64_t *val) {
    char f[FG_BASELINE_SERIES_MAX + 24];
    size_t len;
    *val = 0;
    if (fg_baseline_field(f, sizeof(f), series, day) < 0) return 0;
    const char *v = fg_state_hget(st, key, f, &len);
    if (!v || !parse_i64(v, len, val)) {
        *val = 0;
        return 0;
    }
    return 1;
}

size_t fg_baseline_load(fg_state_t *st, const char *key, const char *series, int64_t day, size_t n, int64_t *vals,
                        unsigned char *has) {
    size_t with = 0;
    if (n > FG_BASELINE_MAX_DAYS) n = FG_BASELINE_MAX_DAYS;
    for (size_t i = 0; i < n; i++) {
        has[i] = (unsigned char)fg_baseline_get(st, key, series, day - (int64_t)n + (int64_t)i, &vals[i]);
        with += has[i];
    }
    return with;
}

void fg_baseline_stats(const double *x, const unsigned char *has, size_t n, double alpha, fg_baseline_t *out) {
    memset(out, 0, sizeof(*out));
    if (!(alpha > 0.0 && alpha <= 1.0)) alpha = 1.0;
    double sum = 0.0, em = 0.0, ev = 0.0;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (has && !has[i]) continue;
        sum += x[i];
        if (k == 0) {
            em = x[i];
            ev = 0.0;
        } else {
            double d = x[i] - em;
            em += alpha * d;
            ev = (1.0 - alpha) * (ev + alpha * d * d);
        }
        k++;
    }
    if (!k) return;
    out->days = k;
    out->mean = sum / (double)k;
    if (k > 1) {
        /* second pass: the textbook sum of squares loses precision on large, close values */
        double ss = 0.0;
        for (size_t i = 0; i < n; i++) {
            if (has && !has[i]) continue;
            double d = x[i] - out->mean;
            ss += d * d;
        }
        out->std = sqrt(ss / (double)(k - 1));
    }
    out->ewma_mean = em;
    out->ewma_std = sqrt(ev > 0.0 ? ev : 0.0);
}

double fg_baseline_bar(const fg_baseline_t *bl, double alpha, double sigma, double min_std_pct, int is_count,
                       double *mean, double *std) {
    int ewma = alpha > 0.0 && alpha <= 1.0;
    double m = ewma ? bl->ewma_mean : bl->mean;
    double s = ewma ? bl->ewma_std : bl->std;
    double f = fabs(m) * min_std_pct / 100.0;
    if (s < f) s = f;
    if (is_count && s < sqrt(fabs(m))) s = sqrt(fabs(m));
    if (mean) *mean = m;
    if (std) *std = s;
    return m + sigma * s;
}

void fg_baseline_series(fg_state_t *st, const char *key, const char *series, int64_t day, size_t n, double alpha,
                        fg_baseline_t *out) {
    int64_t v[FG_BASELINE_MAX_DAYS];
    unsigned char has[FG_BASELINE_MAX_DAYS];
    double x[FG_BASELINE_MAX_DAYS];
    if (n > FG_BASELINE_MAX_DAYS) n = FG_BASELINE_MAX_DAYS;
    fg_baseline_load(st, key, series, day, n, v, has);
    for (size_t i = 0; i < n; i++) x[i] = (double)v[i];
    fg_baseline_stats(x, has, n, alpha, out);
}

typedef struct {
    fg_state_t *st;
    const char *key, *series;
    size_t slen;
    int64_t before;
} prune_ctx_t;

static int prune_cb(const char *field, const char *val, size_t len, void *ud) {
    prune_ctx_t *c = ud;
    (void)val;
    (void)len;
    const char *colon = strrchr(field, ':');
    int64_t day;
    if (!colon || colon == field || !parse_i64(colon + 1, strlen(colon + 1), &day)) return 0;
    if (c->series && ((size_t)(colon - field) != c->slen || memcmp(field, c->series, c->slen))) return 0;
    /* hdel of the visited field is safe during hforeach (state.c) */
    if (day < c->before) fg_state_hdel(c->st, c->key, field);
    return 0;
}

void fg_baseline_prune(fg_state_t *st, const char *key, const char *series, int64_t before_day) {
    prune_ctx_t c = {st, key, series, series ? strlen(series) : 0, before_day};
    fg_state_hforeach(st, key, prune_cb, &c);
}

void fg_baseline_horizon(int64_t max_day, int64_t baseline_days, int64_t lateness_ms, int64_t skew_days,
                         fg_horizon_t *h) {
    int64_t lateness_days = lateness_ms > 0 ? (lateness_ms + FG_MS_PER_DAY - 1) / FG_MS_PER_DAY : 0;
    h->judge_from = max_day - lateness_days - (skew_days > 0 ? skew_days : 0) - 1;
    h->keep_from = h->judge_from - (baseline_days > 0 ? baseline_days : 0);
}

/* ---------- evidence: "<max_t>" then up to K x (EV_SEP "<rank>" EV_RSEP "<id>") ---------- */

static void evidence_parse(const char *v, size_t len, fg_evidence_t *ev) {
    memset(ev, 0, sizeof(*ev));
    size_t p = 0;
    while (p < len && v[p] != EV_SEP) p++;
    if (!parse_i64(v, p, &ev->max_t)) ev->max_t = 0;
    while (p < len && ev->n < FG_EVIDENCE_MAX) {
        size_t s = ++p; /* skip EV_SEP */
        while (p < len && v[p] != EV_SEP) p++;
        const char *r = memchr(v + s, EV_RSEP, p - s);
        if (!r) continue; /* corrupt entry: skip it */
        size_t idlen = (size_t)(v + p - (r + 1));
        if (!parse_i64(v + s, (size_t)(r - (v + s)), &ev->rank[ev->n]) || !idlen || idlen >= FG_EVIDENCE_ID) continue;
        memcpy(ev->id[ev->n], r + 1, idlen);
        ev->id[ev->n][idlen] = '\0';
        ev->n++;
    }
}

/* a before b: higher rank first, then smaller id */
static int ev_before(int64_t ra, const char *ia, int64_t rb, const char *ib) {
    if (ra != rb) return ra > rb;
    return strcmp(ia, ib) < 0;
}

void fg_evidence_add(fg_state_t *st, const char *key, const char *series, int64_t day, int64_t rank,
                     const char *event_id, int64_t t_ms, size_t k) {
    char f[FG_BASELINE_SERIES_MAX + 24];
    size_t len, idlen = strlen(event_id);
    if (fg_baseline_field(f, sizeof(f), series, day) < 0 || !idlen || idlen >= FG_EVIDENCE_ID) return;
    if (k > FG_EVIDENCE_MAX) k = FG_EVIDENCE_MAX;
    if (!k) k = 1;
    fg_evidence_t ev;
    const char *v = fg_state_hget(st, key, f, &len);
    if (v) evidence_parse(v, len, &ev);
    else memset(&ev, 0, sizeof(ev));

    if (t_ms > ev.max_t) ev.max_t = t_ms;
    for (size_t i = 0; i < ev.n; i++) {
        if (strcmp(ev.id[i], event_id)) continue;
        /* same event again: take it out, it is re-inserted at its (possibly new) rank */
        memmove(&ev.rank[i], &ev.rank[i + 1], (ev.n - i - 1) * sizeof(ev.rank[0]));
        memmove(ev.id[i], ev.id[i + 1], (ev.n - i - 1) * sizeof(ev.id[0]));
        ev.n--;
        break;
    }
    size_t pos = 0;
    while (pos < ev.n && ev_before(ev.rank[pos], ev.id[pos], rank, event_id)) pos++;
    if (pos < k) {
        if (ev.n >= k) ev.n = k - 1; /* drop the lowest */
        memmove(&ev.rank[pos + 1], &ev.rank[pos], (ev.n - pos) * sizeof(ev.rank[0]));
        memmove(ev.id[pos + 1], ev.id[pos], (ev.n - pos) * sizeof(ev.id[0]));
        ev.rank[pos] = rank;
        memcpy(ev.id[pos], event_id, idlen + 1);
        ev.n++;
    }

    char out[24 + FG_EVIDENCE_MAX * (24 + FG_EVIDENCE_ID)];
    size_t o = (size_t)snprintf(out, sizeof(out), "%" PRId64, ev.max_t);
    for (size_t i = 0; i < ev.n; i++)
        o += (size_t)snprintf(out + o, sizeof(out) - o, "%c%" PRId64 "%c%s", EV_SEP, ev.rank[i], EV_RSEP, ev.id[i]);
    /* unchanged (a re-delivered event): no write, no Redis command */
    if (v && len == o && !memcmp(v, out, o)) return;
    fg_state_hset(st, key, f, out, o);
}

void fg_evidence_get(fg_state_t *st, const char *key, const char *series, int64_t day, fg_evidence_t *ev) {
    char f[FG_BASELINE_SERIES_MAX + 24];
    size_t len;
    memset(ev, 0, sizeof(*ev));
    if (fg_baseline_field(f, sizeof(f), series, day) < 0) return;
    const char *v = fg_state_hget(st, key, f, &len);
    if (v) evidence_parse(v, len, ev);
}
