/* mixed.c - the mixed replay scenario (see mixed.h for the design rules). */
#include "mixed.h"

#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scenario.h"

/* ---- storage: strings and item arrays live in a pool freed by fg_mixed_free ---- */

typedef struct mx_blk {
    struct mx_blk *next;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
} mx_blk_t;

static void *palloc(fg_mixed_t *m, size_t n) {
    n = (n + 15) & ~(size_t)15;
    mx_blk_t *b = m->pool;
    if (!b || b->cap - b->used < n) {
        size_t cap = n > 65536 ? n : 65536;
        mx_blk_t *nb = malloc(sizeof(*nb) + cap);
        cr_assert(nb, "out of memory");
        nb->next = b;
        nb->used = 0;
        nb->cap = cap;
        m->pool = b = nb;
    }
    void *p = b->data + b->used;
    b->used += n;
    return p;
}

static const char *pstr(fg_mixed_t *m, const char *fmt, ...) {
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    cr_assert(n > 0 && (size_t)n < sizeof(buf));
    char *s = palloc(m, (size_t)n + 1);
    memcpy(s, buf, (size_t)n + 1);
    return s;
}

static fg_item_t *copy_items(fg_mixed_t *m, const fg_item_t *v, uint32_t n) {
    fg_item_t *out = palloc(m, (n ? n : 1) * sizeof(*out));
    for (uint32_t i = 0; i < n; i++) {
        out[i] = v[i];
        if (v[i].n_trace_codes) {
            const char **tc = palloc(m, v[i].n_trace_codes * sizeof(char *));
            for (uint32_t j = 0; j < v[i].n_trace_codes; j++) tc[j] = pstr(m, "%s", v[i].trace_codes[j]);
            out[i].trace_codes = tc;
        }
    }
    return out;
}

/* copies ev's arrays (and card id) out of the fg_scn arena; @returns the stored event, valid until the next push */
static fg_event_t *push(fg_mixed_t *m, fg_event_t ev) {
    if (ev.stream == FG_STREAM_CLAIMS) {
        ev.u.claim.items = copy_items(m, ev.u.claim.items, ev.u.claim.n_items);
        if (ev.card_id) ev.card_id = pstr(m, "%s", ev.card_id);
    } else if (ev.stream == FG_STREAM_INVOICING) {
        ev.u.invoicing.items = copy_items(m, ev.u.invoicing.items, ev.u.invoicing.n_items);
    }
    if (m->n == m->cap) {
        m->cap = m->cap ? 2 * m->cap : 1024;
        m->v = realloc(m->v, m->cap * sizeof(*m->v));
        cr_assert(m->v, "out of memory");
    }
    m->v[m->n] = ev;
    return &m->v[m->n++];
}

/* ---- builders ---- */

#define N(a) ((uint32_t)(sizeof(a) / sizeof((a)[0])))

static fg_event_t *claim(fg_mixed_t *m, const char *id, const char *patient, const char *inst, fg_inst_type_t it,
                         fg_visit_t visit, double day, const fg_titem_t *items, uint32_t n) {
    fg_event_t ev = fg_ev_claim(id, patient, inst, it, visit, day, items, n);
    if (it == FG_INST_PHARMACY) ev.u.claim.buyer_registered = true; /* normal pharmacies register buyers */
    return push(m, ev);
}

static fg_event_t *ip(fg_mixed_t *m, const char *id, fg_ip_type_t type, const char *patient, const char *inst,
                      const char *adm, double day) {
    return push(m, fg_ev_inpatient(id, type, patient, inst, adm, day));
}

static fg_event_t *check(fg_mixed_t *m, const char *id, const char *patient, const char *inst, const char *adm,
                         double day, int present) {
    fg_event_t *e = ip(m, id, FG_IP_PRESENCE_CHECK, patient, inst, adm, day);
    e->u.inpatient.present = present;
    e->u.inpatient.check_method = FG_CHECK_WARD_ROUND;
    return e;
}

