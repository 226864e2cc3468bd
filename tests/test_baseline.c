/*
 * test_baseline.c - daily series, trailing EWMA baselines and per-day evidence
 * (state/baseline.h): the pure statistics against hand-computed values, and the
 * Redis-backed buckets against the harness's redis-server.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "state/baseline.h"
#include "support/harness.h"

#define T0 1767225600000LL /* 2026-01-01T00:00:00Z = 08:00 China Standard Time */

/* ---------- calendar ---------- */

Test(baseline, days_follow_the_china_standard_time_calendar) {
    char s[16];
    int64_t d = fg_day_of(T0, FG_CST_OFFSET_MS);
    fg_day_str(d, s, sizeof(s));
    cr_assert_str_eq(s, "2026-01-01");
    /* 15:59:59.999 UTC is 23:59:59.999 the same Beijing day; 16:00 UTC is the next one */
    cr_assert_eq(fg_day_of(T0 + 16 * FG_MS_PER_HOUR - 1, FG_CST_OFFSET_MS), d);
    cr_assert_eq(fg_day_of(T0 + 16 * FG_MS_PER_HOUR, FG_CST_OFFSET_MS), d + 1);
    /* 2025-12-31T15:00Z is 23:00 on 2025-12-31 in Beijing */
    fg_day_str(fg_day_of(T0 - 9 * FG_MS_PER_HOUR, FG_CST_OFFSET_MS), s, sizeof(s));
    cr_assert_str_eq(s, "2025-12-31");
    cr_assert_eq(fg_day_start_ms(d, FG_CST_OFFSET_MS), T0 - 8 * FG_MS_PER_HOUR);
    /* floor, not truncation, before the epoch; leap days */
    cr_assert_eq(fg_day_of(-1, 0), -1);
    fg_day_str(-1, s, sizeof(s));
    cr_assert_str_eq(s, "1969-12-31");
    fg_day_str(fg_day_of(1709164800000LL, 0), s, sizeof(s)); /* 2024-02-29T00:00Z */
    cr_assert_str_eq(s, "2024-02-29");
    cr_assert_eq(fg_day_str(d, s, 8), -1, "does not fit");
}

/* ---------- statistics, by hand ---------- */

Test(baseline, ewma_and_plain_statistics_match_hand_computed_values) {
    fg_baseline_t b;
    /* alpha 0.5 over 10, 20, 30:
     *   seed mean 10, var 0
     *   20: d = 10,  mean 15,   var 0.5 (0 + 0.5 x 100)      = 25
     *   30: d = 15,  mean 22.5, var 0.5 (25 + 0.5 x 225)     = 68.75
     * plain: mean 20, sample std sqrt((100 + 0 + 100) / 2) = 10 */
    double x[] = {10, 20, 30};
    fg_baseline_stats(x, NULL, 3, 0.5, &b);
    cr_assert_eq(b.days, 3);
    cr_assert_float_eq(b.ewma_mean, 22.5, 1e-12);
    cr_assert_float_eq(b.ewma_std, sqrt(68.75), 1e-12);
    cr_assert_float_eq(b.mean, 20.0, 1e-12);
    cr_assert_float_eq(b.std, 10.0, 1e-12);

    /* alpha 0.2 over 100, 110, 90:
     *   110: d = 10,  mean 102,  var 0.8 (0 + 0.2 x 100)   = 16
     *    90: d = -12, mean 99.6, var 0.8 (16 + 0.2 x 144)  = 35.84 */
    double y[] = {100, 110, 90};
    fg_baseline_stats(y, NULL, 3, 0.2, &b);
    cr_assert_float_eq(b.ewma_mean, 99.6, 1e-12);
    cr_assert_float_eq(b.ewma_std, sqrt(35.84), 1e-12);
    cr_assert_float_eq(b.mean, 100.0, 1e-12);
    cr_assert_float_eq(b.std, 10.0, 1e-12);
}

