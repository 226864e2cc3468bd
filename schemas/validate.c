/*
 * validate.c - semantic checks on a decoded event, the same for JSON and
 * Avro. Anything a detector would otherwise have to distrust (negative
 * money, NaN quantities, clocks decades off, an inpatient claim with no
 * stay) is declined here, once, with a reason a person can act on.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "codec.h"
#include "codec_internal.h"

void fg_validate_opts_default(fg_validate_opts_t *opts) {
    opts->min_event_time_ms = 946684800000LL; /* 2000-01-01T00:00:00Z */
    opts->max_future_ms = FG_MS_PER_DAY;
    opts->max_items = 10000;
    opts->max_trace_codes = 10000;
    opts->max_id_len = 128;
    /* Far above any real settlement, far below what sums of them can overflow: 10,000 items at the
       limit are 10^15 fen, and the detectors' int64 sums and Redis HINCRBY stay exact. */
    opts->max_amount_fen = 100000000000LL;
    opts->max_quantity = 1e8;
}

typedef struct vctx {
    const char *stream;
    const fg_validate_opts_t *o;
    char *reason;
    size_t reason_size;
} vctx_t;

#define DECLINE(x, ...) fg_err((x)->reason, (x)->reason_size, FG_DECLINED, __VA_ARGS__)

/*
 * Where a problem is: "region", "items[2].quantity", "diagnoses[1]",
 * "items[0].trace_codes[3]". Built only when declining: formatting a path
 * per field of every valid event would cost more than the checks.
 */
typedef struct vpath {
    const char *name;
    int item; /* -1: top level */
    int sub;  /* -1: not an array element */
} vpath_t;

static const char *vpath_str(vpath_t p, char *buf, size_t n) {
    int k = p.item >= 0 ? snprintf(buf, n, "items[%d].%s", p.item, p.name) : snprintf(buf, n, "%s", p.name);
    if (p.sub >= 0 && k >= 0 && (size_t)k < n) snprintf(buf + k, n - (size_t)k, "[%d]", p.sub);
    return buf;
}

#define TOP(n) ((vpath_t){(n), -1, -1})
#define ITEM(i, n) ((vpath_t){(n), (int)(i), -1})

#define CHECK(expr)                                                                                                    \
    do {                                                                                                               \
        int rc_ = (expr);                                                                                              \
        if (rc_ != FG_OK) return rc_;                                                                                  \
    } while (0)

/* required: present, non-empty, bounded */
static int req_id(vctx_t *x, const char *s, vpath_t p) {
    char b[96];
    if (!s) return DECLINE(x, "%s: %s: missing", x->stream, vpath_str(p, b, sizeof(b)));
    if (!*s) return DECLINE(x, "%s: %s: empty", x->stream, vpath_str(p, b, sizeof(b)));
    size_t n = strnlen(s, x->o->max_id_len + 1);
    if (n > x->o->max_id_len)
        return DECLINE(x, "%s: %s: too long (more than %zu bytes)", x->stream, vpath_str(p, b, sizeof(b)),
                       x->o->max_id_len);
    return FG_OK;
}

static int opt_id(vctx_t *x, const char *s, vpath_t p) { return s ? req_id(x, s, p) : FG_OK; }

static int non_negative(vctx_t *x, int64_t v, vpath_t p) {
    char b[96];
    if (v < 0) return DECLINE(x, "%s: %s: negative (%" PRId64 ")", x->stream, vpath_str(p, b, sizeof(b)), v);
    return FG_OK;
}

/* money: 0 <= v <= validation.max_amount_fen */
static int money(vctx_t *x, int64_t v, vpath_t p) {
    char b[96];
    CHECK(non_negative(x, v, p));
    if (v > x->o->max_amount_fen)
        return DECLINE(x, "%s: %s: above the limit (%" PRId64 " > %" PRId64 " fen, validation.max_amount_fen)",
                       x->stream, vpath_str(p, b, sizeof(b)), v, x->o->max_amount_fen);
    return FG_OK;
}