static fg_event_t *inv(fg_mixed_t *m, const char *id, const char *inst, fg_inv_type_t type, double day,
                       const fg_titem_t *items, uint32_t n) {
    return push(m, fg_ev_invoicing(id, inst, type, day, items, n));
}

/* catalogue codes used (reference/catalogue.json) */
#define C_CONSULT "110200001"      /* outpatient consultation, daily_limit 1 */
#define C_GERIATRIC "311400061"    /* geriatric assessment, daily 1, stay_limit 1, min_age 65 */
#define C_BED "110900001"          /* ward bed, BED, daily_limit 1 */
#define C_NURSING "120100004"      /* level-2 nursing, daily_limit 1 */
#define C_PSA "250403027"          /* PSA test, male only */
#define C_DONEPEZIL "XN06DAD048A001010103451" /* rx-only, min_age 60 */
#define C_ATORVA "XC10AAA087A001010101445"    /* rx-only, max_days_supply 30 */
#define C_PARACET "XN02BEA011A001010102007"   /* OTC */
#define C_LORATADINE "XR06AXL093A001010103920" /* OTC */
#define C_VITC "XA11GAW059A001010100001"      /* OTC */
#define C_STENT "C0202031230000001234"        /* high-value consumable, stay_limit 3 */

static const char *const HOSP[3] = {"MX-H1", "MX-H2", "MX-H3"};
static const char *const PHAR[2] = {"MX-PH1", "MX-PH2"};

static void background(fg_mixed_t *m) {
    for (int d = 0; d < 40; d++) {
        /* outpatients: one-day patients, 4 a day per hospital, 3 at the primary clinic */
        for (int h = 0; h < 3; h++)
            for (int k = 0; k < 4; k++) {
                fg_titem_t it[] = {{C_CONSULT, FG_ITEM_SERVICE, 1, 800 + 100 * k, FG_DAYS_ABSENT, NULL},
                                   {"MX-BG-DRUG", FG_ITEM_DRUG, 2, 500, 3, NULL}};
                claim(m, pstr(m, "MX-BGC-%s-%02d-%d", HOSP[h], d, k), pstr(m, "MX-BGP-%s-%02d-%d", HOSP[h], d, k),
                      HOSP[h], FG_INST_HOSPITAL, FG_VISIT_OUTPATIENT, d + 0.05 + 0.1 * k + 0.02 * h, it, N(it));
            }
        for (int k = 0; k < 3; k++) {
            fg_titem_t it[] = {{C_CONSULT, FG_ITEM_SERVICE, 1, 600, FG_DAYS_ABSENT, NULL}};
            claim(m, pstr(m, "MX-BGC-PR1-%02d-%d", d, k), pstr(m, "MX-BGP-PR1-%02d-%d", d, k), "MX-PR1",
                  FG_INST_PRIMARY, FG_VISIT_OUTPATIENT, d + 0.07 + 0.1 * k, it, N(it));
        }
        /* pharmacies: OTC paracetamol, buyers registered */
        for (int p = 0; p < 2; p++)
            for (int k = 0; k < 4; k++) {
                fg_titem_t it[] = {{C_PARACET, FG_ITEM_DRUG, 2, 30, 3, NULL}};
                claim(m, pstr(m, "MX-BGC-%s-%02d-%d", PHAR[p], d, k), pstr(m, "MX-BGP-%s-%02d-%d", PHAR[p], d, k),
                      PHAR[p], FG_INST_PHARMACY, FG_VISIT_PHARMACY, d + 0.09 + 0.1 * k + 0.01 * p, it, N(it));
            }
        /* weekly purchases that cover the pharmacies' sales many times over */
        if (d % 7 == 0)
            for (int p = 0; p < 2; p++) {
                fg_titem_t it[] = {{C_PARACET, FG_ITEM_DRUG, 500, 20, FG_DAYS_ABSENT, NULL}};
                inv(m, pstr(m, "MX-BGI-%s-%02d", PHAR[p], d), PHAR[p], FG_INV_PURCHASE, d + 0.02, it, N(it));
            }
        /* a three-day stay every other day per hospital, present at its checks, treated every day */
        if (d % 2 == 0 && d <= 35)
            for (int h = 0; h < 3; h++) {
                const char *pat = pstr(m, "MX-BGS-%s-%02d", HOSP[h], d);
                const char *adm = pstr(m, "MX-BGS-%s-%02d-A", HOSP[h], d);
                double t = d + 0.3 + 0.01 * h;
                ip(m, pstr(m, "%s-adm", adm), FG_IP_ADMIT, pat, HOSP[h], adm, t);
                for (int j = 0; j < 3; j++) {
                    fg_titem_t it[] = {{C_BED, FG_ITEM_BED, 1, 4000, FG_DAYS_ABSENT, NULL},
                                       {C_NURSING, FG_ITEM_SERVICE, 1, 1500, FG_DAYS_ABSENT, NULL}};
                    fg_event_t *c = claim(m, pstr(m, "%s-c%d", adm, j), pat, HOSP[h], FG_INST_HOSPITAL,
                                          FG_VISIT_INPATIENT, t + j + 0.1, it, N(it));
                    c->u.claim.admission_id = adm;
                    if (j) check(m, pstr(m, "%s-chk%d", adm, j), pat, HOSP[h], adm, t + j, 1);
                }
                ip(m, pstr(m, "%s-dis", adm), FG_IP_DISCHARGE, pat, HOSP[h], adm, t + 3);
            }
    }
}

