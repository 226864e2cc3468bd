/*
 * gen_cases.c - injected fraud cases and their ground truth.
 *
 * Each case is planned up front (pattern, first day, anchor day, institution: a few
 * bytes each), and built on its first day: its events, possibly spanning later days,
 * go to the pending queue, its truth line(s) to the sink. Cases use persons of their
 * own (fresh ids in the same format as the background's), so a case can only set off
 * the rule it was built for; what triggers each pattern follows the detectors at
 * default thresholds (see tests/support/mixed.c for the same knowledge as a fixed
 * scenario). Baseline patterns (institution_daily, cost_per_visit, length_of_stay,
 * admissions, usage_spike) bring the history they need and keep the visit cost of
 * their institution ordinary, so they fire exactly one indicator.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen_internal.h"

#define C_CONSULT "110200001"
#define C_PSA "250403027"
#define C_MRI "210400001"
#define C_DONEPEZIL "XN06DAD048A001010103451"
#define C_ENALAPRIL "XC09AAE056A001010103827"
#define C_VITD "XA11CCV031E001010100765"
#define C_TONIC "ZB02AAH0001010101888" /* a ginseng tonic, not in the sample catalogue */
#define C_SURGERY "331001001"          /* a day-surgery procedure, not in the sample catalogue */
#define D_ATORVA 0
#define D_PARACET 12
#define D_LORATADINE 13
#define D_VITC 14
#define D_BANLANGEN 15

typedef struct {
    uint64_t idx;
    uint8_t region, gender;
    int16_t birth;
    char id[24], card[24];
} cp_t;

static void person(gen_t *g, gen_rng_t *r, cp_t *c, uint8_t region, int min_age, int max_age, int gender) {
    memset(c, 0, sizeof(*c));
    c->idx = gen_case_person(g);
    c->region = region;
    c->gender = (uint8_t)(gender ? gender : gen_below(r, 2) ? FG_GENDER_FEMALE : FG_GENDER_MALE);
    int age = min_age + (int)gen_below(r, (uint32_t)(max_age - min_age + 1));
    c->birth = (int16_t)(g->p.start_day - age * 365 - 2 - (int)gen_below(r, 360));
    gen_person_id(g, c->idx, region, c->id, sizeof(c->id));
    gen_card_id(g, c->idx, region, c->card, sizeof(c->card));
}

static int64_t at(gen_t *g, gen_rng_t *r, int d, double hour) {
    return gen_day_ms(g, d) + (int64_t)(hour * 3600000.0) + (int64_t)gen_below(r, 1800) * 1000LL;
}

static int day_in(gen_rng_t *r, int lo, int hi) {
    return hi <= lo ? lo : lo + (int)gen_below(r, (uint32_t)(hi - lo + 1));
}

static const char *claim_push(gen_t *g, gen_b_t *b, gen_evset_t *s) {
    int64_t t = b->ev.event_time_ms;
    const char *id = gen_push(g, b);
    if (s)
        gen_evset_add(s, id, t);
    return id;
}

/* an outpatient claim with a consultation at a hospital or primary-care institution */
static void consult(gen_t *g, gen_rng_t *r, gen_b_t *b, int64_t t, uint32_t inst, const cp_t *c) {
    gen_b_claim(g, b, t, inst, c->id, c->card, c->gender, c->birth, FG_VISIT_OUTPATIENT);
    gen_doctor_id(g, inst, r, b->doctor, sizeof(b->doctor));
    b->ev.u.claim.doctor_id = b->doctor;
    gen_item(b, C_CONSULT, FG_ITEM_SERVICE, 1, 1000, FG_DAYS_ABSENT, NULL);
}

static uint32_t hosp_rr(gen_t *g, const gen_case_t *cs) {
    return g->hosp0 + (uint32_t)((cs->k + cs->pat) % (int)g->n_hosp);
}

static const gen_stay_opts_t STAY_PLAIN = {
    .claims = 0, .bed_only_from = -1, .bed_only_to = -1, .absent_day1 = -1, .absent_day2 = -1, .discharge = 1};

/* ---- planning ---- */

static int cmp_case(const void *x, const void *y) {
    const gen_case_t *a = x, *b = y;
    if (a->start != b->start)
        return a->start < b->start ? -1 : 1;
    if (a->pat != b->pat)
        return a->pat < b->pat ? -1 : 1;
    return a->k < b->k ? -1 : a->k > b->k;
}