Test(baseline, days_without_data_are_not_observations) {
    fg_baseline_t b;
    double x[] = {10, 999, 20, 0, 30};
    unsigned char has[] = {1, 0, 1, 0, 1};
    fg_baseline_stats(x, has, 5, 0.5, &b);
    cr_assert_eq(b.days, 3);
    cr_assert_float_eq(b.ewma_mean, 22.5, 1e-12);
    cr_assert_float_eq(b.mean, 20.0, 1e-12);

    fg_baseline_stats(x, (unsigned char[]){0, 0, 0, 0, 0}, 5, 0.5, &b);
    cr_assert_eq(b.days, 0);
    cr_assert_float_eq(b.mean + b.std + b.ewma_mean + b.ewma_std, 0.0, 1e-12);

    fg_baseline_stats(x, NULL, 1, 0.2, &b); /* one observation: a mean, no deviation */
    cr_assert_eq(b.days, 1);
    cr_assert_float_eq(b.ewma_mean, 10.0, 1e-12);
    cr_assert_float_eq(b.std, 0.0, 1e-12);
    cr_assert_float_eq(b.ewma_std, 0.0, 1e-12);
}

Test(baseline, the_bar_floors_the_deviation_of_flat_histories) {
    fg_baseline_t b;
    double flat[] = {100, 100, 100, 100};
    fg_baseline_stats(flat, NULL, 4, 0.2, &b);
    double m, s;
    /* std 0: floored at 5 % of the mean -> 100 + 3 x 5 */
    cr_assert_float_eq(fg_baseline_bar(&b, 0.2, 3, 5, 0, &m, &s), 115.0, 1e-9);
    cr_assert_float_eq(s, 5.0, 1e-9);
    /* a count: Poisson floor sqrt(100) = 10 beats 5 % -> 100 + 3 x 10 */
    cr_assert_float_eq(fg_baseline_bar(&b, 0.2, 3, 5, 1, &m, &s), 130.0, 1e-9);
    /* alpha 0 selects the plain statistics */
    double x[] = {10, 20, 30};
    fg_baseline_stats(x, NULL, 3, 0.5, &b);
    cr_assert_float_eq(fg_baseline_bar(&b, 0, 2, 0, 0, &m, &s), 20.0 + 2 * 10.0, 1e-9);
    cr_assert_float_eq(fg_baseline_bar(&b, 0.5, 2, 0, 0, NULL, NULL), 22.5 + 2 * sqrt(68.75), 1e-9);
}

/* ---------- buckets in Redis ---------- */

static fg_state_t *open_store(void) {
    char err[256] = "";
    fg_state_opts_t o = {.host = "127.0.0.1", .port = fg_test_redis_port(), .prefix = fg_test_unique("bl"),
                         .timeout_ms = 2000};
    fg_state_t *st = fg_state_create(&o, err, sizeof(err));
    cr_assert_not_null(st, "create: %s", err);
    return st;
}

/* flush, then a new batch that fetches key (and key2 if not NULL) */
static void cycle2(fg_state_t *st, const char *key, const char *key2) {
    char err[256] = "";
    cr_assert_eq(fg_state_flush(st, err, sizeof(err)), FG_OK, "flush: %s", err);
    fg_state_begin(st);
    fg_state_want(st, key);
    if (key2) fg_state_want(st, key2);
    cr_assert_eq(fg_state_fetch(st, err, sizeof(err)), FG_OK, "fetch: %s", err);
}

static void cycle(fg_state_t *st, const char *key) { cycle2(st, key, NULL); }