static void readmissions(fg_mixed_t *m) {
    /* split_stay: MX-RA1 re-admitted to MX-H1 3 days after discharge */
    ip(m, "MX-RA1-a1", FG_IP_ADMIT, "MX-RA1", "MX-H1", "MX-RA1-A1", 10.1);
    ip(m, "MX-RA1-d1", FG_IP_DISCHARGE, "MX-RA1", "MX-H1", "MX-RA1-A1", 12.1);
    ip(m, "MX-RA1-a2", FG_IP_ADMIT, "MX-RA1", "MX-H1", "MX-RA1-A2", 15.1);
    ip(m, "MX-RA1-d2", FG_IP_DISCHARGE, "MX-RA1", "MX-H1", "MX-RA1-A2", 17.1);
    /* frequent_admission: MX-RA2 admitted at three hospitals within a week */
    for (int i = 0; i < 3; i++) {
        const char *adm = pstr(m, "MX-RA2-A%d", i + 1);
        ip(m, pstr(m, "MX-RA2-a%d", i + 1), FG_IP_ADMIT, "MX-RA2", HOSP[i], adm, 10.3 + 3 * i);
        ip(m, pstr(m, "MX-RA2-d%d", i + 1), FG_IP_DISCHARGE, "MX-RA2", HOSP[i], adm, 11.3 + 3 * i);
    }
}

static void bed_hanging(fg_mixed_t *m) {
    /* absent_checks: absent at two checks 23 hours apart */
    ip(m, "MX-BH1-a", FG_IP_ADMIT, "MX-BH1", "MX-H2", "MX-BH1-A1", 20.1);
    check(m, "MX-BH1-chk1", "MX-BH1", "MX-H2", "MX-BH1-A1", 21.1, 0);
    check(m, "MX-BH1-chk2", "MX-BH1", "MX-H2", "MX-BH1-A1", 22.05, 0);
    ip(m, "MX-BH1-d", FG_IP_DISCHARGE, "MX-BH1", "MX-H2", "MX-BH1-A1", 23.1);
    /* bed_only_days: three consecutive days billed a bed and nothing else */
    ip(m, "MX-BH2-a", FG_IP_ADMIT, "MX-BH2", "MX-H2", "MX-BH2-A1", 20.2);
    for (int j = 0; j < 3; j++) {
        fg_titem_t it[] = {{C_BED, FG_ITEM_BED, 1, 4000, FG_DAYS_ABSENT, NULL}};
        fg_event_t *c = claim(m, pstr(m, "MX-BH2-c%d", j), "MX-BH2", "MX-H2", FG_INST_HOSPITAL, FG_VISIT_INPATIENT,
                              20.3 + j, it, N(it));
        c->u.claim.admission_id = "MX-BH2-A1";
    }
    ip(m, "MX-BH2-d", FG_IP_DISCHARGE, "MX-BH2", "MX-H2", "MX-BH2-A1", 23.2);
}