static int check_items(vctx_t *x, const fg_item_t *items, uint32_t n) {
    char b[96];
    if (n > x->o->max_items) return DECLINE(x, "%s: items: too many (%u > %u)", x->stream, n, x->o->max_items);
    if (n && !items) return DECLINE(x, "%s: items: %u announced, none given", x->stream, n);
    for (uint32_t i = 0; i < n; i++) {
        const fg_item_t *it = &items[i];
        CHECK(req_id(x, it->code, ITEM(i, "code")));
        if ((unsigned)it->kind > FG_ITEM_EXAM)
            return DECLINE(x, "%s: items[%u].kind: invalid value %d", x->stream, i, (int)it->kind);
        if (!isfinite(it->quantity))
            return DECLINE(x, "%s: items[%u].quantity: not a finite number (%g)", x->stream, i, it->quantity);
        if (it->quantity < 0) return DECLINE(x, "%s: items[%u].quantity: negative (%g)", x->stream, i, it->quantity);
        if (it->quantity > x->o->max_quantity)
            return DECLINE(x, "%s: items[%u].quantity: above the limit (%g > %g, validation.max_quantity)", x->stream, i,
                           it->quantity, x->o->max_quantity);
        CHECK(money(x, it->unit_price_fen, ITEM(i, "unit_price_fen")));
        CHECK(money(x, it->amount_fen, ITEM(i, "amount_fen")));
        if (it->days_supply != FG_DAYS_ABSENT) CHECK(non_negative(x, it->days_supply, ITEM(i, "days_supply")));
        if (it->n_trace_codes > x->o->max_trace_codes)
            return DECLINE(x, "%s: items[%u].trace_codes: too many (%u > %u)", x->stream, i, it->n_trace_codes,
                           x->o->max_trace_codes);
        if (it->n_trace_codes && !it->trace_codes)
            return DECLINE(x, "%s: %s: %u announced, none given", x->stream,
                           vpath_str(ITEM(i, "trace_codes"), b, sizeof(b)), it->n_trace_codes);
        for (uint32_t k = 0; k < it->n_trace_codes; k++)
            CHECK(req_id(x, it->trace_codes[k], (vpath_t){"trace_codes", (int)i, (int)k}));
    }
    return FG_OK;
}

static int check_claim(vctx_t *x, const fg_event_t *ev) {
    const fg_claim_t *c = &ev->u.claim;
    if ((unsigned)c->gender > FG_GENDER_FEMALE)
        return DECLINE(x, "%s: gender: invalid value %d", x->stream, (int)c->gender);
    if ((unsigned)c->visit_type > FG_VISIT_EMERGENCY)
        return DECLINE(x, "%s: visit_type: invalid value %d", x->stream, (int)c->visit_type);
    if (c->birth_date_days != FG_DATE_ABSENT) {
        /* floor division: event times before 1970 are already declined, but stay exact */
        int64_t t = ev->event_time_ms;
        int64_t event_day = t / FG_MS_PER_DAY - (t % FG_MS_PER_DAY < 0);
        if (c->birth_date_days > event_day)
            return DECLINE(x, "%s: birth_date: after the event date (day %d > day %" PRId64 ")", x->stream,
                           (int)c->birth_date_days, event_day);
    }
    CHECK(opt_id(x, c->admission_id, TOP("admission_id")));
    CHECK(opt_id(x, c->doctor_id, TOP("doctor_id")));
    CHECK(opt_id(x, c->prescription_id, TOP("prescription_id")));
    if (c->visit_type == FG_VISIT_INPATIENT && !c->admission_id)
        return DECLINE(x, "%s: admission_id: required for INPATIENT visits", x->stream);
    if (c->n_diagnoses > FG_MAX_DIAGNOSES)
        return DECLINE(x, "%s: diagnoses: too many (%u > %d)", x->stream, c->n_diagnoses, FG_MAX_DIAGNOSES);
    if (c->n_diagnoses && !c->diagnoses)
        return DECLINE(x, "%s: diagnoses: %u announced, none given", x->stream, c->n_diagnoses);
    for (uint32_t i = 0; i < c->n_diagnoses; i++)
        CHECK(req_id(x, c->diagnoses[i], (vpath_t){"diagnoses", -1, (int)i}));
    CHECK(money(x, c->total_fen, TOP("total_fen")));
    CHECK(money(x, c->fund_paid_fen, TOP("fund_paid_fen")));
    CHECK(money(x, c->self_paid_fen, TOP("self_paid_fen")));
    if (c->fund_paid_fen > c->total_fen)
        return DECLINE(x, "%s: fund_paid_fen: exceeds total_fen (%" PRId64 " > %" PRId64 ")", x->stream,
                       c->fund_paid_fen, c->total_fen);
    if (c->self_paid_fen > c->total_fen)
        return DECLINE(x, "%s: self_paid_fen: exceeds total_fen (%" PRId64 " > %" PRId64 ")", x->stream,
                       c->self_paid_fen, c->total_fen);
    return check_items(x, c->items, c->n_items);
}

