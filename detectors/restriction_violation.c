/*
 * restriction_violation.c - 限性别 / 限年龄 (gender- or age-restricted item
 * billed outside its restriction).
 *
 * Reads claims and the catalogue (dc->kb). Two patterns, per claim line:
 *  - gender: the item is restricted to one gender (gender_only) and the
 *    patient's known gender is the other one (e.g. a PSA test for a woman,
 *    a caesarean section for a man);
 *  - age: the item is restricted to [min_age, max_age] years and the patient's
 *    age at the event date lies outside (e.g. a paediatric drug for an adult).
 * An unknown gender or birth date, or an item not in the catalogue, never fires:
 * the rule reports certainties, not guesses.
 *
 * Stateless: the finding is complete within one claim. Alert id: rule +
 * pattern + patient + "<claim id>\x1f<item code>", so a re-delivered claim
 * gives the same alert with the same content (published once), and several
 * lines of the same item in one claim are one alert whose amount is their sum.
 * Amount at risk: the item's share of the claim's fund-paid amount
 * (item amount x fund_paid / total).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detector.h"

typedef struct {
    bool gender, age;
} rv_cfg_t;

static const fg_conf_decl_t g_conf[] = {
    {"check_gender", FG_CONF_BOOL, "true", 0, 0, 0,
     "Alert when an item the catalogue restricts to one gender (gender_only) is billed for a patient of the "
     "other gender. Patients of unknown gender never fire."},
    {"check_age", FG_CONF_BOOL, "true", 0, 0, 0,
     "Alert when an item the catalogue restricts to an age range (min_age..max_age, whole years, inclusive) "
     "is billed for a patient outside it at the event date. Patients of unknown birth date never fire."},
};

extern const fg_detector_t fg_det_restriction_violation;
#define SELF (&fg_det_restriction_violation)

static int rv_init(const fg_config_t *cf, const char *prefix, void **priv, char *errstr, size_t errstr_size) {
    char k[160];
    rv_cfg_t *c = calloc(1, sizeof(*c));
    if (!c) return fg_err(errstr, errstr_size, FG_ERR, "restriction_violation: out of memory");
    snprintf(k, sizeof(k), "%scheck_gender", prefix);
    c->gender = fg_config_bool(cf, k);
    snprintf(k, sizeof(k), "%scheck_age", prefix);
    c->age = fg_config_bool(cf, k);
    *priv = c;
    return FG_OK;
}

static void rv_destroy(void *priv) { free(priv); }

/* the part of the fund-paid money that pays for amount_fen of a claim totalling total_fen */
static int64_t fund_share(const fg_claim_t *c, int64_t amount_fen) {
    if (c->total_fen <= 0 || c->fund_paid_fen <= 0) return 0;
    if (amount_fen >= c->total_fen) return c->fund_paid_fen;
    return (int64_t)((__int128)amount_fen * c->fund_paid_fen / c->total_fen);
}

static void start_alert(fg_alert_t *a, const fg_event_t *ev, int64_t amount_fen) {
    fg_alert_set(a->institution_id, sizeof(a->institution_id), ev->institution_id);
    fg_alert_set(a->region, sizeof(a->region), ev->region);
    a->window_start = a->window_end = a->event_time = ev->event_time_ms;
    fg_alert_add_event(a, ev->event_id);
    a->amount_at_risk_fen = fund_share(&ev->u.claim, amount_fen);
}