static void during_stay(fg_mixed_t *m) {
    ip(m, "MX-CS1-a", FG_IP_ADMIT, "MX-CS1", "MX-H3", "MX-CS1-A1", 25.1);
    fg_titem_t it[] = {{C_CONSULT, FG_ITEM_SERVICE, 1, 900, FG_DAYS_ABSENT, NULL}};
    claim(m, "MX-CS1-C1", "MX-CS1", "MX-H1", FG_INST_HOSPITAL, FG_VISIT_OUTPATIENT, 26.2, it, N(it));
    ip(m, "MX-CS1-d", FG_IP_DISCHARGE, "MX-CS1", "MX-H3", "MX-CS1-A1", 28.1);
}

static void prescriptions(fg_mixed_t *m) {
    /* patient_supply: 60 days of atorvastatin within 2 days */
    for (int j = 0; j < 2; j++) {
        fg_titem_t it[] = {{C_ATORVA, FG_ITEM_DRUG, 30, 250, 30, NULL}};
        fg_event_t *c = claim(m, pstr(m, "MX-PV1-C%d", j + 1), "MX-PV1", "MX-H3", FG_INST_HOSPITAL,
                              FG_VISIT_OUTPATIENT, 31.1 + 2 * j, it, N(it));
        c->u.claim.prescription_id = pstr(m, "MX-PV1-RX%d", j + 1);
    }
    /* institution_daily: MX-H-PV dispenses 10 units a day of one drug for 7 days, then 100 */
    for (int d = 30; d <= 37; d++) {
        int n = d < 37 ? 2 : 5;
        for (int k = 0; k < n; k++) {
            fg_titem_t it[] = {{"MX-DRUG-PV", FG_ITEM_DRUG, d < 37 ? 5 : 20, 300, 5, NULL}};
            fg_event_t *c = claim(m, pstr(m, "MX-PVI-C-%02d-%d", d, k), pstr(m, "MX-PVI-%02d-%d", d, k), "MX-H-PV",
                                  FG_INST_HOSPITAL, FG_VISIT_OUTPATIENT, d + 0.1 + 0.05 * k, it, N(it));
            c->u.claim.prescription_id = pstr(m, "MX-PVI-RX-%02d-%d", d, k);
        }
    }
}

static void inventory(fg_mixed_t *m) {
    /* window 2026-01-07 .. 02-06 (Beijing): 10 bought, 30 sold; a purchase after the window completes it */
    fg_titem_t p1[] = {{C_VITC, FG_ITEM_DRUG, 10, 5, FG_DAYS_ABSENT, NULL}};
    inv(m, "MX-IM-INV1", FG_MIX_IM_PHARMACY, FG_INV_PURCHASE, 30.2, p1, N(p1));
    for (int k = 0; k < 3; k++) {
        fg_titem_t it[] = {{C_VITC, FG_ITEM_DRUG, 10, 8, 5, NULL}};
        claim(m, pstr(m, "MX-IM-C%d", k + 1), pstr(m, "MX-IM%d", k + 1), FG_MIX_IM_PHARMACY, FG_INST_PHARMACY,
              FG_VISIT_PHARMACY, 31.2 + k, it, N(it));
    }
    fg_titem_t p2[] = {{C_VITC, FG_ITEM_DRUG, 50, 5, FG_DAYS_ABSENT, NULL}};
    inv(m, "MX-IM-INV2", FG_MIX_IM_PHARMACY, FG_INV_PURCHASE, 36.0, p2, N(p2));
}