Test(baseline, the_day_itself_is_excluded_and_buckets_survive_a_round_trip) {
    fg_state_t *st = open_store();
    char key[128];
    fg_state_key(st, key, sizeof(key), "blt", 'i', "H1");
    fg_state_begin(st);
    fg_state_want(st, key);
    cr_assert_eq(fg_state_fetch(st, NULL, 0), FG_OK);
    int64_t d = 20454;
    /* D-4: 10, D-3: none, D-2: 20, D-1: 15 + 15, D: 1000 (must not count), other series alongside */
    fg_baseline_add(st, key, "n", d - 4, 10);
    fg_baseline_add(st, key, "n", d - 2, 20);
    fg_baseline_add(st, key, "n", d - 1, 15);
    fg_baseline_add(st, key, "n", d - 1, 15);
    fg_baseline_add(st, key, "n", d, 1000);
    fg_baseline_add(st, key, "other", d - 1, 7);
    cycle(st, key);

    int64_t v[4];
    unsigned char has[4];
    cr_assert_eq(fg_baseline_load(st, key, "n", d, 4, v, has), 3);
    cr_assert(has[0] && !has[1] && has[2] && has[3]);
    cr_assert_eq(v[0], 10);
    cr_assert_eq(v[2], 20);
    cr_assert_eq(v[3], 30);

    fg_baseline_t b;
    fg_baseline_series(st, key, "n", d, 4, 0.5, &b);
    /* 10, 20, 30 again: the hand-computed figures above */
    cr_assert_eq(b.days, 3);
    cr_assert_float_eq(b.ewma_mean, 22.5, 1e-12);
    cr_assert_float_eq(b.ewma_std, sqrt(68.75), 1e-12);
    /* a 3-day window sees only D-3..D-1 */
    fg_baseline_series(st, key, "n", d, 3, 0.5, &b);
    cr_assert_eq(b.days, 2);
    cr_assert_float_eq(b.ewma_mean, 25.0, 1e-12);

    int64_t x;
    cr_assert_eq(fg_baseline_get(st, key, "n", d, &x), 1);
    cr_assert_eq(x, 1000);
    cr_assert_eq(fg_baseline_get(st, key, "n", d - 3, &x), 0);
    cr_assert_eq(x, 0);
    fg_state_destroy(st);
}

Test(baseline, prune_drops_old_days_of_every_series_and_keeps_other_fields) {
    fg_state_t *st = open_store();
    char key[128];
    fg_state_key(st, key, sizeof(key), "blp", 'i', "H1");
    fg_state_begin(st);
    fg_state_want(st, key);
    cr_assert_eq(fg_state_fetch(st, NULL, 0), FG_OK);
    for (int64_t d = 100; d < 110; d++) {
        fg_baseline_add(st, key, "a", d, 1);
        fg_baseline_add(st, key, "b", d, 2);
    }
    fg_evidence_add(st, key, "e", 101, 5, "ev-old", 1000, 4);
    fg_evidence_add(st, key, "e", 108, 5, "ev-new", 2000, 4);
    fg_state_hset(st, key, "~max", "123", 3);
    cycle(st, key);
    fg_baseline_prune(st, key, "a", 103);
    cycle(st, key);
    cr_assert_eq(fg_state_hlen(st, key), 7 + 10 + 2 + 1, "a: 103..109, b: all, two evidence, the watermark");
    fg_baseline_prune(st, key, NULL, 105);
    cycle(st, key);
    cr_assert_eq(fg_state_hlen(st, key), 5 * 2 + 1 + 1, "days 105..109 of a and b, one evidence, the watermark");
    int64_t x;
    cr_assert_eq(fg_baseline_get(st, key, "a", 104, &x), 0);
    cr_assert_eq(fg_baseline_get(st, key, "b", 105, &x), 1);
    cr_assert_eq(fg_state_hget_int(st, key, "~max"), 123);
    fg_evidence_t ev;
    fg_evidence_get(st, key, "e", 101, &ev);
    cr_assert_eq(ev.n, 0);
    fg_evidence_get(st, key, "e", 108, &ev);
    cr_assert_eq(ev.n, 1);
    fg_state_destroy(st);
}

/* ---------- evidence ---------- */