/* the last 30-day inventory window (aligned on Beijing day 0) that ends inside the run with a day to spare */
static int inv_window(const gen_t *g, int *ws_rel) {
    int64_t first = g->p.start_day, last = g->p.start_day + g->days - 1;
    int64_t we = (last - 1) / 30 * 30; /* window end = a multiple of 30, <= last - 1 */
    if (we <= first)
        return -1;
    *ws_rel = (int)(we - 30 - first);
    return 0;
}

int gen_cases_plan(gen_t *g) {
    size_t total = 0;
    size_t n_of[FG_GP_COUNT];
    for (int p = 0; p < FG_GP_COUNT; p++) {
        double r = g->p.rates[p];
        size_t n = r > 0 ? (size_t)(r * (double)g->p.target_events / 10000.0 + 0.5) : 0;
        if (r > 0 && !n)
            n = 1;
        if (p >= FG_GP_BL_INSTITUTION) { /* one case per listed subject per day at most */
            int lists = p == FG_GP_BL_INSTITUTION ? g->n_bl_inst : p == FG_GP_BL_DOCTOR ? g->n_bl_doc : g->n_bl_pers;
            if (n > (size_t)lists * (size_t)g->days)
                n = (size_t)lists * (size_t)g->days;
        }
        n_of[p] = n;
        total += n;
    }
    g->cases = calloc(total ? total : 1, sizeof(*g->cases));
    if (!g->cases)
        return -1;
    uint8_t *used = calloc((size_t)8 * 3 * (size_t)g->days, 1); /* blacklist subject x day */
    if (!used)
        return -1;
    int D = g->days;
    for (int p = 0; p < FG_GP_COUNT; p++)
        for (size_t k = 0; k < n_of[p]; k++) {
            gen_case_t *cs = &g->cases[g->n_cases];
            cs->pat = (uint8_t)p;
            cs->k = (int32_t)k;
            cs->seed = gen_rand(&g->rng);
            gen_rng_t r;
            gen_rng_seed(&r, cs->seed, 7);
            int a = 0, s = 0;
            switch (p) {
            case FG_GP_SPLIT_STAY:
                a = s = day_in(&r, 0, D - 14);
                break;
            case FG_GP_FREQUENT_ADMISSION:
                a = s = day_in(&r, 0, g->n_hosp >= 3 ? D - 12 : D - 25);
                break;
            case FG_GP_ABSENT_CHECKS:
            case FG_GP_CLAIM_IN_STAY:
            case FG_GP_DUP_STAY:
                a = s = day_in(&r, 0, D - 6);
                break;
            case FG_GP_BED_ONLY_DAYS:
            case FG_GP_PATIENT_SUPPLY:
                a = s = day_in(&r, 0, D - 7);
                break;
            case FG_GP_INSTITUTION_DAILY:
            case FG_GP_USAGE_SPIKE:
                a = day_in(&r, 10, D - 1);
                s = a - 9;
                break;
            case FG_GP_COST_PER_VISIT:
            case FG_GP_ADMISSIONS:
                a = s = day_in(&r, 10, D - 1);
                break;
            case FG_GP_LENGTH_OF_STAY:
                a = day_in(&r, 21, D - 1);
                s = a - 20;
                break;
            case FG_GP_SALES_EXCEED_SUPPLY: {
                int ws;
                if (inv_window(g, &ws))
                    continue; /* no whole window ends inside the run */
                int lo = ws < 0 ? 0 : ws;
                a = ws; /* anchor: window start (relative, may be negative) */
                s = lo;
                break;
            }
            case FG_GP_TRACE_REUSE:
            case FG_GP_TRACE_REFLUX:
                a = s = day_in(&r, 0, D - 4);
                break;
            case FG_GP_BL_INSTITUTION:
            case FG_GP_BL_DOCTOR:
            case FG_GP_BL_PERSON: {
                int lists = p == FG_GP_BL_INSTITUTION ? g->n_bl_inst
                            : p == FG_GP_BL_DOCTOR    ? g->n_bl_doc
                                                      : g->n_bl_pers;
                if (!lists)
                    continue;
                int subj = (int)(k % (size_t)lists), kind = p - FG_GP_BL_INSTITUTION;
                int d0 = day_in(&r, 0, D - 1);
                for (int j = 0; j < D; j++) {
                    int d = (d0 + j) % D;
                    uint8_t *u = &used[((size_t)kind * 8 + (size_t)subj) * (size_t)D + (size_t)d];
                    if (!*u) {
                        *u = 1;
                        a = s = d;
                        break;
                    }
                }
                cs->inst = subj;
                break;
            }
            default:
                a = s = day_in(&r, 0, D - 2);
                break;
            }
            cs->anchor = (int16_t)a;
            cs->start = (int16_t)s;
            g->n_cases++;
        }
    free(used);
    qsort(g->cases, g->n_cases, sizeof(*g->cases), cmp_case);
    return 0;
}

