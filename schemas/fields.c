/*
 * fields.c - the field tables: schema field name -> kind -> place in the
 * typed event. Order follows the .avsc files (the reader schemas), which
 * fg_codec_create() checks, so a table index is also the reader field index.
 */
#include <stddef.h>

#include "codec_internal.h"
#include "symbols.h"

/* typed name functions -> the int signature the tables use */
static const char *sym_inst(int v) { return fg_inst_type_name((fg_inst_type_t)v); }
static const char *sym_gender(int v) { return fg_gender_name((fg_gender_t)v); }
static const char *sym_visit(int v) { return fg_visit_name((fg_visit_t)v); }
static const char *sym_kind(int v) { return fg_item_kind_name((fg_item_kind_t)v); }
static const char *sym_ip(int v) { return fg_ip_type_name((fg_ip_type_t)v); }
static const char *sym_check(int v) { return fg_check_name((fg_check_t)v); }
static const char *sym_inv(int v) { return fg_inv_type_name((fg_inv_type_t)v); }

#define EV(m) offsetof(fg_event_t, m)
#define IT(m) offsetof(fg_item_t, m)
#define S(name, kind, off)                                                                                             \
    { name, kind, off, 0, NULL, NULL, -1 }
#define ARR(name, kind, off, cnt)                                                                                      \
    { name, kind, off, cnt, NULL, NULL, -1 }
#define EN(name, off, p, sym, dflt)                                                                                    \
    { name, FG_K_ENUM, off, 0, p, sym, dflt }

static const fg_field_t g_item[] = {
    S("code", FG_K_STRING, IT(code)),
    S("name", FG_K_OPT_STRING, IT(name)),
    EN("kind", IT(kind), fg_item_kind_parse, sym_kind, -1),
    S("quantity", FG_K_DOUBLE, IT(quantity)),
    S("unit_price_fen", FG_K_LONG, IT(unit_price_fen)),
    S("amount_fen", FG_K_LONG, IT(amount_fen)),
    S("days_supply", FG_K_OPT_INT, IT(days_supply)),
    ARR("trace_codes", FG_K_STR_ARRAY, IT(trace_codes), IT(n_trace_codes)),
};

static const fg_field_t g_claim[] = {
    S("claim_id", FG_K_STRING, EV(event_id)),
    S("event_time", FG_K_LONG, EV(event_time_ms)),
    S("region", FG_K_STRING, EV(region)),
    S("institution_id", FG_K_STRING, EV(institution_id)),
    EN("institution_type", EV(institution_type), fg_inst_type_parse, sym_inst, -1),
    S("patient_id", FG_K_STRING, EV(patient_id)),
    S("card_id", FG_K_OPT_STRING, EV(card_id)),
    EN("gender", EV(u.claim.gender), fg_gender_parse, sym_gender, FG_GENDER_UNKNOWN),
    S("birth_date", FG_K_OPT_DATE, EV(u.claim.birth_date_days)),
    EN("visit_type", EV(u.claim.visit_type), fg_visit_parse, sym_visit, -1),
    S("admission_id", FG_K_OPT_STRING, EV(u.claim.admission_id)),
    S("doctor_id", FG_K_OPT_STRING, EV(u.claim.doctor_id)),
    S("prescription_id", FG_K_OPT_STRING, EV(u.claim.prescription_id)),
    ARR("diagnoses", FG_K_STR_ARRAY, EV(u.claim.diagnoses), EV(u.claim.n_diagnoses)),
    S("buyer_registered", FG_K_BOOL, EV(u.claim.buyer_registered)),
    S("total_fen", FG_K_LONG, EV(u.claim.total_fen)),
    S("fund_paid_fen", FG_K_LONG, EV(u.claim.fund_paid_fen)),
    S("self_paid_fen", FG_K_LONG, EV(u.claim.self_paid_fen)),
    ARR("items", FG_K_ITEMS, EV(u.claim.items), EV(u.claim.n_items)),
};

static const fg_field_t g_inpatient[] = {
    S("event_id", FG_K_STRING, EV(event_id)),
    S("event_time", FG_K_LONG, EV(event_time_ms)),
    S("region", FG_K_STRING, EV(region)),
    S("institution_id", FG_K_STRING, EV(institution_id)),
    EN("institution_type", EV(institution_type), fg_inst_type_parse, sym_inst, -1),
    S("patient_id", FG_K_STRING, EV(patient_id)),
    S("card_id", FG_K_OPT_STRING, EV(card_id)),
    S("admission_id", FG_K_STRING, EV(u.inpatient.admission_id)),
    EN("type", EV(u.inpatient.type), fg_ip_type_parse, sym_ip, -1),
    EN("check_method", EV(u.inpatient.check_method), fg_check_parse, sym_check, FG_CHECK_NONE),
    S("present", FG_K_OPT_BOOL, EV(u.inpatient.present)),
    S("ward", FG_K_OPT_STRING, EV(u.inpatient.ward)),
    S("doctor_id", FG_K_OPT_STRING, EV(u.inpatient.doctor_id)),
    S("diagnosis", FG_K_OPT_STRING, EV(u.inpatient.diagnosis)),
};

static const fg_field_t g_invoicing[] = {
    S("event_id", FG_K_STRING, EV(event_id)),
    S("event_time", FG_K_LONG, EV(event_time_ms)),
    S("region", FG_K_STRING, EV(region)),
    S("institution_id", FG_K_STRING, EV(institution_id)),
    EN("institution_type", EV(institution_type), fg_inst_type_parse, sym_inst, -1),
    EN("type", EV(u.invoicing.type), fg_inv_type_parse, sym_inv, -1),
    S("supplier", FG_K_OPT_STRING, EV(u.invoicing.supplier)),
    S("invoice_no", FG_K_OPT_STRING, EV(u.invoicing.invoice_no)),
    ARR("items", FG_K_ITEMS, EV(u.invoicing.items), EV(u.invoicing.n_items)),
};

_Static_assert(FG_ARRAY_SIZE(g_claim) <= FG_MAX_FIELDS, "raise FG_MAX_FIELDS");

static const fg_record_desc_t g_records[FG_STREAM_COUNT] = {
    {"Claim", g_claim, FG_ARRAY_SIZE(g_claim)},
    {"InpatientEvent", g_inpatient, FG_ARRAY_SIZE(g_inpatient)},
    {"InvoicingEvent", g_invoicing, FG_ARRAY_SIZE(g_invoicing)},
};
static const fg_record_desc_t g_item_rec = {"Item", g_item, FG_ARRAY_SIZE(g_item)};

const fg_record_desc_t *fg_record_desc(fg_stream_t s) { return (unsigned)s < FG_STREAM_COUNT ? &g_records[s] : NULL; }

const fg_record_desc_t *fg_item_desc(void) { return &g_item_rec; }

bool fg_field_has_default(const fg_field_t *f) {
    switch (f->kind) {
    case FG_K_STRING:
    case FG_K_LONG:
    case FG_K_DOUBLE:
    case FG_K_ITEMS: return false;
    case FG_K_ENUM: return f->dflt >= 0;
    default: return true;
    }
}
