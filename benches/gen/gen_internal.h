/*
 * gen_internal.h - what gen.c (world, background, emission) and gen_cases.c
 * (injected fraud cases + ground truth) share. Not a public interface.
 */
#ifndef FG_GEN_INTERNAL_H
#define FG_GEN_INTERNAL_H

#include <stdint.h>

#include "gen.h"

#define GEN_NEVER INT16_MIN
#define GEN_MAX_ITEMS 8
#define GEN_TZ_MS (8 * 3600000LL) /* days are Beijing calendar days */
#define GEN_DAY_MS 86400000LL
#define GEN_H(h) ((int64_t)((h)*3600000.0))
#define GEN_MAX_REGIONS 11
#define GEN_CASE_IDS 64

typedef struct {
    uint64_t s[4];
} gen_rng_t;

void gen_rng_seed(gen_rng_t *r, uint64_t seed, uint64_t stream);
uint64_t gen_rand(gen_rng_t *r);
double gen_unif(gen_rng_t *r);                /* [0, 1) */
uint32_t gen_below(gen_rng_t *r, uint32_t n); /* [0, n), n > 0 */

/* drug classes of the background formulary */
enum { GD_CHRONIC = 0, GD_ACUTE, GD_OTC, GD_PEDIATRIC, GD_INPATIENT };

typedef struct {
    const char *code, *name;
    int cls;
    int qty;       /* units per line (fixed: the institution-daily baseline stays stable) */
    int days;      /* days of supply per line */
    int64_t price; /* fen per unit (<= the catalogue's price ceiling) */
    int box;       /* units per box (trace codes are per box) */
    int rx;        /* prescription-only */
} gen_drug_t;

extern const gen_drug_t gen_drugs[];
extern const int gen_n_drugs;

/* one insured person, 20 bytes: ids are derived from the index, not stored */
typedef struct {
    int16_t birth;  /* days since the epoch */
    uint8_t gender; /* fg_gender_t */
    uint8_t region;
    uint8_t chronic; /* 0 none, else gen_drugs index + 1 */
    uint8_t pad;
    int16_t last_visit; /* generation-relative days, GEN_NEVER */
    int16_t next_refill;
    int16_t acute_ok; /* first day an acute/OTC drug may be dispensed again */
    int16_t stay_from, stay_until;
    int16_t last_admit;
} gen_person_t;

typedef struct {
    char id[16];
    fg_inst_type_t type;
    uint8_t region;
    double visits; /* mean outpatient / pharmacy claims per day */
    double admits; /* mean admissions per day (hospitals) */
    uint32_t doctor0, n_doctors;
    uint32_t vk; /* visits so far: the slot of the next one (see background_visit) */
} gen_inst_t;

/* stock of one drug at one institution (进销存) */
typedef struct {
    int64_t stock, sold_week;
    uint64_t serial_lo, serial_hi; /* boxes [lo, hi) bought and not yet sold (trace codes) */
    int32_t today;                 /* lines today (cap of the institution-daily volume) */
    int32_t days_data;
    int64_t sum_lines;
    uint8_t reported;
} gen_stock_t;

/* an event owned by the generator: one allocation holding the event and its strings */
typedef struct gen_ev {
    fg_event_t ev;
    uint64_t seq;
    int32_t inst;                /* background institution index, -1 for none */
    uint8_t trace_mask;          /* items whose trace codes are assigned from stock at emission */
    uint8_t didx[GEN_MAX_ITEMS]; /* formulary index per item, 255 = not stock-tracked */
} gen_ev_t;

/* an event being built (strings in its own buffers) */
typedef struct {
    fg_event_t ev;
    fg_item_t items[GEN_MAX_ITEMS];
    const char *trace[GEN_MAX_ITEMS]; /* one explicit trace code per item, or NULL */
    char id[40], patient[24], card[24], adm[48], rx[32], doctor[24], inst[24], region[8];
    int32_t inst_idx;
    int want_trace; /* pharmacy sale: trace codes from stock */
} gen_b_t;

/* a background stay in progress */
typedef struct {
    uint64_t pi;
    int64_t admit_ms;
    uint32_t hosp;
    int16_t d0;
    uint8_t los, geriatric;
    char adm[32], doctor[16];
} gen_open_t;

typedef struct {
    uint8_t pat;
    int16_t start;  /* day of its first event (generation-relative) */
    int16_t anchor; /* pattern-specific day */
    int32_t inst;   /* pattern-specific institution */
    int32_t k;      /* index of the case within its pattern */
    uint64_t seed;
} gen_case_t;

