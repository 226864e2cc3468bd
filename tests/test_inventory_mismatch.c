/*
 * test_inventory_mismatch.c - 串换药品 / 进销存不符 against a real redis-server.
 * Each case states a scenario and the exact alert ids it must produce (none for near-misses);
 * every case runs as one batch, event by event, and both again with the other stream's events first:
 * all four must agree. Windows are 30 days aligned to Beijing days since the epoch: days 0..5 lie in
 * [2025-12-08, 2026-01-07) Beijing time, which ends at day 5.667; an invoicing record of the
 * institution at day 6 ("pc") tells the rule the window's supply side is complete.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <string.h>

#include "support/scenario.h"

#define RULE "inventory_mismatch"
#define SUBJECT_TYPE "institution"
#define PHAR FG_VISIT_PHARMACY
#define DRUG FG_ITEM_DRUG
#define BUY FG_INV_PURCHASE
#define RET FG_INV_RETURN
#define COUNT FG_INV_STOCKTAKE
#define S "\x1f"
#define WIN "D1" S "2025-12-08"
#define SALE(e, p, d, q) CL(e, PHAR, p, "R1", "", d, "D1", DRUG, q, 100)
#define CLOSE INV("pc", BUY, "R1", 6, "D1", 10, "")

#include "support/xstream.h"

static case_t g_cases[] = {
    {"insured sales 35 exceed purchases 20 + opening stock 10 (+5%) fire",
     {INV("k1", COUNT, "R1", 0, "D1", 10, ""), INV("p1", BUY, "R1", 1, "D1", 20, ""), CLOSE, SALE("c1", "P1", 2, 15),
      SALE("c2", "P2", 3, 15), SALE("c3", "P3", 4, 5)},
     6, {{"sales_exceed_supply", "R1", WIN, 350}}, 1},
    {"near miss: sales equal to purchases + stock do not fire",
     {INV("k1", COUNT, "R1", 0, "D1", 10, ""), INV("p1", BUY, "R1", 1, "D1", 20, ""), CLOSE, SALE("c1", "P1", 2, 15),
      SALE("c2", "P2", 3, 15)},
     5, NONE},
    {"near miss: sales 31 within 5% of supply 30 do not fire",
     {INV("k1", COUNT, "R1", 0, "D1", 10, ""), INV("p1", BUY, "R1", 1, "D1", 20, ""), CLOSE, SALE("c1", "P1", 2, 15),
      SALE("c2", "P2", 3, 16)},
     5, NONE},
    {"returns to the supplier reduce supply: bought 30, returned 10, sold 25 fires",
     {INV("p1", BUY, "R1", 1, "D1", 30, ""), INV("r1", RET, "R1", 2, "D1", 10, ""), CLOSE, SALE("c1", "P1", 2, 15),
      SALE("c2", "P2", 3, 10)},
     5, {{"sales_exceed_supply", "R1", WIN, 350}}, 1},
    {"another institution's purchases do not count",
     {INV("k1", COUNT, "R1", 0, "D1", 10, ""), INV("p1", BUY, "R2", 1, "D1", 100, ""), CLOSE,
      SALE("c1", "P1", 2, 15), SALE("c2", "P2", 3, 15)},
     5, {{"sales_exceed_supply", "R1", WIN, 1400}}, 1},
    {"near miss: a stocktake before the window is its opening stock (25 + 5 bought, 30 sold)",
     {INV("k0", COUNT, "R1", -30, "D1", 25, ""), INV("p1", BUY, "R1", 1, "D1", 5, ""), CLOSE, SALE("c1", "P1", 2, 15),
      SALE("c2", "P2", 3, 15)},
     5, NONE},
    {"not yet: a window is not judged before the invoicing stream has passed its end",
     {INV("k1", COUNT, "R1", 0, "D1", 10, ""), INV("p1", BUY, "R1", 1, "D1", 20, ""), SALE("c1", "P1", 2, 15),
      SALE("c2", "P2", 3, 15), SALE("c3", "P3", 4, 5)},
     5, NONE},
    {"near miss: a drug the institution never reported in invoicing is not judged",
     {INV("pc", BUY, "R1", 6, "D2", 10, ""), SALE("c1", "P1", 2, 15), SALE("c2", "P2", 3, 15)}, 3, NONE},
};

ParameterizedTestParameters(inventory_mismatch, scenarios) {
    return cr_make_param_array(case_t, g_cases, sizeof(g_cases) / sizeof(g_cases[0]));
}

ParameterizedTest(case_t *c, inventory_mismatch, scenarios) { run_case(c, NULL, 0); }

Test(inventory_mismatch, alert_carries_its_evidence) {
    fg_scn_t s;
    fg_scn_init(&s, NULL, 0);
    fg_event_t evs[6];
    size_t n = build(&g_cases[0], 0, evs);
    fg_scn_run(&s, evs, n);
    cr_assert_eq(rule_alerts(&s), 1);
    const fg_alert_t *a = expect_alert(&s, "sales_exceed_supply", "institution", "R1", WIN);
    cr_assert(a);
    cr_assert_str_eq(a->rule_name_zh, "串换药品 / 进销存不符");
    cr_assert_str_eq(a->institution_id, "R1");
    cr_assert_eq(a->window_start, FG_T0 - 24 * FG_MS_PER_DAY - 8 * FG_MS_PER_HOUR);
    cr_assert_eq(a->window_end, a->window_start + 30 * FG_MS_PER_DAY);
    cr_assert_eq(a->n_event_ids, 2);
    cr_assert_str_eq(a->event_ids[0], "k1");
    cr_assert_str_eq(a->event_ids[1], "p1");
    cr_assert_str_eq(a->figures[0].name, "insured_sales_qty");
    cr_assert_float_eq(a->figures[0].value, 35.0, 1e-9);
    cr_assert_float_eq(a->figures[0].threshold, 31.5, 1e-9);
    cr_assert_str_eq(a->figures[1].name, "purchased_qty");
    cr_assert_float_eq(a->figures[1].value, 20.0, 1e-9);
    cr_assert_str_eq(a->figures[3].name, "opening_stock_qty");
    cr_assert_float_eq(a->figures[3].value, 10.0, 1e-9);
    cr_assert_str_eq(a->figures[4].name, "excess_qty");
    cr_assert_float_eq(a->figures[4].value, 5.0, 1e-9);
    fg_scn_fini(&s);
}

Test(inventory_mismatch, redelivered_claims_are_not_counted_twice) {
    fg_scn_t s;
    fg_scn_init(&s, NULL, 0);
    fg_event_t evs[6];
    size_t n = build(&g_cases[1], 0, evs); /* sales exactly equal to supply */
    fg_scn_run(&s, evs, n);
    fg_scn_run(&s, evs, n);     /* the whole batch again */
    fg_scn_run_each(&s, evs, n); /* and event by event */
    cr_assert_eq(rule_alerts(&s), 0, "re-delivered sales must not add up to 60 > 30");
    fg_scn_fini(&s);
}