static void trace_codes(fg_mixed_t *m) {
    /* reuse: one box settled by two pharmacies */
    fg_titem_t r1[] = {{C_LORATADINE, FG_ITEM_DRUG, 1, 200, 7, "MX-TC-REUSE-0001"}};
    claim(m, "MX-TC1-C1", "MX-TC1", "MX-PH1", FG_INST_PHARMACY, FG_VISIT_PHARMACY, 12.2, r1, N(r1));
    claim(m, "MX-TC2-C1", "MX-TC2", "MX-PH2", FG_INST_PHARMACY, FG_VISIT_PHARMACY, 14.2, r1, N(r1));
    /* reflux: a settled box purchased again by another pharmacy */
    fg_titem_t r2[] = {{C_LORATADINE, FG_ITEM_DRUG, 1, 200, 7, "MX-TC-REFLUX-0001"}};
    claim(m, "MX-TC3-C1", "MX-TC3", "MX-PH1", FG_INST_PHARMACY, FG_VISIT_PHARMACY, 15.2, r2, N(r2));
    fg_titem_t p[] = {{C_LORATADINE, FG_ITEM_DRUG, 1, 150, FG_DAYS_ABSENT, "MX-TC-REFLUX-0001"}};
    inv(m, "MX-TC-INV1", "MX-PH3", FG_INV_PURCHASE, 18.2, p, N(p));
}

static void pharmacy_rules(fg_mixed_t *m) {
    /* rx_without_prescription: atorvastatin sold with no prescription id */
    fg_titem_t rx[] = {{C_ATORVA, FG_ITEM_DRUG, 7, 250, 7, NULL}};
    claim(m, FG_MIX_RX_CLAIM, "MX-RX1", FG_MIX_RX_PHARMACY, FG_INST_PHARMACY, FG_VISIT_PHARMACY, 16.2, rx, N(rx));
    /* large_unregistered: 2,500 yuan without registering the buyer */
    fg_titem_t big[] = {{"MX-TONIC", FG_ITEM_DRUG, 10, 25000, 10, NULL}};
    fg_event_t *c = claim(m, "MX-LU1-C1", "MX-LU1", "MX-PH2", FG_INST_PHARMACY, FG_VISIT_PHARMACY, 17.2, big, N(big));
    c->u.claim.buyer_registered = false;
}

static void billing(fg_mixed_t *m) {
    /* daily: two consultations in one day */
    fg_titem_t d1[] = {{C_CONSULT, FG_ITEM_SERVICE, 2, 900, FG_DAYS_ABSENT, NULL}};
    claim(m, "MX-DB1-C1", FG_MIX_DB_PATIENT, "MX-H3", FG_INST_HOSPITAL, FG_VISIT_OUTPATIENT, 18.1, d1, N(d1));
    /* stay: a once-per-stay assessment billed on two days of one stay */
    ip(m, "MX-DB2-a", FG_IP_ADMIT, "MX-DB2", "MX-H1", "MX-DB2-A1", 18.1);
    for (int j = 0; j < 2; j++) {
        fg_titem_t it[] = {{C_GERIATRIC, FG_ITEM_SERVICE, 1, 5000, FG_DAYS_ABSENT, NULL}};
        fg_event_t *c = claim(m, pstr(m, "MX-DB2-C%d", j + 1), "MX-DB2", "MX-H1", FG_INST_HOSPITAL,
                              FG_VISIT_INPATIENT, 18.3 + j, it, N(it));
        c->u.claim.admission_id = "MX-DB2-A1";
    }
    ip(m, "MX-DB2-d", FG_IP_DISCHARGE, "MX-DB2", "MX-H1", "MX-DB2-A1", 20.1);
}

