/*
 * gen.c - the synthetic province: world (regions, institutions, doctors, insured
 * persons), background traffic day by day, the 进销存 stock model, and emission in
 * event-time order to the sink. Injected cases live in gen_cases.c.
 *
 * Why the background is shaped the way it is: every rule must stay silent on it at
 * default thresholds, or precision on the ground truth collapses. So a person visits
 * at most one institution a day, in their own region, never during their own stay; a
 * chronic refill comes no sooner than its supply allows; an acute or OTC drug at most
 * once a month; restricted items only for the right sex and age; at most one
 * admission per person in 95 days; every inpatient day is billed with treatment and
 * every presence check finds the patient. Daily volumes follow their means with a
 * bounded noise (not Poisson tails) and the daily lines of a drug at an institution
 * are capped well under k x its own history, so baseline rules see ordinary days.
 * Stock: every drug sale goes through a per institution + drug stock, topped up by
 * weekly purchases and, when short, a purchase just before the sale; a stocktake
 * opens each 30-day inventory window; a pharmacy's boxes carry trace codes bought
 * before they are sold.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "gen_internal.h"

/* ---- patterns ---- */

static const struct {
    const char *rule, *pattern;
} PATTERNS[FG_GP_COUNT] = {
    {"readmission_burst", "split_stay"},
    {"readmission_burst", "frequent_admission"},
    {"bed_hanging", "absent_checks"},
    {"bed_hanging", "bed_only_days"},
    {"claims_during_stay", "claim_in_stay"},
    {"prescription_volume", "patient_supply"},
    {"prescription_volume", "institution_daily"},
    {"inventory_mismatch", "sales_exceed_supply"},
    {"trace_code_reuse", "reuse"},
    {"trace_code_reuse", "reflux"},
    {"rx_without_prescription", "no_prescription"},
    {"large_unregistered", "unregistered_buyer"},
    {"duplicate_billing", "daily"},
    {"duplicate_billing", "stay"},
    {"restriction_violation", "gender"},
    {"restriction_violation", "age"},
    {"card_misuse", "two_regions"},
    {"card_misuse", "pharmacy_hopping"},
    {"institution_indicators", "cost_per_visit"},
    {"institution_indicators", "length_of_stay"},
    {"institution_indicators", "admissions"},
    {"high_value_usage", "usage_spike"},
    {"blacklist_hit", "institution"},
    {"blacklist_hit", "doctor"},
    {"blacklist_hit", "person"},
};

const char *fg_gen_pattern_rule(fg_gen_pattern_t p) { return (unsigned)p < FG_GP_COUNT ? PATTERNS[p].rule : NULL; }
const char *fg_gen_pattern_name(fg_gen_pattern_t p) { return (unsigned)p < FG_GP_COUNT ? PATTERNS[p].pattern : NULL; }

/* ---- the background formulary (codes and ceilings from reference/catalogue.json) ---- */

const gen_drug_t gen_drugs[] = {
    {"XC10AAA087A001010101445", "阿托伐他汀钙片", GD_CHRONIC, 28, 28, 200, 14, 1},
    {"XC10AAR037A001010104020", "瑞舒伐他汀钙片", GD_CHRONIC, 28, 28, 200, 14, 1},
    {"XC08CAA014A001010100193", "苯磺酸氨氯地平片", GD_CHRONIC, 28, 28, 180, 14, 1},
    {"XC09CAX069E001010101516", "缬沙坦胶囊", GD_CHRONIC, 28, 28, 200, 14, 1},
    {"XC07ABM097A012010100782", "琥珀酸美托洛尔缓释片", GD_CHRONIC, 28, 28, 200, 14, 1},
    {"XB01ACA056A001010100888", "阿司匹林肠溶片", GD_CHRONIC, 28, 28, 40, 28, 1},
    {"XB01ACL012A001010102210", "硫酸氢氯吡格雷片", GD_CHRONIC, 28, 28, 200, 14, 1},
    {"XA10BAE010A001010100567", "盐酸二甲双胍片", GD_CHRONIC, 56, 28, 30, 28, 1},
    {"XJ01CAA040E001010102375", "阿莫西林胶囊", GD_ACUTE, 15, 5, 60, 15, 1},
    {"XJ01DCT093A001010104431", "头孢呋辛酯片", GD_ACUTE, 10, 5, 250, 10, 1},
    {"XJ01FAA087A001010103102", "阿奇霉素片", GD_ACUTE, 3, 3, 400, 3, 1},
    {"XA02BCO044E001010101886", "奥美拉唑肠溶胶囊", GD_ACUTE, 14, 14, 150, 14, 1},
    {"XN02BEA011A001010102007", "对乙酰氨基酚片", GD_OTC, 6, 3, 30, 6, 0},
    {"XR06AXL093A001010103920", "氯雷他定片", GD_OTC, 7, 7, 200, 7, 0},
    {"XA11GAW059A001010100001", "维生素C片", GD_OTC, 20, 10, 8, 20, 0},
    {"ZA04BAB0012010101234", "板蓝根颗粒", GD_OTC, 9, 3, 70, 9, 0},
    {"XN02BEB035L010010100456", "布洛芬混悬液(儿童)", GD_PEDIATRIC, 1, 3, 1500, 1, 0},
    {"XJ01MAL069B002010101953", "左氧氟沙星氯化钠注射液", GD_INPATIENT, 1, 1, 1200, 10, 1},
};
const int gen_n_drugs = (int)(sizeof(gen_drugs) / sizeof(gen_drugs[0]));

int gen_drug_index(const char *code) {
    for (int i = 0; i < gen_n_drugs; i++)
        if (!strcmp(gen_drugs[i].code, code))
            return i;
    return -1;
}

/* items (catalogue codes) */
#define C_CONSULT "110200001"
#define C_IP_CONSULT "110200005"
#define C_NURSING "120100004"
#define C_INFUSION "120400006"
#define C_BED "110900001"
#define C_BLOOD "250101015"
#define C_ULTRASOUND "220301001"
#define C_CT "210300001"
#define C_PSA "250403027"
#define C_PRENATAL "311201001"
#define C_GERIATRIC "311400061"
#define C_SYRINGE "C0102050010000001000"

/* ---- RNG: xoshiro256** seeded by splitmix64 ---- */