Test(inventory_mismatch, redelivered_batch_publishes_nothing_new) {
    fg_scn_t s;
    fg_scn_init(&s, NULL, 0);
    fg_event_t evs[6];
    size_t n = build(&g_cases[0], 0, evs);
    fg_scn_run(&s, evs, n);
    cr_assert_eq(rule_publications(&s), 1);
    fg_scn_run(&s, evs, n);
    fg_scn_run_each(&s, evs, n);
    cr_assert_eq(rule_publications(&s), 1);
    fg_scn_fini(&s);
}

Test(inventory_mismatch, a_late_sale_updates_the_same_alert) {
    fg_scn_t s;
    fg_scn_init(&s, NULL, 0);
    fg_event_t evs[6];
    size_t n = build(&g_cases[0], 0, evs);
    fg_scn_run(&s, evs, n);
    fg_titem_t it[] = {{"D1", FG_ITEM_DRUG, 5, 100, FG_DAYS_ABSENT, NULL}};
    fg_event_t more = fg_ev_claim("c4", "P4", "R1", FG_INST_PHARMACY, PHAR, 4.5, it, 1);
    fg_scn_run(&s, &more, 1);
    cr_assert_eq(rule_alerts(&s), 1);
    const fg_alert_t *a = expect_alert(&s, "sales_exceed_supply", "institution", "R1", WIN);
    cr_assert_float_eq(a->figures[0].value, 40.0, 1e-9);
    cr_assert_eq(a->amount_at_risk_fen, 700);
    fg_scn_fini(&s);
}