/* ---- building ---- */

static void build(gen_t *g, const gen_case_t *cs) {
    gen_rng_t rr, *r = &rr;
    gen_rng_seed(r, cs->seed, 8);
    char cid[16];
    snprintf(cid, sizeof(cid), "c-%06llu", (unsigned long long)++g->n_case_ids);
    fg_gen_pattern_t pat = (fg_gen_pattern_t)cs->pat;
    g->st.cases[pat]++;
    gen_evset_t ev;
    memset(&ev, 0, sizeof(ev));
    gen_b_t b;
    cp_t c;
    int a = cs->anchor;
    uint32_t h = hosp_rr(g, cs);
    uint8_t hr = g->inst[h].region;
    switch (pat) {
    case FG_GP_SPLIT_STAY: {
        person(g, r, &c, hr, 30, 80, 0);
        gen_stay_out_t s1, s2;
        int los1 = 2 + (int)gen_below(r, 3);
        gen_stay(g, r, h, c.id, c.card, c.gender, c.birth, at(g, r, a, 10), los1, &STAY_PLAIN, &s1);
        int d2 = a + los1 + 3 + (int)gen_below(r, 6);
        gen_stay(g, r, h, c.id, c.card, c.gender, c.birth, at(g, r, d2, 10), 2 + (int)gen_below(r, 3), &STAY_PLAIN,
                 &s2);
        gen_evset_add(&ev, s1.discharge_id, s1.discharge_ms);
        gen_evset_add(&ev, s2.admit_id, s2.admit_ms);
        gen_truth(g, cid, pat, 0, "patient", c.id, g->inst[h].id, &ev);
        break;
    }
    case FG_GP_FREQUENT_ADMISSION: {
        person(g, r, &c, hr, 30, 80, 0);
        int three = g->n_hosp >= 3;
        int days[3] = {a, a + 4, three ? a + 8 : a + 21};
        for (int i = 0; i < 3; i++) {
            uint32_t hi = three ? g->hosp0 + (h - g->hosp0 + (uint32_t)i) % g->n_hosp
                                : g->hosp0 + (h - g->hosp0 + (uint32_t)(i == 1)) % g->n_hosp;
            gen_stay_out_t so;
            gen_stay(g, r, hi, c.id, c.card, c.gender, c.birth, at(g, r, days[i], 10), 2, &STAY_PLAIN, &so);
            gen_evset_add(&ev, so.admit_id, so.admit_ms);
        }
        gen_truth(g, cid, pat, 0, "patient", c.id, g->inst[h].id, &ev);
        break;
    }
    case FG_GP_ABSENT_CHECKS:
    case FG_GP_BED_ONLY_DAYS:
    case FG_GP_DUP_STAY: {
        person(g, r, &c, hr, pat == FG_GP_DUP_STAY ? 66 : 30, 85, 0);
        gen_stay_opts_t o = STAY_PLAIN;
        o.claims = 1;
        int los = 4;
        if (pat == FG_GP_ABSENT_CHECKS)
            o.absent_day1 = 2, o.absent_day2 = 3;
        if (pat == FG_GP_BED_ONLY_DAYS)
            o.bed_only_from = 1, o.bed_only_to = 4, los = 5;
        if (pat == FG_GP_DUP_STAY)
            o.geriatric_days = (1 << 1) | (1 << 2), los = 3;
        gen_stay_out_t so;
        gen_stay(g, r, h, c.id, c.card, c.gender, c.birth, at(g, r, a, 10), los, &o, &so);
        if (pat == FG_GP_ABSENT_CHECKS)
            for (int i = 0; i < so.n_checks; i++)
                if (i == 1 || i == 2)
                    gen_evset_add(&ev, so.check_ids[i], so.check_ms[i]); /* stay days 2, 3 */
        if (pat == FG_GP_BED_ONLY_DAYS)
            for (int i = 1; i < 4 && i < so.n_claims; i++)
                gen_evset_add(&ev, so.claim_ids[i], so.claim_ms[i]);
        if (pat == FG_GP_DUP_STAY)
            for (int i = 1; i < 3 && i < so.n_claims; i++)
                gen_evset_add(&ev, so.claim_ids[i], so.claim_ms[i]);
        gen_truth(g, cid, pat, 0, "patient", c.id, g->inst[h].id, &ev);
        break;
    }
    case FG_GP_CLAIM_IN_STAY: {
        person(g, r, &c, hr, 30, 80, 0);
        gen_stay_out_t so;
        gen_stay(g, r, h, c.id, c.card, c.gender, c.birth, at(g, r, a, 9), 4, &STAY_PLAIN, &so);
        uint32_t pc = gen_pick_inst(g, r, FG_INST_PRIMARY, hr);
        consult(g, r, &b, at(g, r, a + 2, 15), pc, &c);
        claim_push(g, &b, &ev);
        gen_truth(g, cid, pat, 0, "patient", c.id, g->inst[pc].id, &ev);
        break;
    }
    case FG_GP_PATIENT_SUPPLY: {
        person(g, r, &c, hr, 45, 75, 0);
        for (int i = 0; i < 2; i++) {
            consult(g, r, &b, at(g, r, a + 5 * i, 10), h, &c);
            gen_item_drug(&b, D_ATORVA, 28);
            gen_new_rx(g, &b);
            claim_push(g, &b, &ev);
        }
        gen_truth(g, cid, pat, 0, "patient", c.id, g->inst[h].id, &ev);
        break;
    }
    case FG_GP_INSTITUTION_DAILY: {
        char code[32];
        if (cs->k < (int)g->n_hosp)
            snprintf(code, sizeof(code), "%s", C_ENALAPRIL);
        else
            snprintf(code, sizeof(code), "XC09AAE056A%012d", cs->k); /* one drug per case: baselines stay apart */
        for (int d = a - 9; d <= a; d++) {
            int n = d < a ? 2 : 10;
            for (int i = 0; i < n; i++) {
                person(g, r, &c, hr, 45, 80, 0);
                consult(g, r, &b, at(g, r, d, 8.5 + 0.8 * i), h, &c);
                gen_item(&b, code, FG_ITEM_DRUG, 28, 80, 28, NULL);
                gen_new_rx(g, &b);
                claim_push(g, &b, d == a ? &ev : NULL);
            }
        }
        gen_truth(g, cid, pat, 0, "institution", g->inst[h].id, g->inst[h].id, &ev);
        break;
    }
    case FG_GP_USAGE_SPIKE: {
        /* at an imaging centre of its own (fewer than institution_indicators' 20 visits a day, so the
         * expensive scans set off no cost-per-visit alert besides the usage spike) */
        char centre[24], doctor[24];
        snprintf(centre, sizeof(centre), "H%s8%04d", g->regions[hr], cs->k % 10000);
        snprintf(doctor, sizeof(doctor), "D%s8%05d", g->regions[hr], cs->k % 100000);
        for (int d = a - 9; d <= a; d++) {
            int n = d < a ? 2 : 14;
            for (int i = 0; i < n; i++) {
                person(g, r, &c, hr, 30, 80, 0);
                gen_b_claim_ext(g, &b, at(g, r, d, 8.5 + 0.6 * i), centre, FG_INST_HOSPITAL, g->regions[hr], c.id,
                                c.card, c.gender, c.birth, FG_VISIT_OUTPATIENT);
                snprintf(b.doctor, sizeof(b.doctor), "%s", doctor);
                b.ev.u.claim.doctor_id = b.doctor;
                gen_item(&b, C_MRI, FG_ITEM_EXAM, 1, 45000, FG_DAYS_ABSENT, NULL);
                claim_push(g, &b, d == a ? &ev : NULL);
            }
        }
        gen_truth(g, cid, pat, 0, "institution", centre, centre, &ev);
        break;
    }
    case FG_GP_COST_PER_VISIT:
        for (int i = 0; i < 25; i++) {
            person(g, r, &c, hr, 30, 80, 0);
            consult(g, r, &b, at(g, r, a, 8 + 0.35 * i), h, &c);
            gen_item(&b, C_SURGERY, FG_ITEM_SERVICE, 1, 150000, FG_DAYS_ABSENT, NULL);
            claim_push(g, &b, &ev);
        }
        gen_truth(g, cid, pat, 0, "institution", g->inst[h].id, g->inst[h].id, &ev);
        break;
    case FG_GP_LENGTH_OF_STAY:
        /* a discharge a day before (the baseline), then six long stays discharged on the anchor day */
        for (int i = 0; i < 8; i++) {
            person(g, r, &c, hr, 30, 80, 0);
            gen_stay_out_t so;
            gen_stay(g, r, h, c.id, c.card, c.gender, c.birth, at(g, r, a - 10 + i, 10), 2, &STAY_PLAIN, &so);
        }
        for (int i = 0; i < 6; i++) {
            person(g, r, &c, hr, 30, 80, 0);
            gen_stay_out_t so;
            gen_stay(g, r, h, c.id, c.card, c.gender, c.birth, at(g, r, a - 15 - i, 10), 15 + i, &STAY_PLAIN, &so);
            gen_evset_add(&ev, so.discharge_id, so.discharge_ms);
        }
        gen_truth(g, cid, pat, 0, "institution", g->inst[h].id, g->inst[h].id, &ev);
        break;
    case FG_GP_ADMISSIONS: {
        int n = 12 + 3 * (int)(g->inst[h].admits + 0.999);
        for (int i = 0; i < n; i++) {
            person(g, r, &c, hr, 30, 80, 0);
            gen_stay_out_t so;
            gen_stay(g, r, h, c.id, c.card, c.gender, c.birth, at(g, r, a, 8 + 12.0 * i / n), 2 + (int)gen_below(r, 5),
                     &STAY_PLAIN, &so);
            gen_evset_add(&ev, so.admit_id, so.admit_ms);
        }
        gen_truth(g, cid, pat, 0, "institution", g->inst[h].id, g->inst[h].id, &ev);
        break;
    }
    case FG_GP_SALES_EXCEED_SUPPLY: {
        uint32_t ph = g->phar0 + (uint32_t)(cs->k % (int)g->n_phar);
        int lo = cs->start, hi = a + 29; /* sales inside the window, within the run */
        gen_b_inv(g, &b, at(g, r, lo, 7), ph, FG_INV_PURCHASE);
        gen_item(&b, C_VITD, FG_ITEM_DRUG, 10, 70, FG_DAYS_ABSENT, NULL);
        claim_push(g, &b, &ev);
        for (int i = 0; i < 3; i++) {
            person(g, r, &c, g->inst[ph].region, 20, 80, 0);
            gen_b_claim(g, &b, at(g, r, day_in(r, lo, hi), 12 + i), ph, c.id, c.card, c.gender, c.birth,
                        FG_VISIT_PHARMACY);
            gen_item(&b, C_VITD, FG_ITEM_DRUG, 10, 100, 10, NULL);
            claim_push(g, &b, &ev);
        }
        /* the next window's first purchase tells the rule that the window's supply side is complete */
        gen_b_inv(g, &b, at(g, r, a + 30, 8), ph, FG_INV_PURCHASE);
        gen_item(&b, C_VITD, FG_ITEM_DRUG, 50, 70, FG_DAYS_ABSENT, NULL);
        gen_push(g, &b);
        gen_truth(g, cid, pat, 0, "institution", g->inst[ph].id, g->inst[ph].id, &ev);
        break;
    }
    case FG_GP_TRACE_REUSE:
    case FG_GP_TRACE_REFLUX: {
        char code[24];
        snprintf(code, sizeof(code), "89%018llu", (unsigned long long)++g->n_case_code);
        uint8_t reg = (uint8_t)gen_below(r, (uint32_t)g->nr);
        uint32_t pa = gen_pick_inst(g, r, FG_INST_PHARMACY, reg), pb = pa;
        for (int i = 0; i < 8 && pb == pa; i++)
            pb = gen_pick_inst(g, r, FG_INST_PHARMACY, reg);
        if (pb == pa)
            pb = g->phar0 + (pa - g->phar0 + 1) % g->n_phar;
        person(g, r, &c, reg, 20, 80, 0);
        gen_b_claim(g, &b, at(g, r, a, 10), pa, c.id, c.card, c.gender, c.birth, FG_VISIT_PHARMACY);
        gen_item(&b, gen_drugs[D_LORATADINE].code, FG_ITEM_DRUG, 7, gen_drugs[D_LORATADINE].price, 7, code);
        claim_push(g, &b, &ev);
        int d2 = a + 1 + (int)gen_below(r, 3);
        if (pat == FG_GP_TRACE_REUSE) {
            person(g, r, &c, reg, 20, 80, 0);
            gen_b_claim(g, &b, at(g, r, d2, 15), pb, c.id, c.card, c.gender, c.birth, FG_VISIT_PHARMACY);
            gen_item(&b, gen_drugs[D_LORATADINE].code, FG_ITEM_DRUG, 7, gen_drugs[D_LORATADINE].price, 7, code);
        } else {
            gen_b_inv(g, &b, at(g, r, d2, 9), pb, FG_INV_PURCHASE);
            gen_item(&b, gen_drugs[D_LORATADINE].code, FG_ITEM_DRUG, 7, 140, FG_DAYS_ABSENT, code);
        }
        claim_push(g, &b, &ev);
        gen_truth(g, cid, pat, 0, "trace_code", code, g->inst[pa].id, &ev);
        break;
    }
    case FG_GP_NO_PRESCRIPTION:
    case FG_GP_UNREGISTERED_BUYER: {
        uint32_t ph = gen_pick_inst(g, r, FG_INST_PHARMACY, -1);
        person(g, r, &c, g->inst[ph].region, 45, 75, 0);
        gen_b_claim(g, &b, at(g, r, a, 10 + 8 * gen_unif(r)), ph, c.id, c.card, c.gender, c.birth, FG_VISIT_PHARMACY);
        if (pat == FG_GP_NO_PRESCRIPTION) {
            gen_item_drug(&b, D_ATORVA, 28); /* prescription-only, sold with no prescription id */
        } else {
            gen_item(&b, C_TONIC, FG_ITEM_DRUG, 10, 26000, 10, NULL);
            b.ev.u.claim.buyer_registered = false;
        }
        claim_push(g, &b, &ev);
        gen_truth(g, cid, pat, 0, "institution", g->inst[ph].id, g->inst[ph].id, &ev);
        break;
    }
    case FG_GP_DUP_DAILY:
        person(g, r, &c, hr, 20, 80, 0);
        for (int i = 0; i < 2; i++) {
            consult(g, r, &b, at(g, r, a, 9 + 5 * i), h, &c);
            claim_push(g, &b, &ev);
        }
        gen_truth(g, cid, pat, 0, "patient", c.id, g->inst[h].id, &ev);
        break;
    case FG_GP_GENDER:
    case FG_GP_AGE:
        if (pat == FG_GP_GENDER)
            person(g, r, &c, hr, 30, 60, FG_GENDER_FEMALE);
        else
            person(g, r, &c, hr, 20, 35, 0);
        consult(g, r, &b, at(g, r, a, 10), h, &c);
        if (pat == FG_GP_GENDER) {
            gen_item(&b, C_PSA, FG_ITEM_EXAM, 1, 5000, FG_DAYS_ABSENT, NULL);
        } else {
            gen_item(&b, C_DONEPEZIL, FG_ITEM_DRUG, 28, 300, 28, NULL);
            gen_new_rx(g, &b);
        }
        claim_push(g, &b, &ev);
        gen_truth(g, cid, pat, 0, "patient", c.id, g->inst[h].id, &ev);
        break;
    case FG_GP_TWO_REGIONS: {
        uint8_t r2 = (uint8_t)((hr + 1 + gen_below(r, (uint32_t)g->nr - 1)) % (uint32_t)g->nr);
        person(g, r, &c, hr, 20, 80, 0);
        int64_t t1 = at(g, r, a, 9);
        consult(g, r, &b, t1, h, &c);
        claim_push(g, &b, &ev);
        uint32_t ph = gen_pick_inst(g, r, FG_INST_PHARMACY, r2);
        gen_b_claim(g, &b, t1 + (40 + (int64_t)gen_below(r, 60)) * 60000LL, ph, c.id, c.card, c.gender, c.birth,
                    FG_VISIT_PHARMACY);
        gen_item_drug(&b, D_VITC, gen_drugs[D_VITC].qty);
        claim_push(g, &b, &ev);
        gen_truth(g, cid, pat, 0, "card", c.card, g->inst[h].id, &ev);
        break;
    }
    case FG_GP_PHARMACY_HOPPING: {
        uint8_t reg = (uint8_t)gen_below(r, (uint32_t)g->nr);
        person(g, r, &c, reg, 20, 80, 0);
        uint32_t used[4];
        static const int otc[4] = {D_PARACET, D_LORATADINE, D_VITC, D_BANLANGEN};
        for (int i = 0; i < 4; i++) {
            uint32_t ph = 0;
            for (int tries = 0; tries < 32; tries++) {
                ph = gen_pick_inst(g, r, FG_INST_PHARMACY, tries < 16 ? reg : -1);
                int dup = 0;
                for (int j = 0; j < i; j++)
                    dup |= used[j] == ph;
                if (!dup)
                    break;
            }
            used[i] = ph;
            gen_b_claim(g, &b, at(g, r, a, 9 + 3 * i), ph, c.id, c.card, c.gender, c.birth, FG_VISIT_PHARMACY);
            gen_item_drug(&b, otc[i], gen_drugs[otc[i]].qty);
            claim_push(g, &b, &ev);
        }
        gen_truth(g, cid, pat, 0, "card", c.card, g->inst[used[0]].id, &ev);
        break;
    }
    case FG_GP_BL_INSTITUTION: {
        const char *id = g->bl_inst[cs->inst];
        char reg[8] = "140100";
        if (strlen(id) >= 7)
            snprintf(reg, sizeof(reg), "%.6s", id + 1);
        fg_inst_type_t type = id[0] == 'H' ? FG_INST_HOSPITAL : FG_INST_PHARMACY;
        for (int i = 0; i < 2; i++) {
            person(g, r, &c, 0, 20, 80, 0);
            gen_b_claim_ext(g, &b, at(g, r, a, 9 + 4 * i), id, type, reg, c.id, c.card, c.gender, c.birth,
                            type == FG_INST_HOSPITAL ? FG_VISIT_OUTPATIENT : FG_VISIT_PHARMACY);
            if (type == FG_INST_HOSPITAL)
                gen_item(&b, C_CONSULT, FG_ITEM_SERVICE, 1, 1000, FG_DAYS_ABSENT, NULL);
            else
                gen_item_drug(&b, D_PARACET, gen_drugs[D_PARACET].qty);
            claim_push(g, &b, &ev);
        }
        gen_truth(g, cid, pat, 0, "institution", id, id, &ev);
        break;
    }
    case FG_GP_BL_DOCTOR:
        person(g, r, &c, hr, 20, 80, 0);
        consult(g, r, &b, at(g, r, a, 10), h, &c);
        snprintf(b.doctor, sizeof(b.doctor), "%s", g->bl_doc[cs->inst]);
        claim_push(g, &b, &ev);
        gen_truth(g, cid, pat, 0, "doctor", g->bl_doc[cs->inst], g->inst[h].id, &ev);
        break;
    case FG_GP_BL_PERSON: {
        const char *pid = g->bl_pers[cs->inst];
        gen_b_claim(g, &b, at(g, r, a, 10), h, pid, NULL, FG_GENDER_UNKNOWN, FG_DATE_ABSENT, FG_VISIT_OUTPATIENT);
        gen_item(&b, C_CONSULT, FG_ITEM_SERVICE, 1, 1000, FG_DAYS_ABSENT, NULL);
        claim_push(g, &b, &ev);
        gen_truth(g, cid, pat, 0, "patient", pid, g->inst[h].id, &ev);
        break;
    }
    default:
        break;
    }
}

void gen_cases_day(gen_t *g, int d) {
    while (g->next_case < g->n_cases && g->cases[g->next_case].start <= d)
        build(g, &g->cases[g->next_case++]);
}