static int check_inpatient(vctx_t *x, const fg_event_t *ev) {
    const fg_inpatient_t *ip = &ev->u.inpatient;
    if ((unsigned)ip->type > FG_IP_PRESENCE_CHECK)
        return DECLINE(x, "%s: type: invalid value %d", x->stream, (int)ip->type);
    if ((unsigned)ip->check_method > FG_CHECK_BED_SENSOR)
        return DECLINE(x, "%s: check_method: invalid value %d", x->stream, (int)ip->check_method);
    if (ip->present != FG_PRESENT_ABSENT && ip->present != 0 && ip->present != 1)
        return DECLINE(x, "%s: present: invalid value %d", x->stream, ip->present);
    CHECK(req_id(x, ip->admission_id, TOP("admission_id")));
    CHECK(opt_id(x, ip->ward, TOP("ward")));
    CHECK(opt_id(x, ip->doctor_id, TOP("doctor_id")));
    CHECK(opt_id(x, ip->diagnosis, TOP("diagnosis")));
    if (ip->type == FG_IP_PRESENCE_CHECK) {
        if (ip->present == FG_PRESENT_ABSENT) return DECLINE(x, "%s: present: required for PRESENCE_CHECK", x->stream);
        if (ip->check_method == FG_CHECK_NONE)
            return DECLINE(x, "%s: check_method: required for PRESENCE_CHECK (got NONE)", x->stream);
    }
    return FG_OK;
}

static int check_invoicing(vctx_t *x, const fg_event_t *ev) {
    const fg_invoicing_t *iv = &ev->u.invoicing;
    if ((unsigned)iv->type > FG_INV_STOCKTAKE)
        return DECLINE(x, "%s: type: invalid value %d", x->stream, (int)iv->type);
    CHECK(opt_id(x, iv->supplier, TOP("supplier")));
    CHECK(opt_id(x, iv->invoice_no, TOP("invoice_no")));
    return check_items(x, iv->items, iv->n_items);
}

int fg_event_validate(const fg_event_t *ev, const fg_validate_opts_t *opts, int64_t now_ms, char *reason,
                      size_t reason_size) {
    fg_validate_opts_t dflt;
    if (!opts) {
        fg_validate_opts_default(&dflt);
        opts = &dflt;
    }
    if (!ev || (unsigned)ev->stream >= FG_STREAM_COUNT)
        return fg_err(reason, reason_size, FG_DECLINED, "event: unknown stream %d", ev ? (int)ev->stream : -1);
    vctx_t x = {fg_stream_name(ev->stream), opts, reason, reason_size};

    CHECK(req_id(&x, ev->event_id, TOP(ev->stream == FG_STREAM_CLAIMS ? "claim_id" : "event_id")));
    int64_t t = ev->event_time_ms;
    if (t < opts->min_event_time_ms)
        return DECLINE(&x, "%s: event_time: %" PRId64 " is before the minimum %" PRId64, x.stream, t,
                       opts->min_event_time_ms);
    /* t > now first so the subtraction cannot overflow */
    if (t > now_ms && t - now_ms > opts->max_future_ms)
        return DECLINE(&x, "%s: event_time: %" PRId64 " is in the future (%" PRId64 " ms ahead, limit %" PRId64 ")",
                       x.stream, t, t - now_ms, opts->max_future_ms);
    CHECK(req_id(&x, ev->region, TOP("region")));
    CHECK(req_id(&x, ev->institution_id, TOP("institution_id")));
    if ((unsigned)ev->institution_type > FG_INST_CLINIC)
        return DECLINE(&x, "%s: institution_type: invalid value %d", x.stream, (int)ev->institution_type);
    if (ev->stream != FG_STREAM_INVOICING) {
        CHECK(req_id(&x, ev->patient_id, TOP("patient_id")));
        CHECK(opt_id(&x, ev->card_id, TOP("card_id")));
    }
    switch (ev->stream) {
    case FG_STREAM_CLAIMS: return check_claim(&x, ev);
    case FG_STREAM_INPATIENT: return check_inpatient(&x, ev);
    default: return check_invoicing(&x, ev);
    }
}