static void restrictions(fg_mixed_t *m) {
    fg_titem_t g[] = {{C_PSA, FG_ITEM_EXAM, 1, 5000, FG_DAYS_ABSENT, NULL}};
    fg_event_t *c = claim(m, "MX-RV1-C1", "MX-RV1", "MX-H3", FG_INST_HOSPITAL, FG_VISIT_OUTPATIENT, 19.2, g, N(g));
    c->u.claim.gender = FG_GENDER_FEMALE;
    fg_titem_t a[] = {{C_DONEPEZIL, FG_ITEM_DRUG, 30, 1000, 30, NULL}};
    c = claim(m, "MX-RV2-C1", "MX-RV2", "MX-H3", FG_INST_HOSPITAL, FG_VISIT_OUTPATIENT, 19.3, a, N(a));
    c->u.claim.birth_date_days = 10957; /* 2000-01-01: 26 years old */
    c->u.claim.prescription_id = "MX-RV2-RX1";
}

static void cards(fg_mixed_t *m) {
    /* two_regions: the same card in 140100 and 140700 within 1.2 hours */
    fg_titem_t it[] = {{C_CONSULT, FG_ITEM_SERVICE, 1, 900, FG_DAYS_ABSENT, NULL}};
    claim(m, "MX-CM1-C1", "MX-CM1", "MX-H1", FG_INST_HOSPITAL, FG_VISIT_OUTPATIENT, 21.10, it, N(it));
    fg_event_t *c = claim(m, "MX-CM1-C2", "MX-CM1", "MX-H-R2", FG_INST_HOSPITAL, FG_VISIT_OUTPATIENT, 21.15, it, N(it));
    c->region = "140700";
    /* pharmacy_hopping: four pharmacies in one Beijing day */
    static const char *const ph[4] = {"MX-PH1", "MX-PH2", "MX-PH3", "MX-PH4"};
    for (int k = 0; k < 4; k++) {
        fg_titem_t p[] = {{C_PARACET, FG_ITEM_DRUG, 2, 30, 3, NULL}};
        claim(m, pstr(m, "MX-CM2-C%d", k + 1), "MX-CM2", ph[k], FG_INST_PHARMACY, FG_VISIT_PHARMACY, 22.10 + 0.05 * k,
              p, N(p));
    }
}

/*
 * Baseline spikes on days 30..36 (baseline) and 37 (spike), each built from patients who
 * contribute to both, so the spike is judged after its whole baseline in any partition order.
 */