static void add_all(fg_state_t *st, const char *key, const int *order, size_t n) {
    static const struct {
        const char *id;
        int64_t rank, t;
    } evs[] = {{"c1", 500, 10}, {"c2", 900, 40}, {"c3", 100, 30}, {"c4", 900, 20}, {"c5", 700, 50}};
    for (size_t i = 0; i < n; i++)
        fg_evidence_add(st, key, "ec", 7, evs[order[i]].rank, evs[order[i]].id, evs[order[i]].t, 3);
}

Test(baseline, evidence_keeps_the_top_k_whatever_the_order_and_redelivery) {
    fg_state_t *st = open_store();
    char k1[128], k2[128];
    fg_state_key(st, k1, sizeof(k1), "ble", 'i', "H1");
    fg_state_key(st, k2, sizeof(k2), "ble", 'i', "H2");
    fg_state_begin(st);
    fg_state_want(st, k1);
    fg_state_want(st, k2);
    cr_assert_eq(fg_state_fetch(st, NULL, 0), FG_OK);
    add_all(st, k1, (int[]){0, 1, 2, 3, 4}, 5);
    add_all(st, k2, (int[]){4, 2, 3, 0, 1, 1, 4, 0}, 8); /* another order, with re-deliveries */
    cycle2(st, k1, k2);
    fg_evidence_t a, b;
    fg_evidence_get(st, k1, "ec", 7, &a);
    fg_evidence_get(st, k2, "ec", 7, &b);
    /* ranks 900 (c2, c4: tie by id), 700 (c5); c1 and c3 dropped; latest time 50 */
    cr_assert_eq(a.n, 3);
    cr_assert_str_eq(a.id[0], "c2");
    cr_assert_str_eq(a.id[1], "c4");
    cr_assert_str_eq(a.id[2], "c5");
    cr_assert_eq(a.rank[2], 700);
    cr_assert_eq(a.max_t, 50);
    cr_assert_eq(b.n, 3);
    for (size_t i = 0; i < 3; i++) cr_assert_str_eq(a.id[i], b.id[i]);
    cr_assert_eq(b.max_t, 50);

    /* re-delivering a kept event writes nothing */
    fg_state_stats_t s0, s1;
    fg_state_stats(st, &s0);
    add_all(st, k1, (int[]){1, 4}, 2);
    char err[64];
    cr_assert_eq(fg_state_flush(st, err, sizeof(err)), FG_OK);
    fg_state_stats(st, &s1);
    cr_assert_eq(s1.round_trips, s0.round_trips, "nothing queued: no round trip");
    fg_state_destroy(st);
}

/*
 * Horizons of an institution key: with 28 baseline days, 7 days of lateness (rounded up from any part of a
 * day) and 30 days of partition skew, a key whose newest event is on day 100 still judges day 100-7-30-1 =
 * 62 (and keeps its 28 baseline days from day 34); without skew allowance it judged from day 92 only.
 */
Test(baseline, horizons_allow_for_lateness_and_partition_skew) {
    fg_horizon_t h;
    fg_baseline_horizon(100, 28, 7 * FG_MS_PER_DAY, 30, &h);
    cr_assert_eq(h.judge_from, 62);
    cr_assert_eq(h.keep_from, 34);
    fg_baseline_horizon(100, 28, 7 * FG_MS_PER_DAY, 0, &h);
    cr_assert_eq(h.judge_from, 92);
    cr_assert_eq(h.keep_from, 64);
    fg_baseline_horizon(100, 28, 6 * FG_MS_PER_DAY + 1, 0, &h); /* part of a day of lateness is a whole day */
    cr_assert_eq(h.judge_from, 92);
    fg_baseline_horizon(100, 3, 0, 0, &h); /* no lateness: the newest day and the one before are judged */
    cr_assert_eq(h.judge_from, 99);
    cr_assert_eq(h.keep_from, 96);
}