Test(inventory_mismatch, thresholds_come_from_config) {
    const char *o[] = {"detectors.inventory_mismatch.tolerance_pct=20"};
    case_t c = g_cases[0];
    c.n_expect = 0; /* 35 <= 30 x 1.2 */
    run_case(&c, o, 1);
    const char *o2[] = {"detectors.inventory_mismatch.tolerance_pct=0"};
    case_t d = g_cases[2]; /* 31 > 30 without the 5% */
    d.n_expect = 1;
    d.expect[0] = (expect_t){"sales_exceed_supply", "R1", WIN, 70};
    run_case(&d, o2, 1);
}

/*
 * A full re-read (a new consumer group re-processing everything into the same Redis) must publish
 * nothing new: lateness is judged at first sight and stored (lines keep a flag, late sales a per-day
 * count), so the old events, now far behind the watermark, do not change late_events. Window
 * [2026-01-07, 2026-02-06) = days 5.667..35.667: purchase of 10 on day 8, sale of 20 on day 10, and a
 * purchase on day 36 that completes the window; in order, and with the invoicing stream first (then
 * the sale arrives 26 days behind the watermark: late).
 */
static void reread_case(int later_first, int each) {
    fg_scn_t s;
    fg_scn_init(&s, NULL, 0);
    fg_titem_t buy[] = {{"D1", FG_ITEM_DRUG, 10, 100, FG_DAYS_ABSENT, NULL}};
    fg_titem_t sale[] = {{"D1", FG_ITEM_DRUG, 20, 100, FG_DAYS_ABSENT, NULL}};
    fg_event_t p8 = fg_ev_invoicing("rp8", "R1", FG_INV_PURCHASE, 8, buy, 1);
    fg_event_t c10 = fg_ev_claim("rc10", "P6", "R1", FG_INST_PHARMACY, PHAR, 10, sale, 1);
    fg_event_t p36 = fg_ev_invoicing("rp36", "R1", FG_INV_PURCHASE, 36, buy, 1);
    fg_event_t orders[2][3] = {{p8, c10, p36}, {p8, p36, c10}};
    fg_event_t *evs = orders[later_first];
    if (each)
        fg_scn_run_each(&s, evs, 3);
    else
        fg_scn_run(&s, evs, 3);
    int pubs = rule_publications(&s);
    cr_assert_eq(rule_alerts(&s), 1);
    const fg_alert_t *a = expect_alert(&s, "sales_exceed_supply", "institution", "R1", "D1" S "2026-01-07");
    cr_assert(a);
    cr_assert_float_eq(a->figures[0].value, 20.0, 1e-9);
    cr_assert_float_eq(a->figures[4].value, 10.0, 1e-9);
    cr_assert_eq(a->late_events, later_first, "late_events %d", a->late_events);
    fg_scn_run(&s, evs, 3); /* the re-read, as one batch */
    cr_assert_eq(s.last_run_count, 0, "the re-read published %zu alert(s)", s.last_run_count);
    fg_scn_run_each(&s, orders[0], 3); /* and again event by event, in event-time order */
    cr_assert_eq(rule_publications(&s), pubs, "a re-read published %d time(s) more", rule_publications(&s) - pubs);
    a = expect_alert(&s, "sales_exceed_supply", "institution", "R1", "D1" S "2026-01-07");
    cr_assert_eq(a->late_events, later_first);
    cr_assert_float_eq(a->figures[0].value, 20.0, 1e-9, "re-read sales are not counted twice");
    fg_scn_fini(&s);
}

Test(inventory_mismatch, reread_publishes_nothing_new) {
    reread_case(0, 0);
    reread_case(0, 1);
    reread_case(1, 0);
    reread_case(1, 1);
}