static void indicators(fg_mixed_t *m) {
    /* cost_per_visit: 7 patients, one 100-yuan visit a day each, then 3 visits of 1,000 yuan each */
    for (int k = 0; k < 7; k++) {
        const char *pat = pstr(m, "MX-II-C%d", k + 1);
        for (int d = 30; d <= 37; d++)
            for (int j = 0; j < (d < 37 ? 1 : 3); j++) {
                fg_titem_t it[] = {{"MX-CONSULT", FG_ITEM_SERVICE, 1, d < 37 ? 10000 : 100000, FG_DAYS_ABSENT, NULL}};
                claim(m, pstr(m, "MX-II-C%d-%02d-%d", k + 1, d, j), pat, "MX-H-CPV", FG_INST_HOSPITAL,
                      FG_VISIT_OUTPATIENT, d + 0.1 + 0.01 * k + 0.1 * j, it, N(it));
            }
    }
    /* length_of_stay: 7 patients; each a one-day stay (discharged on days 30..36) inside a long stay
     * (admitted on day 29, discharged on day 37): no re-admission after a discharge, so no split stay */
    for (int k = 0; k < 7; k++) {
        const char *pat = pstr(m, "MX-II-L%d", k + 1);
        const char *lng = pstr(m, "MX-II-L%d-LONG", k + 1), *sht = pstr(m, "MX-II-L%d-SHORT", k + 1);
        ip(m, pstr(m, "%s-a", lng), FG_IP_ADMIT, pat, "MX-H-LOS", lng, 29.1 + 0.01 * k);
        ip(m, pstr(m, "%s-a", sht), FG_IP_ADMIT, pat, "MX-H-LOS", sht, 29.2 + k);
        ip(m, pstr(m, "%s-d", sht), FG_IP_DISCHARGE, pat, "MX-H-LOS", sht, 30.2 + k);
        ip(m, pstr(m, "%s-d", lng), FG_IP_DISCHARGE, pat, "MX-H-LOS", lng, 37.2 + 0.01 * k);
    }
    /* admissions: 7 patients, one admitted per day on days 30..36, all 7 admitted again on day 37
     * (stays left open: no discharge, so no split stay) */
    for (int k = 0; k < 7; k++) {
        const char *pat = pstr(m, "MX-II-A%d", k + 1);
        const char *a1 = pstr(m, "MX-II-A%d-1", k + 1), *a2 = pstr(m, "MX-II-A%d-2", k + 1);
        ip(m, pstr(m, "%s-a", a1), FG_IP_ADMIT, pat, "MX-H-ADM", a1, 30.1 + k);
        ip(m, pstr(m, "%s-a", a2), FG_IP_ADMIT, pat, "MX-H-ADM", a2, 37.1 + 0.01 * k);
    }
    /* high_value_usage: 5 patients, one stent a day each, then 4 each */
    for (int k = 0; k < 5; k++) {
        const char *pat = pstr(m, "MX-HV%d", k + 1);
        for (int d = 30; d <= 37; d++) {
            fg_titem_t it[] = {{C_STENT, FG_ITEM_CONSUMABLE, d < 37 ? 1 : 4, 50000, FG_DAYS_ABSENT, NULL}};
            claim(m, pstr(m, "MX-HV%d-C-%02d", k + 1, d), pat, "MX-H-HV", FG_INST_HOSPITAL, FG_VISIT_OUTPATIENT,
                  d + 0.2 + 0.01 * k, it, N(it));
        }
    }
}

static void blacklists(fg_mixed_t *m) {
    fg_titem_t it[] = {{C_CONSULT, FG_ITEM_SERVICE, 1, 900, FG_DAYS_ABSENT, NULL}};
    claim(m, "MX-BL1-C1", "MX-BL1", FG_MIX_BL_INSTITUTION, FG_INST_HOSPITAL, FG_VISIT_OUTPATIENT, 24.2, it, N(it));
    fg_event_t *c = claim(m, "MX-BL2-C1", "MX-BL2", "MX-H3", FG_INST_HOSPITAL, FG_VISIT_OUTPATIENT, 24.3, it, N(it));
    c->u.claim.doctor_id = "D140105002417";
    claim(m, "MX-BL3-C1", "140100000012345678", "MX-H3", FG_INST_HOSPITAL, FG_VISIT_OUTPATIENT, 24.4, it, N(it));
}

static int by_time(const void *x, const void *y) {
    const fg_event_t *a = x, *b = y;
    if (a->event_time_ms != b->event_time_ms) return a->event_time_ms < b->event_time_ms ? -1 : 1;
    if (a->stream != b->stream) return a->stream < b->stream ? -1 : 1;
    return strcmp(a->event_id, b->event_id);
}

void fg_mixed_build(fg_mixed_t *m) {
    memset(m, 0, sizeof(*m));
    background(m);
    readmissions(m);
    bed_hanging(m);
    during_stay(m);
    prescriptions(m);
    inventory(m);
    trace_codes(m);
    pharmacy_rules(m);
    billing(m);
    restrictions(m);
    cards(m);
    indicators(m);
    blacklists(m);
    qsort(m->v, m->n, sizeof(m->v[0]), by_time);
    for (size_t i = 1; i < m->n; i++)
        cr_assert(by_time(&m->v[i - 1], &m->v[i]) < 0, "duplicate event id %s", m->v[i].event_id);
}

void fg_mixed_free(fg_mixed_t *m) {
    mx_blk_t *b = m->pool;
    while (b) {
        mx_blk_t *next = b->next;
        free(b);
        b = next;
    }
    free(m->v);
    memset(m, 0, sizeof(*m));
}