typedef struct gen {
    fg_gen_params_t p;
    fg_gen_sink_t *sink;
    fg_gen_stats_t st;
    gen_rng_t rng;
    int days;
    int64_t t0; /* ms of day 0 00:00 Beijing */
    /* world */
    int nr;
    char regions[GEN_MAX_REGIONS][8];
    gen_inst_t *inst;
    uint32_t n_inst, n_hosp, n_prim, n_phar, hosp0, prim0, phar0;
    uint32_t n_doctors;
    gen_person_t *pers;
    uint64_t n_pers, n_case_pers;
    gen_stock_t *stock; /* [n_inst][gen_n_drugs] */
    /* blacklists */
    char bl_inst[8][24], bl_doc[8][24], bl_pers[8][24];
    int n_bl_inst, n_bl_doc, n_bl_pers;
    /* events */
    uint64_t seq, n_claim, n_ip, n_inv, n_adm, n_rx, n_case_code;
    gen_ev_t **heap; /* pending future events, min-heap by (time, seq) */
    size_t n_heap, cap_heap;
    gen_ev_t **dayv; /* this day's events */
    size_t n_day, cap_day;
    gen_open_t *open; /* background stays in progress */
    size_t n_open, cap_open;
    /* cases */
    gen_case_t *cases;
    size_t n_cases, next_case;
    uint64_t n_case_ids;
    int failed;
    char err[256];
} gen_t;

/* ---- helpers shared with gen_cases.c ---- */
int64_t gen_day_ms(const gen_t *g, int d); /* 00:00 Beijing of generation day d */
int gen_age(const gen_t *g, int16_t birth, int64_t t_ms);
void gen_person_id(const gen_t *g, uint64_t idx, uint8_t region, char *out, size_t n);
void gen_card_id(const gen_t *g, uint64_t idx, uint8_t region, char *out, size_t n);
uint64_t gen_case_person(gen_t *g);                                              /* a fresh person index for a case */
uint32_t gen_pick_inst(gen_t *g, gen_rng_t *r, fg_inst_type_t type, int region); /* region -1: any */
void gen_doctor_id(const gen_t *g, uint32_t inst, gen_rng_t *r, char *out, size_t n);
int gen_drug_index(const char *code);

/* builders: claim / inpatient / invoicing, then gen_item(), then gen_push() */
void gen_b_claim(gen_t *g, gen_b_t *b, int64_t t, uint32_t inst, const char *patient, const char *card, uint8_t gender,
                 int32_t birth, fg_visit_t visit);
void gen_b_claim_ext(gen_t *g, gen_b_t *b, int64_t t, const char *inst_id, fg_inst_type_t type, const char *region,
                     const char *patient, const char *card, uint8_t gender, int32_t birth, fg_visit_t visit);
void gen_b_ip(gen_t *g, gen_b_t *b, int64_t t, uint32_t inst, const char *patient, const char *adm, fg_ip_type_t type);
void gen_b_inv(gen_t *g, gen_b_t *b, int64_t t, uint32_t inst, fg_inv_type_t type);
void gen_item(gen_b_t *b, const char *code, fg_item_kind_t kind, double qty, int64_t price, int32_t days,
              const char *trace);
void gen_item_drug(gen_b_t *b, int didx, double qty);
void gen_new_adm(gen_t *g, gen_b_t *b, uint32_t inst);
void gen_new_rx(gen_t *g, gen_b_t *b);
/* finishes the claim totals, packs and queues the event; @returns its id, valid until the event is
 * emitted (copy it) */
const char *gen_push(gen_t *g, gen_b_t *b);

/* a stay of a person at a hospital: admit, daily presence checks (present), optional daily claims,
 * discharge. Returns admission, event ids of admit and discharge through the out params. */
typedef struct {
    int claims;        /* daily inpatient claims with treatment */
    int bed_only_from; /* stay days [from, to) billed a bed only; -1 none */
    int bed_only_to;
    int absent_day1, absent_day2; /* stay days whose check is absent (-1 none) */
    int geriatric_days;           /* bit mask of stay days billing the geriatric assessment */
    int discharge;                /* 0: left open */
} gen_stay_opts_t;

typedef struct {
    char adm[48];
    char admit_id[40], discharge_id[40];
    int64_t admit_ms, discharge_ms;
    char claim_ids[16][40];
    int64_t claim_ms[16];
    int n_claims;
    char check_ids[16][40];
    int64_t check_ms[16];
    int n_checks;
} gen_stay_out_t;

void gen_stay(gen_t *g, gen_rng_t *r, uint32_t hosp, const char *patient, const char *card, uint8_t gender,
              int32_t birth, int64_t admit_ms, int los_days, const gen_stay_opts_t *o, gen_stay_out_t *out);

/* truth */
typedef struct {
    char ids[GEN_CASE_IDS][40];
    int n;
    int64_t from, to;
} gen_evset_t;
void gen_evset_add(gen_evset_t *s, const char *id, int64_t t);
void gen_truth(gen_t *g, const char *case_id, fg_gen_pattern_t pat, int pattern_null, const char *stype,
               const char *sid, const char *inst, const gen_evset_t *evs);

/* gen_cases.c */
int gen_cases_plan(gen_t *g);
void gen_cases_day(gen_t *g, int d);

#endif