static uint64_t splitmix(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void gen_rng_seed(gen_rng_t *r, uint64_t seed, uint64_t stream) {
    uint64_t x = seed * 0x100000001b3ULL ^ (stream + 0x51ed2705ULL);
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix(&x);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t gen_rand(gen_rng_t *r) {
    uint64_t *s = r->s;
    uint64_t res = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return res;
}

double gen_unif(gen_rng_t *r) { return (double)(gen_rand(r) >> 11) * (1.0 / 9007199254740992.0); }
uint32_t gen_below(gen_rng_t *r, uint32_t n) { return (uint32_t)(gen_unif(r) * n); }

/* a count with mean m and bounded noise (+-width), fractional parts resolved at random */
static int noisy_count(gen_rng_t *r, double m, double width) {
    double x = m * (1 - width + 2 * width * gen_unif(r));
    int n = (int)x;
    if (gen_unif(r) < x - n)
        n++;
    return n;
}

/* ---- params ---- */

void fg_gen_params_default(fg_gen_params_t *p) {
    memset(p, 0, sizeof(*p));
    p->seed = 1;
    p->days = 30;
    p->start_day = 20454; /* 2026-01-01 */
    p->target_events = 100000;
    for (int i = 0; i < FG_GP_COUNT; i++)
        p->rates[i] = 1.0;
}

int fg_gen_params_set_rate(fg_gen_params_t *p, const char *spec, char *errstr, size_t errstr_size) {
    const char *eq = strchr(spec, '=');
    if (!eq || eq == spec)
        return fg_err(errstr, errstr_size, -1, "--rate %s: expected PATTERN=R (e.g. card_misuse.two_regions=2)", spec);
    char *end = NULL;
    double r = strtod(eq + 1, &end);
    if (end == eq + 1 || *end || !(r >= 0) || r > 10000)
        return fg_err(errstr, errstr_size, -1, "--rate %s: R must be a number of cases per 10,000 events, 0..10000",
                      spec);
    size_t n = (size_t)(eq - spec);
    int hit = 0;
    for (int i = 0; i < FG_GP_COUNT; i++) {
        size_t rl = strlen(PATTERNS[i].rule);
        int all = n == 3 && !strncmp(spec, "all", 3);
        int rule = n == rl && !strncmp(spec, PATTERNS[i].rule, rl);
        int pat = n == rl + 1 + strlen(PATTERNS[i].pattern) && !strncmp(spec, PATTERNS[i].rule, rl) &&
                  spec[rl] == '.' && !strncmp(spec + rl + 1, PATTERNS[i].pattern, strlen(PATTERNS[i].pattern));
        if (all || rule || pat) {
            p->rates[i] = r;
            hit = 1;
        }
    }
    if (!hit)
        return fg_err(errstr, errstr_size, -1,
                      "--rate %s: unknown pattern '%.*s' (use all, a rule such as card_misuse, or rule.pattern such "
                      "as card_misuse.two_regions; `fundguard gen --help` lists them)",
                      spec, (int)n, spec);
    return 0;
}

static int64_t days_from_civil(int y, unsigned m, unsigned d) {
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int *y, int *m, int *d) {
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = (unsigned)(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

int fg_gen_parse_date(const char *s, int32_t *days) {
    int y, m, d;
    char tail;
    if (!s || sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3 || strlen(s) != 10)
        return -1;
    /* up to 2058: persons' birth dates are kept as 16-bit day numbers */
    if (y < 2000 || y > 2058 || m < 1 || m > 12 || d < 1 || d > 31)
        return -1;
    int64_t v = days_from_civil(y, (unsigned)m, (unsigned)d);
    int yy, mm, dd;
    civil_from_days(v, &yy, &mm, &dd);
    if (yy != y || mm != m || dd != d)
        return -1; /* 2026-02-30 */
    *days = (int32_t)v;
    return 0;
}

/* ---- ids and small helpers ---- */

int64_t gen_day_ms(const gen_t *g, int d) { return g->t0 + (int64_t)d * GEN_DAY_MS; }

int gen_age(const gen_t *g, int16_t birth, int64_t t_ms) {
    (void)g;
    int64_t days = (t_ms + GEN_TZ_MS) / GEN_DAY_MS - birth;
    int y0, m0, d0, y1, m1, d1;
    civil_from_days(birth, &y0, &m0, &d0);
    civil_from_days(birth + days, &y1, &m1, &d1);
    int a = y1 - y0;
    if (m1 < m0 || (m1 == m0 && d1 < d0))
        a--;
    return a;
}

/* region code + "1" + 11 digits: 18 characters like a resident id, never one of the sample
 * blacklist's (which have "0000" after the region) */
void gen_person_id(const gen_t *g, uint64_t idx, uint8_t region, char *out, size_t n) {
    snprintf(out, n, "%s1%011llu", g->regions[region], (unsigned long long)idx);
}

void gen_card_id(const gen_t *g, uint64_t idx, uint8_t region, char *out, size_t n) {
    snprintf(out, n, "SC%s%010llu", g->regions[region], (unsigned long long)idx);
}

uint64_t gen_case_person(gen_t *g) { return g->n_pers + g->n_case_pers++; }

uint32_t gen_pick_inst(gen_t *g, gen_rng_t *r, fg_inst_type_t type, int region) {
    uint32_t base = type == FG_INST_HOSPITAL ? g->hosp0 : type == FG_INST_PRIMARY ? g->prim0 : g->phar0;
    uint32_t cnt = type == FG_INST_HOSPITAL ? g->n_hosp : type == FG_INST_PRIMARY ? g->n_prim : g->n_phar;
    if (region < 0)
        return base + gen_below(r, cnt);
    /* institutions of a type are assigned to regions round-robin: index % nr == region */
    uint32_t per = (cnt - (uint32_t)region + (uint32_t)g->nr - 1) / (uint32_t)g->nr;
    if (!per)
        return base + gen_below(r, cnt);
    return base + (uint32_t)region + (uint32_t)g->nr * gen_below(r, per);
}

void gen_doctor_id(const gen_t *g, uint32_t inst, gen_rng_t *r, char *out, size_t n) {
    const gen_inst_t *in = &g->inst[inst];
    uint32_t k = in->doctor0 + (in->n_doctors ? gen_below(r, in->n_doctors) : 0);
    snprintf(out, n, "D%s%06u", g->regions[in->region], k);
}

/* ---- builders ---- */

static void b_init(gen_t *g, gen_b_t *b, fg_stream_t s, int64_t t, const char *prefix, uint64_t n) {
    memset(b, 0, sizeof(*b));
    b->ev.stream = s;
    snprintf(b->id, sizeof(b->id), "%s%010llu", prefix, (unsigned long long)n);
    b->ev.event_id = b->id;
    b->ev.event_time_ms = t;
    b->ev.src_partition = -1;
    b->ev.src_offset = -1;
    b->inst_idx = -1;
    (void)g;
}

static void b_inst(gen_t *g, gen_b_t *b, uint32_t inst) {
    snprintf(b->inst, sizeof(b->inst), "%s", g->inst[inst].id);
    snprintf(b->region, sizeof(b->region), "%s", g->regions[g->inst[inst].region]);
    b->ev.institution_id = b->inst;
    b->ev.region = b->region;
    b->ev.institution_type = g->inst[inst].type;
    b->inst_idx = (int32_t)inst;
}

void gen_b_claim_ext(gen_t *g, gen_b_t *b, int64_t t, const char *inst_id, fg_inst_type_t type, const char *region,
                     const char *patient, const char *card, uint8_t gender, int32_t birth, fg_visit_t visit) {
    b_init(g, b, FG_STREAM_CLAIMS, t, "CL", ++g->n_claim);
    snprintf(b->inst, sizeof(b->inst), "%s", inst_id);
    snprintf(b->region, sizeof(b->region), "%s", region);
    b->ev.institution_id = b->inst;
    b->ev.region = b->region;
    b->ev.institution_type = type;
    snprintf(b->patient, sizeof(b->patient), "%s", patient);
    b->ev.patient_id = b->patient;
    if (card) {
        snprintf(b->card, sizeof(b->card), "%s", card);
        b->ev.card_id = b->card;
    }
    fg_claim_t *c = &b->ev.u.claim;
    c->gender = (fg_gender_t)gender;
    c->birth_date_days = birth;
    c->visit_type = visit;
    c->buyer_registered = type == FG_INST_PHARMACY;
}

void gen_b_claim(gen_t *g, gen_b_t *b, int64_t t, uint32_t inst, const char *patient, const char *card, uint8_t gender,
                 int32_t birth, fg_visit_t visit) {
    gen_b_claim_ext(g, b, t, g->inst[inst].id, g->inst[inst].type, g->regions[g->inst[inst].region], patient, card,
                    gender, birth, visit);
    b->inst_idx = (int32_t)inst;
    b->want_trace = g->inst[inst].type == FG_INST_PHARMACY;
}

void gen_b_ip(gen_t *g, gen_b_t *b, int64_t t, uint32_t inst, const char *patient, const char *adm, fg_ip_type_t type) {
    b_init(g, b, FG_STREAM_INPATIENT, t, "IP", ++g->n_ip);
    b_inst(g, b, inst);
    snprintf(b->patient, sizeof(b->patient), "%s", patient);
    b->ev.patient_id = b->patient;
    snprintf(b->adm, sizeof(b->adm), "%s", adm);
    fg_inpatient_t *ip = &b->ev.u.inpatient;
    ip->type = type;
    ip->admission_id = b->adm;
    ip->present = FG_PRESENT_ABSENT;
    ip->check_method = FG_CHECK_NONE;
}

void gen_b_inv(gen_t *g, gen_b_t *b, int64_t t, uint32_t inst, fg_inv_type_t type) {
    b_init(g, b, FG_STREAM_INVOICING, t, "IV", ++g->n_inv);
    b_inst(g, b, inst);
    b->ev.u.invoicing.type = type;
}

void gen_item(gen_b_t *b, const char *code, fg_item_kind_t kind, double qty, int64_t price, int32_t days,
              const char *trace) {
    fg_item_t **items = b->ev.stream == FG_STREAM_CLAIMS ? &b->ev.u.claim.items : &b->ev.u.invoicing.items;
    uint32_t *n = b->ev.stream == FG_STREAM_CLAIMS ? &b->ev.u.claim.n_items : &b->ev.u.invoicing.n_items;
    if (*n >= GEN_MAX_ITEMS)
        return;
    fg_item_t *it = &b->items[*n];
    memset(it, 0, sizeof(*it));
    it->code = code;
    it->kind = kind;
    it->quantity = qty;
    it->unit_price_fen = price;
    it->amount_fen = (int64_t)(qty * (double)price + 0.5);
    it->days_supply = days;
    b->trace[*n] = trace;
    (*n)++;
    *items = b->items;
}

void gen_item_drug(gen_b_t *b, int didx, double qty) {
    const gen_drug_t *d = &gen_drugs[didx];
    gen_item(b, d->code, FG_ITEM_DRUG, qty, d->price, b->ev.stream == FG_STREAM_CLAIMS ? d->days : FG_DAYS_ABSENT,
             NULL);
}

void gen_new_adm(gen_t *g, gen_b_t *b, uint32_t inst) {
    snprintf(b->adm, sizeof(b->adm), "ZY%s%08llu", g->inst[inst].id + 1, (unsigned long long)++g->n_adm);
}

void gen_new_rx(gen_t *g, gen_b_t *b) {
    snprintf(b->rx, sizeof(b->rx), "RX%010llu", (unsigned long long)++g->n_rx);
    b->ev.u.claim.prescription_id = b->rx;
}

/* one allocation: gen_ev_t, then items, trace pointer arrays, then strings */
static gen_ev_t *pack(gen_t *g, const gen_b_t *b) {
    const fg_event_t *e = &b->ev;
    const fg_item_t *items = NULL;
    uint32_t n_items = 0;
    if (e->stream == FG_STREAM_CLAIMS) {
        items = e->u.claim.items;
        n_items = e->u.claim.n_items;
    } else if (e->stream == FG_STREAM_INVOICING) {
        items = e->u.invoicing.items;
        n_items = e->u.invoicing.n_items;
    }
    uint32_t ntc[GEN_MAX_ITEMS] = {0};
    uint8_t mask = 0;
    uint8_t didx[GEN_MAX_ITEMS];
    memset(didx, 255, sizeof(didx));
    size_t codes = 0;
    for (uint32_t i = 0; i < n_items; i++) {
        int di = items[i].kind == FG_ITEM_DRUG && b->inst_idx >= 0 ? gen_drug_index(items[i].code) : -1;
        if (di >= 0)
            didx[i] = (uint8_t)di;
        if (b->trace[i]) {
            ntc[i] = 1;
        } else if (di >= 0 && b->want_trace && e->stream == FG_STREAM_CLAIMS) {
            ntc[i] = (uint32_t)((items[i].quantity + gen_drugs[di].box - 1) / gen_drugs[di].box);
            mask |= (uint8_t)(1u << i);
        }
        codes += ntc[i];
    }
    size_t strs = 0;
#define SLEN(s) ((s) ? strlen(s) + 1 : 0)
    strs += SLEN(e->event_id) + SLEN(e->region) + SLEN(e->institution_id) + SLEN(e->patient_id) + SLEN(e->card_id);
    if (e->stream == FG_STREAM_CLAIMS)
        strs += SLEN(e->u.claim.admission_id) + SLEN(e->u.claim.doctor_id) + SLEN(e->u.claim.prescription_id);
    if (e->stream == FG_STREAM_INPATIENT)
        strs += SLEN(e->u.inpatient.admission_id) + SLEN(e->u.inpatient.doctor_id);
    if (e->stream == FG_STREAM_INVOICING)
        strs += SLEN(e->u.invoicing.supplier) + SLEN(e->u.invoicing.invoice_no);
    for (uint32_t i = 0; i < n_items; i++)
        strs += SLEN(items[i].code);
    size_t size = sizeof(gen_ev_t) + n_items * sizeof(fg_item_t) + codes * (sizeof(char *) + 24) + strs;
    gen_ev_t *ge = malloc(size);
    if (!ge) {
        fprintf(stderr, "fundguard gen: out of memory\n");
        abort();
    }
    memset(ge, 0, sizeof(*ge));
    ge->ev = *e;
    ge->seq = ++g->seq;
    ge->inst = b->inst_idx;
    ge->trace_mask = mask;
    memcpy(ge->didx, didx, sizeof(didx));
    char *p = (char *)(ge + 1);
    fg_item_t *iv = (fg_item_t *)p;
    p += n_items * sizeof(fg_item_t);
    const char **tcv = (const char **)p;
    p += codes * sizeof(char *);
    char *tcs = p;
    p += codes * 24;
    char *sp = p;
#define SCOPY(dst, s)                                                                                                  \
    do {                                                                                                               \
        if (s) {                                                                                                       \
            size_t l_ = strlen(s) + 1;                                                                                 \
            memcpy(sp, s, l_);                                                                                         \
            (dst) = sp;                                                                                                \
            sp += l_;                                                                                                  \
        }                                                                                                              \
    } while (0)
    SCOPY(ge->ev.event_id, e->event_id);
    SCOPY(ge->ev.region, e->region);
    SCOPY(ge->ev.institution_id, e->institution_id);
    SCOPY(ge->ev.patient_id, e->patient_id);
    SCOPY(ge->ev.card_id, e->card_id);
    if (e->stream == FG_STREAM_CLAIMS) {
        SCOPY(ge->ev.u.claim.admission_id, e->u.claim.admission_id);
        SCOPY(ge->ev.u.claim.doctor_id, e->u.claim.doctor_id);
        SCOPY(ge->ev.u.claim.prescription_id, e->u.claim.prescription_id);
        ge->ev.u.claim.items = iv;
    } else if (e->stream == FG_STREAM_INPATIENT) {
        SCOPY(ge->ev.u.inpatient.admission_id, e->u.inpatient.admission_id);
        SCOPY(ge->ev.u.inpatient.doctor_id, e->u.inpatient.doctor_id);
    } else {
        SCOPY(ge->ev.u.invoicing.supplier, e->u.invoicing.supplier);
        SCOPY(ge->ev.u.invoicing.invoice_no, e->u.invoicing.invoice_no);
        ge->ev.u.invoicing.items = iv;
    }
    size_t tci = 0;
    for (uint32_t i = 0; i < n_items; i++) {
        iv[i] = items[i];
        SCOPY(iv[i].code, items[i].code);
        iv[i].trace_codes = NULL;
        iv[i].n_trace_codes = ntc[i];
        if (ntc[i]) {
            iv[i].trace_codes = &tcv[tci];
            for (uint32_t k = 0; k < ntc[i]; k++, tci++) {
                tcv[tci] = tcs + tci * 24;
                tcs[tci * 24] = '\0';
            }
            if (b->trace[i])
                snprintf((char *)tcv[tci - 1], 24, "%s", b->trace[i]);
        }
    }
#undef SCOPY
#undef SLEN
    return ge;
}

/* ---- pending heap (future events of stays and cases) ---- */

static int ev_before(const gen_ev_t *a, const gen_ev_t *b) {
    if (a->ev.event_time_ms != b->ev.event_time_ms)
        return a->ev.event_time_ms < b->ev.event_time_ms;
    return a->seq < b->seq;
}

static void heap_push(gen_t *g, gen_ev_t *e) {
    if (g->n_heap == g->cap_heap) {
        g->cap_heap = g->cap_heap ? 2 * g->cap_heap : 4096;
        g->heap = realloc(g->heap, g->cap_heap * sizeof(*g->heap));
        if (!g->heap)
            abort();
    }
    size_t i = g->n_heap++;
    while (i && ev_before(e, g->heap[(i - 1) / 2])) {
        g->heap[i] = g->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    g->heap[i] = e;
}

static gen_ev_t *heap_pop(gen_t *g) {
    gen_ev_t *top = g->heap[0], *last = g->heap[--g->n_heap];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= g->n_heap)
            break;
        if (c + 1 < g->n_heap && ev_before(g->heap[c + 1], g->heap[c]))
            c++;
        if (!ev_before(g->heap[c], last))
            break;
        g->heap[i] = g->heap[c];
        i = c;
    }
    if (g->n_heap)
        g->heap[i] = last;
    return top;
}

static void day_add(gen_t *g, gen_ev_t *e) {
    if (g->n_day == g->cap_day) {
        g->cap_day = g->cap_day ? 2 * g->cap_day : 4096;
        g->dayv = realloc(g->dayv, g->cap_day * sizeof(*g->dayv));
        if (!g->dayv)
            abort();
    }
    g->dayv[g->n_day++] = e;
}

static void finish_claim(gen_b_t *b) {
    if (b->ev.stream != FG_STREAM_CLAIMS)
        return;
    fg_claim_t *c = &b->ev.u.claim;
    int64_t total = 0;
    for (uint32_t i = 0; i < c->n_items; i++)
        total += c->items[i].amount_fen;
    c->total_fen = total;
    int pct = c->visit_type == FG_VISIT_INPATIENT ? 80 : c->visit_type == FG_VISIT_PHARMACY ? 50 : 65;
    c->fund_paid_fen = total * pct / 100;
    c->self_paid_fen = total - c->fund_paid_fen;
}

const char *gen_push(gen_t *g, gen_b_t *b) {
    finish_claim(b);
    gen_ev_t *e = pack(g, b);
    heap_push(g, e);
    return e->ev.event_id;
}

/* ---- stays ---- */

/* a day of a stay: a bed, and unless bed_only, nursing, (on day 0) the admission consultation, the drip
 * (an infusion and its drug) for adults, consumables for children, and the geriatric assessment */
static void stay_claim_items(gen_b_t *b, int j, int adult, int bed_only, int geriatric) {
    gen_item(b, C_BED, FG_ITEM_BED, 1, 3000, FG_DAYS_ABSENT, NULL);
    if (bed_only)
        return;
    gen_item(b, C_NURSING, FG_ITEM_SERVICE, 1, 1200, FG_DAYS_ABSENT, NULL);
    if (j == 0)
        gen_item(b, C_IP_CONSULT, FG_ITEM_SERVICE, 1, 1200, FG_DAYS_ABSENT, NULL);
    if (adult) {
        gen_item_drug(b, gen_n_drugs - 1, 1);
        gen_item(b, C_INFUSION, FG_ITEM_SERVICE, 1, 600, FG_DAYS_ABSENT, NULL);
    } else {
        gen_item(b, C_SYRINGE, FG_ITEM_CONSUMABLE, 2, 50, FG_DAYS_ABSENT, NULL);
    }
    if (geriatric)
        gen_item(b, C_GERIATRIC, FG_ITEM_SERVICE, 1, 6000, FG_DAYS_ABSENT, NULL);
}

void gen_stay(gen_t *g, gen_rng_t *r, uint32_t hosp, const char *patient, const char *card, uint8_t gender,
              int32_t birth, int64_t admit_ms, int los, const gen_stay_opts_t *o, gen_stay_out_t *out) {
    gen_b_t b;
    memset(out, 0, sizeof(*out));
    char doctor[24];
    gen_doctor_id(g, hosp, r, doctor, sizeof(doctor));
    gen_b_ip(g, &b, admit_ms, hosp, patient, "", FG_IP_ADMIT);
    gen_new_adm(g, &b, hosp);
    snprintf(out->adm, sizeof(out->adm), "%s", b.adm);
    snprintf(b.doctor, sizeof(b.doctor), "%s", doctor);
    b.ev.u.inpatient.doctor_id = b.doctor;
    snprintf(out->admit_id, sizeof(out->admit_id), "%s", gen_push(g, &b));
    out->admit_ms = admit_ms;
    int64_t day0 = admit_ms - ((admit_ms + GEN_TZ_MS) % GEN_DAY_MS); /* 00:00 Beijing of the admission day */
    int adult = gen_age(g, (int16_t)birth, admit_ms) >= 18;
    for (int j = 0; j < los; j++) {
        int64_t dj = day0 + (int64_t)j * GEN_DAY_MS;
        if (j > 0 && out->n_checks < 16) {
            gen_b_ip(g, &b, dj + GEN_H(9) + gen_below(r, 3600) * 1000LL, hosp, patient, out->adm, FG_IP_PRESENCE_CHECK);
            int absent = j == o->absent_day1 || j == o->absent_day2;
            b.ev.u.inpatient.present = absent ? 0 : 1;
            b.ev.u.inpatient.check_method = gen_below(r, 2) ? FG_CHECK_WARD_ROUND : FG_CHECK_FACE;
            int64_t t = b.ev.event_time_ms;
            snprintf(out->check_ids[out->n_checks], 40, "%s", gen_push(g, &b));
            out->check_ms[out->n_checks++] = t;
        }
        if (o->claims && out->n_claims < 16) {
            gen_b_claim(g, &b, dj + GEN_H(21) + gen_below(r, 3600) * 1000LL, hosp, patient, card, gender, birth,
                        FG_VISIT_INPATIENT);
            b.ev.u.claim.admission_id = out->adm;
            snprintf(b.doctor, sizeof(b.doctor), "%s", doctor);
            b.ev.u.claim.doctor_id = b.doctor;
            stay_claim_items(&b, j, adult, j >= o->bed_only_from && j < o->bed_only_to,
                             (o->geriatric_days & (1 << j)) != 0);
            int64_t t = b.ev.event_time_ms;
            snprintf(out->claim_ids[out->n_claims], 40, "%s", gen_push(g, &b));
            out->claim_ms[out->n_claims++] = t;
        }
    }
    if (o->discharge) {
        int64_t t = day0 + (int64_t)los * GEN_DAY_MS + GEN_H(9) + gen_below(r, 3 * 3600) * 1000LL;
        gen_b_ip(g, &b, t, hosp, patient, out->adm, FG_IP_DISCHARGE);
        snprintf(out->discharge_id, sizeof(out->discharge_id), "%s", gen_push(g, &b));
        out->discharge_ms = t;
    }
}

/* ---- truth ---- */

void gen_evset_add(gen_evset_t *s, const char *id, int64_t t) {
    if (!s->n || t < s->from)
        s->from = t;
    if (!s->n || t > s->to)
        s->to = t;
    if (s->n < GEN_CASE_IDS)
        snprintf(s->ids[s->n++], sizeof(s->ids[0]), "%s", id);
}

void gen_truth(gen_t *g, const char *case_id, fg_gen_pattern_t pat, int pattern_null, const char *stype,
               const char *sid, const char *inst, const gen_evset_t *evs) {
    if (g->failed)
        return;
    json_t *ids = json_array();
    for (int i = 0; i < evs->n; i++)
        json_array_append_new(ids, json_string(evs->ids[i]));
    json_t *o = json_pack("{s:s, s:s, s:o, s:s, s:s, s:s, s:I, s:I, s:o}", "case", case_id, "rule", PATTERNS[pat].rule,
                          "pattern", pattern_null ? json_null() : json_string(PATTERNS[pat].pattern), "subject_type",
                          stype, "subject_id", sid, "institution_id", inst ? inst : "", "from_ms",
                          (json_int_t)evs->from, "to_ms", (json_int_t)evs->to, "events", ids);
    char *s = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    if (!s)
        abort();
    g->st.truth_lines++;
    if (g->sink->truth && g->sink->truth(g->sink->ctx, s)) {
        g->failed = 1;
        snprintf(g->err, sizeof(g->err), "sink stopped (truth)");
    }
    free(s);
}

/* ---- world ---- */

static const char *const REGION_CODES[GEN_MAX_REGIONS] = {"140100", "140200", "140300", "140400", "140500", "140600",
                                                          "140700", "140800", "140900", "141000", "141100"};

static int load_blacklists(gen_t *g, char *errstr, size_t n) {
    static const char *const inst[] = {"H14010500871", "P14010600045", "P14070200318"};
    static const char *const doc[] = {"D140105002417", "D140702000563"};
    static const char *const pers[] = {"140100000012345678", "140700000087654321"};
    if (!g->p.blacklists) {
        for (size_t i = 0; i < 3; i++)
            snprintf(g->bl_inst[g->n_bl_inst++], 24, "%s", inst[i]);
        for (size_t i = 0; i < 2; i++)
            snprintf(g->bl_doc[g->n_bl_doc++], 24, "%s", doc[i]);
        for (size_t i = 0; i < 2; i++)
            snprintf(g->bl_pers[g->n_bl_pers++], 24, "%s", pers[i]);
        return 0;
    }
    json_error_t je;
    json_t *j = json_load_file(g->p.blacklists, 0, &je);
    if (!j)
        return fg_err(n ? errstr : NULL, n, -1, "%s:%d: %s", g->p.blacklists, je.line, je.text);
    const char *keys[3] = {"institutions", "doctors", "persons"};
    char(*dst[3])[24] = {g->bl_inst, g->bl_doc, g->bl_pers};
    int *cnt[3] = {&g->n_bl_inst, &g->n_bl_doc, &g->n_bl_pers};
    for (int k = 0; k < 3; k++) {
        json_t *a = json_object_get(j, keys[k]);
        size_t i;
        json_t *v;
        json_array_foreach(a, i, v) {
            const char *s = json_string_value(v);
            if (s && strlen(s) < 24 && *cnt[k] < 8)
                snprintf(dst[k][(*cnt[k])++], 24, "%s", s);
        }
    }
    json_decref(j);
    return 0;
}

static int build_world(gen_t *g, char *errstr, size_t n) {
    /* one "hospital group" (1 hospital, 6.85 primary, 9.16 pharmacies, the seeds' 213/1,459/1,952)
     * makes about 210 events a day at full volume; fewer than two hospitals are scaled down */
    double per_day = (double)g->p.target_events / g->days;
    double groups = per_day / 210.0;
    g->n_hosp = groups < 2 ? 2 : (uint32_t)(groups + 0.5);
    double f = groups / g->n_hosp;
    if (f > 1)
        f = 1;
    g->n_prim = (uint32_t)(g->n_hosp * 1459.0 / 213.0 + 0.5);
    g->n_phar = (uint32_t)(g->n_hosp * 1952.0 / 213.0 + 0.5);
    g->n_inst = g->n_hosp + g->n_prim + g->n_phar;
    if (g->n_inst > 999999) /* trace codes carry a 6-digit institution number */
        return fg_err(errstr, n, -1, "%.0f events a day need %u institutions, more than 999,999: use more days",
                      per_day, g->n_inst);
    g->hosp0 = 0;
    g->prim0 = g->n_hosp;
    g->phar0 = g->n_hosp + g->n_prim;
    g->nr = g->n_hosp < GEN_MAX_REGIONS ? (int)g->n_hosp : GEN_MAX_REGIONS;
    for (int r = 0; r < g->nr; r++)
        snprintf(g->regions[r], sizeof(g->regions[r]), "%s", REGION_CODES[r]);
    g->inst = calloc(g->n_inst, sizeof(*g->inst));
    g->stock = calloc((size_t)g->n_inst * (size_t)gen_n_drugs, sizeof(*g->stock));
    if (!g->inst || !g->stock)
        return fg_err(errstr, n, -1, "out of memory for %u institutions", g->n_inst);
    static const char TL[3] = {'H', 'C', 'P'};
    uint32_t cnt[3] = {0, 0, 0};
    for (uint32_t i = 0; i < g->n_inst; i++) {
        gen_inst_t *in = &g->inst[i];
        int t = i < g->prim0 ? 0 : i < g->phar0 ? 1 : 2;
        in->type = t == 0 ? FG_INST_HOSPITAL : t == 1 ? FG_INST_PRIMARY : FG_INST_PHARMACY;
        uint32_t k = cnt[t]++;
        in->region = (uint8_t)(k % (uint32_t)g->nr);
        snprintf(in->id, sizeof(in->id), "%c%s%05u", TL[t], g->regions[in->region], k + 1);
        double size = 0.6 + 0.8 * gen_unif(&g->rng); /* institutions differ in size */
        in->visits = f * size * (t == 0 ? 60.0 : t == 1 ? 3.5 : 4.0);
        in->admits = t == 0 ? f * size * 5.0 : 0;
        in->doctor0 = g->n_doctors;
        in->n_doctors = t == 0 ? 4 + (uint32_t)(10 * size * f) : t == 1 ? 2 : 0;
        g->n_doctors += in->n_doctors;
    }
    /* persons: about one visit each every 25 days */
    double claims_day = per_day * 0.62;
    g->n_pers = (uint64_t)(claims_day * 25);
    if (g->n_pers < 3000)
        g->n_pers = 3000;
    g->n_pers -= g->n_pers % (uint64_t)g->nr;
    g->pers = malloc(g->n_pers * sizeof(*g->pers));
    if (!g->pers)
        return fg_err(errstr, n, -1, "out of memory for %llu persons", (unsigned long long)g->n_pers);
    int32_t today = g->p.start_day;
    for (uint64_t i = 0; i < g->n_pers; i++) {
        gen_person_t *ps = &g->pers[i];
        memset(ps, 0, sizeof(*ps));
        double u = gen_unif(&g->rng);
        int age = u < 0.15   ? (int)gen_below(&g->rng, 14)
                  : u < 0.45 ? 15 + (int)gen_below(&g->rng, 25)
                  : u < 0.80 ? 40 + (int)gen_below(&g->rng, 25)
                             : 65 + (int)gen_below(&g->rng, 25);
        ps->birth = (int16_t)(today - age * 365 - (int)gen_below(&g->rng, 365) - 1);
        ps->gender = gen_below(&g->rng, 2) ? FG_GENDER_FEMALE : FG_GENDER_MALE;
        ps->region = (uint8_t)(i % (uint64_t)g->nr);
        ps->last_visit = ps->stay_from = ps->stay_until = ps->last_admit = GEN_NEVER;
        ps->acute_ok = (int16_t)gen_below(&g->rng, 20);
        ps->next_refill = GEN_NEVER;
        if (age >= 40 && gen_unif(&g->rng) < 0.6) {
            /* more refills fall due than the refill slots of the visits serve (see background_visit),
             * from day 0 on: so every day's mix of visits is the same */
            static const uint8_t CHRONIC[6] = {0, 1, 2, 3, 4, 6}; /* refills of about 50 yuan */
            ps->chronic = (uint8_t)(1 + CHRONIC[gen_below(&g->rng, 6)]);
            ps->next_refill = (int16_t)((int)gen_below(&g->rng, 35) - 10);
        }
    }
    g->st.institutions[0] = g->n_hosp;
    g->st.institutions[1] = g->n_prim;
    g->st.institutions[2] = g->n_phar;
    g->st.regions = (uint32_t)g->nr;
    g->st.doctors = g->n_doctors;
    g->st.persons = g->n_pers;
    return 0;
}

/* ---- background: admissions and visits of one day ---- */

static gen_person_t *pick_person(gen_t *g, uint8_t region, int d, uint64_t *idx, int for_admit) {
    uint64_t per = g->n_pers / (uint64_t)g->nr;
    for (int tries = 0; tries < 8; tries++) {
        uint64_t i = (uint64_t)gen_below(&g->rng, (uint32_t)per) * (uint64_t)g->nr + region;
        gen_person_t *ps = &g->pers[i];
        if (ps->last_visit == d)
            continue;
        if (ps->stay_until != GEN_NEVER && ps->stay_until >= d - 1)
            continue; /* in a stay, or just out */
        if (for_admit && ps->last_admit != GEN_NEVER && d - ps->last_admit < 95)
            continue;
        *idx = i;
        return ps;
    }
    return NULL;
}

static int64_t pick_time(gen_t *g, int d, fg_inst_type_t type) {
    /* working hours: a morning peak, an afternoon clinic, pharmacies open into the evening */
    double u = gen_unif(&g->rng), h;
    if (type == FG_INST_PHARMACY)
        h = 8.0 + 13.0 * u;
    else if (u < 0.55)
        h = 8.0 + 3.5 * gen_unif(&g->rng);
    else if (u < 0.92)
        h = 14.0 + 3.5 * gen_unif(&g->rng);
    else
        h = type == FG_INST_HOSPITAL ? 18.0 + 5.5 * gen_unif(&g->rng) : 11.5 + 2.5 * gen_unif(&g->rng);
    return gen_day_ms(g, d) + (int64_t)(h * 3600000.0);
}

/* may inst dispense one more line of drug today? (caps the institution-daily volume) */
static int drug_ok(gen_t *g, uint32_t inst, int di) {
    gen_stock_t *s = &g->stock[(size_t)inst * gen_n_drugs + di];
    int q = gen_drugs[di].qty;
    int cap = 49 / q; /* a day under 50 units never fires */
    if (s->days_data) {
        int hist = (int)(2.2 * (double)s->sum_lines / s->days_data);
        if (hist > cap)
            cap = hist;
    } else if (cap < 2) {
        cap = 2;
    }
    return s->today < cap;
}

static void drug_take(gen_t *g, uint32_t inst, int di) { g->stock[(size_t)inst * gen_n_drugs + di].today++; }

/*
 * Background stays are kept as open-stay records and billed day by day (admission, a
 * presence check each later day, a claim each day, discharge), so memory holds the
 * stays in progress, not their future events.
 */
static void background_admissions(gen_t *g, int d) {
    for (uint32_t h = g->hosp0; h < g->hosp0 + g->n_hosp; h++) {
        int n = noisy_count(&g->rng, g->inst[h].admits, 0.2);
        for (int k = 0; k < n; k++) {
            uint64_t pi;
            gen_person_t *ps = pick_person(g, g->inst[h].region, d, &pi, 1);
            if (!ps)
                continue;
            int los = 4 + (int)gen_below(&g->rng, 5); /* 4..8 days */
            if (g->n_open == g->cap_open) {
                g->cap_open = g->cap_open ? 2 * g->cap_open : 1024;
                g->open = realloc(g->open, g->cap_open * sizeof(*g->open));
                if (!g->open)
                    abort();
            }
            gen_open_t *o = &g->open[g->n_open++];
            memset(o, 0, sizeof(*o));
            o->pi = pi;
            o->hosp = h;
            o->d0 = (int16_t)d;
            o->los = (uint8_t)los;
            o->admit_ms = gen_day_ms(g, d) + GEN_H(8) + (int64_t)(gen_unif(&g->rng) * 12 * 3600000.0);
            o->geriatric = gen_age(g, ps->birth, o->admit_ms) >= 65; /* once per stay, on its second day */
            snprintf(o->adm, sizeof(o->adm), "ZY%s%08llu", g->inst[h].id + 1, (unsigned long long)++g->n_adm);
            gen_doctor_id(g, h, &g->rng, o->doctor, sizeof(o->doctor));
            ps->stay_from = (int16_t)d;
            ps->stay_until = (int16_t)(d + los);
            ps->last_admit = (int16_t)d;
            ps->last_visit = (int16_t)d;
        }
    }
}

static void stay_claim_items(gen_b_t *b, int j, int adult, int bed_only, int geriatric);

static void background_stays_day(gen_t *g, int d) {
    size_t w = 0;
    for (size_t i = 0; i < g->n_open; i++) {
        gen_open_t *o = &g->open[i];
        int j = d - o->d0;
        const gen_person_t *ps = &g->pers[o->pi];
        char pid[24], card[24];
        gen_person_id(g, o->pi, ps->region, pid, sizeof(pid));
        gen_card_id(g, o->pi, ps->region, card, sizeof(card));
        int64_t dj = gen_day_ms(g, d);
        gen_b_t b;
        if (j == 0) {
            gen_b_ip(g, &b, o->admit_ms, o->hosp, pid, o->adm, FG_IP_ADMIT);
            snprintf(b.doctor, sizeof(b.doctor), "%s", o->doctor);
            b.ev.u.inpatient.doctor_id = b.doctor;
            day_add(g, pack(g, &b));
        }
        if (j >= 1 && j < o->los) {
            gen_b_ip(g, &b, dj + GEN_H(9) + gen_below(&g->rng, 3600) * 1000LL, o->hosp, pid, o->adm,
                     FG_IP_PRESENCE_CHECK);
            b.ev.u.inpatient.present = 1;
            b.ev.u.inpatient.check_method = gen_below(&g->rng, 2) ? FG_CHECK_WARD_ROUND : FG_CHECK_FACE;
            day_add(g, pack(g, &b));
        }
        if (j >= 0 && j < o->los) {
            gen_b_claim(g, &b, dj + GEN_H(21) + gen_below(&g->rng, 3600) * 1000LL, o->hosp, pid, card, ps->gender,
                        ps->birth, FG_VISIT_INPATIENT);
            b.ev.u.claim.admission_id = o->adm;
            snprintf(b.doctor, sizeof(b.doctor), "%s", o->doctor);
            b.ev.u.claim.doctor_id = b.doctor;
            int adult = gen_age(g, ps->birth, o->admit_ms) >= 18;
            stay_claim_items(&b, j, adult, 0, o->geriatric && j == 1);
            if (adult)
                drug_take(g, o->hosp, gen_n_drugs - 1);
            finish_claim(&b);
            day_add(g, pack(g, &b));
        }
        if (j >= o->los) {
            gen_b_ip(g, &b, dj + GEN_H(9) + gen_below(&g->rng, 3 * 3600) * 1000LL, o->hosp, pid, o->adm,
                     FG_IP_DISCHARGE);
            day_add(g, pack(g, &b));
            continue; /* closed */
        }
        g->open[w++] = *o;
    }
    g->n_open = w;
}

/*
 * One outpatient or pharmacy visit. The k-th visit of an institution takes slot k % 10, and
 * the slot decides what the visit is (2 in 10 a chronic refill, then exams, then acute care),
 * so every day of an institution has the same mix of visits whatever its volume: its average
 * cost per visit stays as steady as a real institution's (institution_indicators compares it
 * with its own history), while who comes and what exactly they get stay random.
 */
static void background_visit(gen_t *g, uint32_t ii, int d) {
    gen_inst_t *in = &g->inst[ii];
    uint32_t slot = in->vk++ % 10;
    uint64_t pi = 0;
    gen_person_t *ps = NULL;
    int chronic = slot < 2;
    if (chronic) {
        for (int tries = 0; tries < 24 && !ps; tries++) {
            gen_person_t *c = pick_person(g, in->region, d, &pi, 0);
            if (c && c->chronic && c->next_refill != GEN_NEVER && c->next_refill <= d && drug_ok(g, ii, c->chronic - 1))
                ps = c;
        }
        if (!ps)
            chronic = 0; /* nobody due: an exam visit instead */
    }
    if (!ps) {
        for (int tries = 0; tries < 4 && (!ps || ps->acute_ok > d); tries++)
            ps = pick_person(g, in->region, d, &pi, 0);
        if (!ps)
            return;
    }
    int64_t t = pick_time(g, d, in->type);
    char pid[24], card[24];
    gen_person_id(g, pi, ps->region, pid, sizeof(pid));
    gen_card_id(g, pi, ps->region, card, sizeof(card));
    gen_b_t b;
    int age = gen_age(g, ps->birth, t);
    fg_visit_t visit = in->type == FG_INST_PHARMACY                                 ? FG_VISIT_PHARMACY
                       : (in->type == FG_INST_HOSPITAL && gen_unif(&g->rng) < 0.06) ? FG_VISIT_EMERGENCY
                                                                                    : FG_VISIT_OUTPATIENT;
    gen_b_claim(g, &b, t, ii, pid, card, ps->gender, ps->birth, visit);
    int n_drugs = 0;
    if (in->type != FG_INST_PHARMACY) {
        gen_doctor_id(g, ii, &g->rng, b.doctor, sizeof(b.doctor));
        b.ev.u.claim.doctor_id = b.doctor;
        gen_item(&b, C_CONSULT, FG_ITEM_SERVICE, 1, in->type == FG_INST_HOSPITAL ? 1000 : 600, FG_DAYS_ABSENT, NULL);
        if (in->type == FG_INST_HOSPITAL && !chronic) {
            if (slot != 6) /* a blood count with the exams and the acute cases alike */
                gen_item(&b, C_BLOOD, FG_ITEM_EXAM, 1, 2500, FG_DAYS_ABSENT, NULL);
            else if (slot == 6)
                gen_item(&b, C_ULTRASOUND, FG_ITEM_EXAM, 1, 5000, FG_DAYS_ABSENT, NULL);
            if (slot == 6 && ps->gender == FG_GENDER_MALE && age >= 50 && gen_unif(&g->rng) < 0.2)
                gen_item(&b, C_PSA, FG_ITEM_EXAM, 1, 5000, FG_DAYS_ABSENT, NULL);
            if (slot == 6 && ps->gender == FG_GENDER_FEMALE && age >= 22 && age <= 40 && gen_unif(&g->rng) < 0.2)
                gen_item(&b, C_PRENATAL, FG_ITEM_SERVICE, 1, 2500, FG_DAYS_ABSENT, NULL);
        }
    }
    if (chronic) {
        /* a chronic refill (any institution type; a pharmacy sells it on the outside prescription) */
        int di = ps->chronic - 1;
        gen_item_drug(&b, di, gen_drugs[di].qty);
        drug_take(g, ii, di);
        n_drugs++;
        ps->next_refill = (int16_t)(d + 31 + (int)gen_below(&g->rng, 5));
    } else if (slot >= 7 || in->type != FG_INST_HOSPITAL) {
        /* acute care or an OTC purchase: one such drug a month at most per person */
        if (ps->acute_ok <= d) {
            int di;
            if (age <= 12)
                di = 16; /* children's ibuprofen */
            else if (in->type == FG_INST_PHARMACY)
                di = 12 + (int)(slot % 4);
            else
                di = 8 + (int)(slot % 4);
            if (drug_ok(g, ii, di)) {
                gen_item_drug(&b, di, gen_drugs[di].qty);
                drug_take(g, ii, di);
                n_drugs++;
                ps->acute_ok = (int16_t)(d + 31);
            }
        }
    }
    if (in->type == FG_INST_PHARMACY && !n_drugs)
        return; /* nothing bought: no settlement */
    {
        fg_claim_t *c = &b.ev.u.claim;
        int rx = 0;
        for (uint32_t i = 0; i < c->n_items; i++) {
            int di = gen_drug_index(c->items[i].code);
            if (di >= 0 && gen_drugs[di].rx)
                rx = 1;
        }
        if (rx || (in->type != FG_INST_PHARMACY && n_drugs))
            gen_new_rx(g, &b);
        if (in->type == FG_INST_PHARMACY)
            c->buyer_registered = rx || gen_unif(&g->rng) < 0.4;
    }
    ps->last_visit = (int16_t)d;
    finish_claim(&b);
    day_add(g, pack(g, &b));
}

static void background_ct(gen_t *g, int d) {
    /* CT scans at hospitals: 0..4 a day each (under high_value_usage's minimum volume of 5) */
    for (uint32_t h = g->hosp0; h < g->hosp0 + g->n_hosp; h++) {
        int n = noisy_count(&g->rng, g->inst[h].visits / 40.0, 0.2);
        if (n > 4)
            n = 4;
        for (int k = 0; k < n; k++) {
            uint64_t pi;
            gen_person_t *ps = pick_person(g, g->inst[h].region, d, &pi, 0);
            if (!ps)
                continue;
            int64_t t = pick_time(g, d, FG_INST_HOSPITAL);
            char pid[24], card[24];
            gen_person_id(g, pi, ps->region, pid, sizeof(pid));
            gen_card_id(g, pi, ps->region, card, sizeof(card));
            gen_b_t b;
            gen_b_claim(g, &b, t, h, pid, card, ps->gender, ps->birth, FG_VISIT_OUTPATIENT);
            gen_doctor_id(g, h, &g->rng, b.doctor, sizeof(b.doctor));
            b.ev.u.claim.doctor_id = b.doctor;
            gen_item(&b, C_CONSULT, FG_ITEM_SERVICE, 1, 1000, FG_DAYS_ABSENT, NULL);
            gen_item(&b, C_CT, FG_ITEM_EXAM, 1, 9000, FG_DAYS_ABSENT, NULL);
            ps->last_visit = (int16_t)d;
            finish_claim(&b);
            day_add(g, pack(g, &b));
        }
    }
}

static void background_visits(gen_t *g, int d) {
    int dow = (int)((g->p.start_day + d + 3) % 7); /* 0 = Monday */
    int weekend = dow >= 5;
    for (uint32_t i = 0; i < g->n_inst; i++) {
        const gen_inst_t *in = &g->inst[i];
        double wf = !weekend ? 1.0 : in->type == FG_INST_HOSPITAL ? 0.9 : in->type == FG_INST_PRIMARY ? 0.6 : 1.1;
        int n = noisy_count(&g->rng, in->visits * wf, in->type == FG_INST_HOSPITAL ? 0.1 : 0.2);
        for (int k = 0; k < n; k++)
            background_visit(g, i, d);
    }
    background_ct(g, d);
}

/* ---- stock (进销存) ---- */

static int emit(gen_t *g, gen_ev_t *e);

static void trace_code(char *out, size_t n, uint32_t inst, int di, uint64_t serial) {
    snprintf(out, n, "81%02u%06u%010llu", (unsigned)di % 100u, inst % 1000000u,
             (unsigned long long)(serial % 10000000000ULL));
}

/* a purchase of qty units (whole boxes) of drug di by inst at t */
/* later: queue it with the day's events (stock counted when it is emitted, in time order); else emit it
 * now, counted at once (a purchase just before the sale that needs it) */
static int purchase(gen_t *g, uint32_t inst, int di, int64_t qty, int64_t t, int later) {
    const gen_drug_t *dr = &gen_drugs[di];
    int64_t boxes = (qty + dr->box - 1) / dr->box;
    if (boxes > 2000)
        boxes = 2000; /* validation.max_trace_codes is 10,000 per item */
    gen_stock_t *s = &g->stock[(size_t)inst * gen_n_drugs + di];
    gen_b_t b;
    gen_b_inv(g, &b, t, inst, FG_INV_PURCHASE);
    snprintf(b.rx, sizeof(b.rx), "FP%010llu", (unsigned long long)g->n_inv); /* invoice number */
    b.ev.u.invoicing.invoice_no = b.rx;
    b.ev.u.invoicing.supplier = "SUP-SX-PHARMA-01";
    gen_item(&b, dr->code, FG_ITEM_DRUG, (double)(boxes * dr->box), dr->price * 7 / 10, FG_DAYS_ABSENT, NULL);
    gen_ev_t *e = pack(g, &b);
    e->inst = -1; /* already accounted here */
    if (g->inst[inst].type == FG_INST_PHARMACY) {
        /* the boxes' trace codes: pack reserves none for a purchase, so copy into room for them */
        gen_ev_t *src = e;
        size_t size = sizeof(gen_ev_t) + sizeof(fg_item_t) + (size_t)boxes * (sizeof(char *) + 24) + 256;
        e = calloc(1, size);
        if (!e)
            abort();
        e->ev = src->ev;
        e->seq = src->seq;
        e->inst = -1;
        memset(e->didx, 255, sizeof(e->didx));
        char *p = (char *)(e + 1);
        fg_item_t *it = (fg_item_t *)p;
        *it = src->ev.u.invoicing.items[0];
        p += sizeof(fg_item_t);
        const char **tcv = (const char **)p;
        p += (size_t)boxes * sizeof(char *);
        for (int64_t k = 0; k < boxes; k++) {
            tcv[k] = p;
            trace_code(p, 24, inst, di, s->serial_hi + (uint64_t)k);
            p += 24;
        }
        it->trace_codes = tcv;
        it->n_trace_codes = (uint32_t)boxes;
        /* strings of the copy */
        char *sp = p;
        const char *fields[6] = {src->ev.event_id,
                                 src->ev.region,
                                 src->ev.institution_id,
                                 it->code,
                                 src->ev.u.invoicing.invoice_no,
                                 src->ev.u.invoicing.supplier};
        const char **dst[6] = {&e->ev.event_id,
                               &e->ev.region,
                               &e->ev.institution_id,
                               &it->code,
                               &e->ev.u.invoicing.invoice_no,
                               &e->ev.u.invoicing.supplier};
        for (int k = 0; k < 6; k++) {
            size_t l = strlen(fields[k]) + 1;
            memcpy(sp, fields[k], l);
            *dst[k] = sp;
            sp += l;
        }
        e->ev.u.invoicing.items = it;
        free(src);
    }
    s->serial_hi += (uint64_t)boxes;
    s->reported = 1;
    if (later) {
        e->inst = (int32_t)inst; /* emit() adds it to the stock */
        memset(e->didx, 255, sizeof(e->didx));
        e->didx[0] = (uint8_t)di;
        day_add(g, e);
        return 0;
    }
    s->stock += boxes * dr->box;
    return emit(g, e);
}

/* weekly purchases (Mondays) and the stocktake that opens each 30-day inventory window */
static int inventory_day(gen_t *g, int d) {
    int64_t day = g->p.start_day + d;
    int dow = (int)((day + 3) % 7);
    int window_start = day % 30 == 0;
    if (dow != 0 && !window_start)
        return 0;
    for (uint32_t i = 0; i < g->n_inst; i++)
        for (int di = 0; di < gen_n_drugs; di++) {
            gen_stock_t *s = &g->stock[(size_t)i * gen_n_drugs + di];
            if (!s->reported)
                continue;
            if (window_start) {
                gen_b_t b;
                gen_b_inv(g, &b, gen_day_ms(g, d) - 1, i, FG_INV_STOCKTAKE);
                gen_item(&b, gen_drugs[di].code, FG_ITEM_DRUG, (double)s->stock, gen_drugs[di].price * 7 / 10,
                         FG_DAYS_ABSENT, NULL);
                gen_ev_t *e = pack(g, &b);
                e->inst = -1;
                if (emit(g, e))
                    return -1;
            }
            if (dow == 0) {
                int64_t target = 2 * s->sold_week;
                s->sold_week = 0;
                if (target > s->stock && purchase(g, i, di, target - s->stock,
                                                  gen_day_ms(g, d) + GEN_H(7) + gen_below(&g->rng, 3600) * 1000LL, 1))
                    return -1;
            }
        }
    return 0;
}

/* ---- emission ---- */

static int emit(gen_t *g, gen_ev_t *e) {
    fg_event_t *ev = &e->ev;
    if (g->failed) {
        free(e);
        return -1;
    }
    /* drug lines through the stock of their institution (sales out, purchases in) */
    if (e->inst >= 0 && ev->stream != FG_STREAM_INPATIENT) {
        fg_item_t *items = ev->stream == FG_STREAM_CLAIMS ? ev->u.claim.items : ev->u.invoicing.items;
        uint32_t n = ev->stream == FG_STREAM_CLAIMS ? ev->u.claim.n_items : ev->u.invoicing.n_items;
        for (uint32_t i = 0; i < n && i < GEN_MAX_ITEMS; i++) {
            if (e->didx[i] == 255)
                continue;
            int di = e->didx[i];
            gen_stock_t *s = &g->stock[(size_t)e->inst * gen_n_drugs + di];
            int64_t q = (int64_t)items[i].quantity;
            if (ev->stream == FG_STREAM_INVOICING) {
                if (ev->u.invoicing.type == FG_INV_PURCHASE)
                    s->stock += q, s->reported = 1;
                continue;
            }
            if (s->stock < q) {
                int64_t lot = q > 20 * gen_drugs[di].box ? q : 20 * gen_drugs[di].box;
                if (purchase(g, (uint32_t)e->inst, di, lot, ev->event_time_ms - 1, 0)) {
                    free(e);
                    return -1;
                }
            }
            s->stock -= q;
            s->sold_week += q;
            if (e->trace_mask & (1u << i)) {
                for (uint32_t k = 0; k < items[i].n_trace_codes; k++) {
                    /* FIFO over the boxes bought; a box beyond them (stock that came without codes of
                     * ours) gets a fresh serial, never one that a purchase will carry later */
                    uint64_t serial = s->serial_lo++;
                    if (s->serial_hi < s->serial_lo)
                        s->serial_hi = s->serial_lo;
                    trace_code((char *)items[i].trace_codes[k], 24, (uint32_t)e->inst, di, serial);
                }
            }
        }
    }
    g->st.events[ev->stream]++;
    if (ev->stream == FG_STREAM_CLAIMS)
        g->st.claims_by_visit[ev->u.claim.visit_type & 3]++;
    if (ev->stream == FG_STREAM_INPATIENT && (unsigned)ev->u.inpatient.type < 6)
        g->st.inpatient_by_type[ev->u.inpatient.type]++;
    if (ev->stream == FG_STREAM_INVOICING)
        g->st.invoicing_by_type[ev->u.invoicing.type & 3]++;
    const char *key = ev->stream == FG_STREAM_INVOICING ? ev->institution_id : ev->patient_id;
    int rc = g->sink->event ? g->sink->event(g->sink->ctx, key, strlen(key), ev->event_time_ms, ev) : 0;
    free(e);
    if (rc) {
        g->failed = 1;
        snprintf(g->err, sizeof(g->err), "sink stopped (event)");
        return -1;
    }
    return 0;
}

static int cmp_day(const void *x, const void *y) {
    const gen_ev_t *a = *(gen_ev_t *const *)x, *b = *(gen_ev_t *const *)y;
    if (a->ev.event_time_ms != b->ev.event_time_ms)
        return a->ev.event_time_ms < b->ev.event_time_ms ? -1 : 1;
    if (a->ev.stream != b->ev.stream)
        return a->ev.stream < b->ev.stream ? -1 : 1;
    return strcmp(a->ev.event_id, b->ev.event_id);
}

static void free_all(gen_t *g) {
    for (size_t i = 0; i < g->n_heap; i++)
        free(g->heap[i]);
    for (size_t i = 0; i < g->n_day; i++)
        free(g->dayv[i]);
    free(g->heap);
    free(g->dayv);
    free(g->inst);
    free(g->stock);
    free(g->pers);
    free(g->cases);
    free(g->open);
}

int fg_gen_run(const fg_gen_params_t *p, fg_gen_sink_t *sink, char *errstr, size_t errstr_size) {
    if (p->days < 28 || p->days > 3650)
        return fg_err(errstr, errstr_size, -1,
                      "days must be 28..3650 (got %d): the baseline rules need weeks of history and the inventory "
                      "rule a whole 30-day window",
                      p->days);
    if (p->start_day < 10957 || p->start_day > 32507)
        return fg_err(errstr, errstr_size, -1, "start day %d out of range (2000-01-01 .. 2058-12-31)", p->start_day);
    if (p->target_events < 1000 || p->target_events > 2000000000ULL)
        return fg_err(errstr, errstr_size, -1, "events must be 1,000..2,000,000,000 (got %llu)",
                      (unsigned long long)p->target_events);
    gen_t *g = calloc(1, sizeof(*g));
    if (!g)
        return fg_err(errstr, errstr_size, -1, "out of memory");
    g->p = *p;
    g->sink = sink;
    g->days = p->days;
    g->t0 = (int64_t)p->start_day * GEN_DAY_MS - GEN_TZ_MS;
    gen_rng_seed(&g->rng, p->seed, 0);
    int rc = load_blacklists(g, errstr, errstr_size);
    if (!rc)
        rc = build_world(g, errstr, errstr_size);
    if (!rc)
        rc = gen_cases_plan(g);
    /* warm start: hospitals already have in-patients on day 0 (admitted before it, their earlier events
     * never generated), so the mix of inpatient and outpatient claims, and the cost per visit, is steady */
    for (int d = -12; !rc && d < 0; d++)
        background_admissions(g, d);
    for (int d = 0; !rc && d < g->days && !g->failed; d++) {
        /* today's counters of drug lines; history for the caps */
        for (size_t i = 0; i < (size_t)g->n_inst * gen_n_drugs; i++) {
            gen_stock_t *s = &g->stock[i];
            if (s->today)
                s->days_data++, s->sum_lines += s->today;
            s->today = 0;
        }
        if (inventory_day(g, d))
            break;
        gen_cases_day(g, d);
        background_admissions(g, d);
        background_stays_day(g, d);
        int64_t end = gen_day_ms(g, d + 1);
        while (g->n_heap && g->heap[0]->ev.event_time_ms < end) {
            gen_ev_t *e = heap_pop(g);
            if (e->ev.event_time_ms < g->t0) { /* warm-start stays: before the run */
                free(e);
                continue;
            }
            if (e->ev.stream == FG_STREAM_CLAIMS && e->inst >= 0)
                for (uint32_t i = 0; i < e->ev.u.claim.n_items && i < GEN_MAX_ITEMS; i++)
                    if (e->didx[i] != 255)
                        drug_take(g, (uint32_t)e->inst, e->didx[i]);
            day_add(g, e);
        }
        background_visits(g, d);
        qsort(g->dayv, g->n_day, sizeof(*g->dayv), cmp_day);
        size_t i = 0;
        for (; i < g->n_day; i++)
            if (emit(g, g->dayv[i]))
                break;
        for (i++; i < g->n_day; i++)
            free(g->dayv[i]);
        g->n_day = 0;
    }
    if (!rc && g->failed)
        rc = fg_err(errstr, errstr_size, -1, "%s", g->err);
    g->st.case_persons = g->n_case_pers;
    if (sink->stats)
        *sink->stats = g->st;
    free_all(g);
    free(g);
    return rc;
}