static void rv_on_event(void *priv, const fg_event_t *ev, fg_dctx_t *dc) {
    const rv_cfg_t *cfg = priv;
    if (ev->stream != FG_STREAM_CLAIMS) return;
    const fg_claim_t *c = &ev->u.claim;
    bool age_known = cfg->age && c->birth_date_days != FG_DATE_ABSENT;
    if (!cfg->gender && !age_known) return;
    int age = -2; /* computed once, at the first age-restricted item: most claims have none */

    for (uint32_t i = 0; i < c->n_items; i++) {
        const fg_item_t *x = &c->items[i];
        const fg_kb_item_t *it = fg_kb_item(dc->kb, x->code);
        if (!it) continue;
        bool gender_bad = cfg->gender && it->gender_only != FG_GENDER_UNKNOWN && c->gender != FG_GENDER_UNKNOWN &&
                          c->gender != it->gender_only;
        if (age == -2 && age_known && (it->min_age != FG_KB_NONE || it->max_age != FG_KB_NONE))
            age = fg_kb_age_years(c->birth_date_days, ev->event_time_ms);
        bool young = age >= 0 && it->min_age != FG_KB_NONE && age < it->min_age;
        bool old = age >= 0 && it->max_age != FG_KB_NONE && age > it->max_age;
        if (!gender_bad && !young && !old) continue;
        /* the first line of this code in the claim speaks for all of them */
        bool seen = false;
        for (uint32_t j = 0; j < i && !seen; j++) seen = !strcmp(c->items[j].code, x->code);
        if (seen) continue;
        int64_t amount = 0;
        for (uint32_t j = i; j < c->n_items; j++)
            if (!strcmp(c->items[j].code, x->code)) amount += c->items[j].amount_fen;

        char wkey[2 * FG_ALERT_STR + 2];
        snprintf(wkey, sizeof(wkey), "%s\x1f%s", ev->event_id, x->code);
        if (gender_bad) {
            fg_alert_t *a = fg_dctx_alert(dc, SELF, "gender", "patient", ev->patient_id, wkey);
            start_alert(a, ev, amount);
            a->severity = FG_SEV_HIGH; /* a service for the other sex was not performed: fictitious or mis-coded */
            a->score = 0.9;
            fg_alert_add_figure(a, "patient_gender", (double)c->gender, (double)it->gender_only, "!=");
            fg_alert_add_figure(a, "item_amount_fen", (double)amount, 0.0, ">");
            snprintf(a->summary, sizeof(a->summary),
                     "item %s (%s), restricted to %s patients, billed for a %s patient (%.2f yuan)", it->code, it->name,
                     it->gender_only == FG_GENDER_MALE ? "male" : "female",
                     c->gender == FG_GENDER_MALE ? "male" : "female", (double)amount / 100.0);
        }
        if (young || old) {
            int bound = young ? it->min_age : it->max_age;
            int dist = young ? bound - age : age - bound;
            fg_alert_t *a = fg_dctx_alert(dc, SELF, "age", "patient", ev->patient_id, wkey);
            start_alert(a, ev, amount);
            a->severity = FG_SEV_MEDIUM;
            a->score = 0.5 + 0.5 * (double)dist / (double)(dist + 5); /* further from the range, surer */
            fg_alert_add_figure(a, "age_years", (double)age, (double)bound, young ? "<" : ">");
            fg_alert_add_figure(a, "item_amount_fen", (double)amount, 0.0, ">");
            char range[48];
            if (it->min_age != FG_KB_NONE && it->max_age != FG_KB_NONE)
                snprintf(range, sizeof(range), "ages %d to %d", (int)it->min_age, (int)it->max_age);
            else if (it->min_age != FG_KB_NONE)
                snprintf(range, sizeof(range), "ages %d and over", (int)it->min_age);
            else
                snprintf(range, sizeof(range), "ages up to %d", (int)it->max_age);
            snprintf(a->summary, sizeof(a->summary),
                     "item %s (%s), restricted to %s, billed for a patient aged %d (%.2f yuan)", it->code, it->name,
                     range, age, (double)amount / 100.0);
        }
    }
}

const fg_detector_t fg_det_restriction_violation = {
    .name = "restriction_violation",
    .name_zh = "限性别 / 限年龄",
    .name_en = "gender or age restriction violated",
    .description = "A claim bills an item the catalogue restricts by gender (gender_only) or age (min_age.."
                   "max_age) for a patient of known gender or birth date outside the restriction.",
    .streams = FG_STREAM_BIT(FG_STREAM_CLAIMS),
    .conf = g_conf,
    .n_conf = FG_ARRAY_SIZE(g_conf),
    .init = rv_init,
    .want = NULL,
    .on_event = rv_on_event,
    .destroy = rv_destroy,
};
