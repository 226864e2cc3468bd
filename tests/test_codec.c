/*
 * test_codec.c - the schemas/ contract: JSON and Confluent Avro decode to the
 * same typed event, round trips are exact, bad input is declined with a
 * reason naming the stream, field and problem, and compatible writer-schema
 * evolution still decodes. No Redis or Kafka needed.
 *
 * Avro inputs are produced by an encoder written here against the plain
 * Avro C generic API (json_to_avro), independent of fg_codec_encode_avro, so
 * the decoder is not only tested against its own encoder.
 */
#include <avro.h>
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/common.h"
#include "schemas/codec.h"

enum { ID_CLAIMS = 1, ID_INPATIENT = 2, ID_INVOICING = 3 };

static fg_codec_t *g_codec;
static fg_arena_t *g_arena;

static void setup(void) {
    char err[256];
    g_codec = fg_codec_create(err, sizeof(err));
    cr_assert(g_codec, "fg_codec_create: %s", err);
    cr_assert_eq(fg_codec_register_schema(g_codec, ID_CLAIMS, fg_schema_text(FG_STREAM_CLAIMS), err, sizeof(err)),
                 FG_OK, "%s", err);
    cr_assert_eq(fg_codec_register_schema(g_codec, ID_INPATIENT, fg_schema_text(FG_STREAM_INPATIENT), err, sizeof(err)),
                 FG_OK, "%s", err);
    cr_assert_eq(fg_codec_register_schema(g_codec, ID_INVOICING, fg_schema_text(FG_STREAM_INVOICING), err, sizeof(err)),
                 FG_OK, "%s", err);
    g_arena = fg_arena_create(0);
}

static void teardown(void) {
    fg_codec_destroy(g_codec);
    fg_arena_destroy(g_arena);
}

TestSuite(codec, .init = setup, .fini = teardown);

/* ---- sample events (2023-11-14T22:13:20Z) ---- */

static const char CLAIM_JSON[] =
    "{\"claim_id\":\"C1\",\"event_time\":1700000000000,\"region\":\"140100\",\"institution_id\":\"H001\","
    "\"institution_type\":\"HOSPITAL\",\"patient_id\":\"P1\",\"card_id\":\"K1\",\"gender\":\"F\","
    "\"birth_date\":\"1980-02-29\",\"visit_type\":\"INPATIENT\",\"admission_id\":\"A1\",\"doctor_id\":\"D1\","
    "\"prescription_id\":null,\"diagnoses\":[\"J18.9\",\"E11.9\"],\"buyer_registered\":false,"
    "\"total_fen\":12345,\"fund_paid_fen\":10000,\"self_paid_fen\":2345,\"items\":["
    "{\"code\":\"X01\",\"name\":\"阿莫西林胶囊\",\"kind\":\"DRUG\",\"quantity\":2,\"unit_price_fen\":1500,"
    "\"amount_fen\":3000,\"days_supply\":7,\"trace_codes\":[\"T81000000001\",\"T81000000002\"]},"
    "{\"code\":\"B01\",\"kind\":\"BED\",\"quantity\":1.5,\"unit_price_fen\":6230,\"amount_fen\":9345}],"
    "\"future_field\":{\"ignored\":[1,2,3]}}";

static const char INPATIENT_JSON[] =
    "{\"event_id\":\"E1\",\"event_time\":1700000000000,\"region\":\"140100\",\"institution_id\":\"H001\","
    "\"institution_type\":\"PRIMARY\",\"patient_id\":\"P1\",\"admission_id\":\"A1\",\"type\":\"PRESENCE_CHECK\","
    "\"check_method\":\"FACE\",\"present\":false,\"ward\":\"W3\",\"diagnosis\":\"J18.9\"}";

static const char INVOICING_JSON[] =
    "{\"event_id\":\"V1\",\"event_time\":1700000000000,\"region\":\"141100\",\"institution_id\":\"PH07\","
    "\"institution_type\":\"PHARMACY\",\"type\":\"PURCHASE\",\"supplier\":\"S9\",\"invoice_no\":\"INV-2023-1\","
    "\"items\":[{\"code\":\"X01\",\"kind\":\"DRUG\",\"quantity\":100,\"unit_price_fen\":1200,"
    "\"amount_fen\":120000,\"trace_codes\":[\"T81000000001\"]}]}";

static const char *sample_json(fg_stream_t s) {
    return s == FG_STREAM_CLAIMS ? CLAIM_JSON : s == FG_STREAM_INPATIENT ? INPATIENT_JSON : INVOICING_JSON;
}
static int32_t sample_id(fg_stream_t s) {
    return s == FG_STREAM_CLAIMS ? ID_CLAIMS : s == FG_STREAM_INPATIENT ? ID_INPATIENT : ID_INVOICING;
}

static int decode(fg_stream_t s, const void *buf, size_t len, const fg_validate_opts_t *opts, fg_event_t *ev,
                  char *reason, size_t rsize) {
    reason[0] = '\0';
    return fg_codec_decode(g_codec, s, buf, len, g_arena, opts, ev, reason, rsize);
}

static void decode_ok(fg_stream_t s, const void *buf, size_t len, fg_event_t *ev, const char *what) {
    char reason[512];
    int rc = decode(s, buf, len, NULL, ev, reason, sizeof(reason));
    cr_assert_eq(rc, FG_OK, "%s: decode declined: %s", what, reason);
}

/* ---- an independent JSON -> Avro encoder over the generic value API ---- */

static void fill(avro_value_t *v, json_t *j) {
    avro_schema_t s = avro_value_get_schema(v);
    switch (avro_value_get_type(v)) {
    case AVRO_RECORD:
        for (int i = 0; i < (int)avro_schema_record_size(s); i++) {
            avro_value_t f;
            avro_value_get_by_index(v, (size_t)i, &f, NULL);
            fill(&f, j ? json_object_get(j, avro_schema_record_field_name(s, i)) : NULL);
        }
        break;
    case AVRO_UNION: {
        avro_value_t br;
        bool null = !j || json_is_null(j);
        for (int i = 0; i < (int)avro_schema_union_size(s); i++) {
            bool is_null = is_avro_null(avro_schema_union_branch(s, i));
            if (is_null == null) {
                avro_value_set_branch(v, i, &br);
                fill(&br, j);
                break;
            }
        }
        break;
    }
    case AVRO_NULL: avro_value_set_null(v); break;
    case AVRO_STRING: avro_value_set_string(v, json_is_string(j) ? json_string_value(j) : ""); break;
    case AVRO_INT32:
        if (json_is_string(j)) { /* "YYYY-MM-DD" */
            struct tm tm = {0};
            strptime(json_string_value(j), "%Y-%m-%d", &tm);
            avro_value_set_int(v, (int32_t)(timegm(&tm) / 86400));
        } else {
            avro_value_set_int(v, (int32_t)json_integer_value(j));
        }
        break;
    case AVRO_INT64: avro_value_set_long(v, json_integer_value(j)); break;
    case AVRO_FLOAT: avro_value_set_float(v, (float)json_number_value(j)); break;
    case AVRO_DOUBLE: avro_value_set_double(v, json_number_value(j)); break;
    case AVRO_BOOLEAN: avro_value_set_boolean(v, json_is_true(j)); break;
    case AVRO_ENUM: {
        int idx = j ? avro_schema_enum_get_by_name(s, json_string_value(j)) : 0;
        avro_value_set_enum(v, idx < 0 ? 0 : idx);
        break;
    }
    case AVRO_ARRAY:
        for (size_t i = 0; j && i < json_array_size(j); i++) {
            avro_value_t e;
            avro_value_append(v, &e, NULL);
            fill(&e, json_array_get(j, i));
        }
        break;
    default: cr_assert_fail("json_to_avro: unsupported type");
    }
}

/* @returns malloc'd Confluent frame of json_text written with schema_text under id. */
static unsigned char *json_to_avro(const char *schema_text, int32_t id, const char *json_text, size_t *len) {
    avro_schema_t schema;
    cr_assert_eq(avro_schema_from_json_length(schema_text, strlen(schema_text), &schema), 0, "schema: %s",
                 avro_strerror());
    json_error_t jerr;
    json_t *j = json_loads(json_text, 0, &jerr);
    cr_assert(j, "test JSON: %s", jerr.text);
    avro_value_iface_t *iface = avro_generic_class_from_schema(schema);
    avro_value_t v;
    avro_generic_value_new(iface, &v);
    fill(&v, j);
    size_t size;
    avro_value_sizeof(&v, &size);
    unsigned char *buf = malloc(size + 5);
    buf[0] = 0;
    buf[1] = (unsigned char)(id >> 24);
    buf[2] = (unsigned char)(id >> 16);
    buf[3] = (unsigned char)(id >> 8);
    buf[4] = (unsigned char)id;
    avro_writer_t w = avro_writer_memory((const char *)buf + 5, (int64_t)size);
    cr_assert_eq(avro_value_write(w, &v), 0, "write: %s", avro_strerror());
    avro_writer_free(w);
    avro_value_decref(&v);
    avro_value_iface_decref(iface);
    avro_schema_decref(schema);
    json_decref(j);
    *len = size + 5;
    return buf;
}

/* ---- exact event comparison ---- */

static void expect_str(const char *a, const char *b, const char *what, const char *field) {
    if (!a || !b)
        cr_expect(a == b, "%s: %s: %s vs %s", what, field, a ? a : "NULL", b ? b : "NULL");
    else
        cr_expect_str_eq(a, b, "%s: %s", what, field);
}

static void expect_strs(const char **a, uint32_t na, const char **b, uint32_t nb, const char *what, const char *field) {
    cr_expect_eq(na, nb, "%s: %s count %u vs %u", what, field, na, nb);
    for (uint32_t i = 0; i < na && i < nb; i++)
        expect_str(a[i], b[i], what, field);
}

static void expect_items(const fg_item_t *a, uint32_t na, const fg_item_t *b, uint32_t nb, const char *what) {
    cr_expect_eq(na, nb, "%s: n_items %u vs %u", what, na, nb);
    for (uint32_t i = 0; i < na && i < nb; i++) {
        expect_str(a[i].code, b[i].code, what, "item.code");
        expect_str(a[i].name, b[i].name, what, "item.name");
        cr_expect_eq(a[i].kind, b[i].kind, "%s: item.kind", what);
        cr_expect(memcmp(&a[i].quantity, &b[i].quantity, sizeof(double)) == 0, "%s: item.quantity %.17g vs %.17g", what,
                  a[i].quantity, b[i].quantity);
        cr_expect_eq(a[i].unit_price_fen, b[i].unit_price_fen, "%s: unit_price_fen", what);
        cr_expect_eq(a[i].amount_fen, b[i].amount_fen, "%s: amount_fen", what);
        cr_expect_eq(a[i].days_supply, b[i].days_supply, "%s: days_supply", what);
        expect_strs(a[i].trace_codes, a[i].n_trace_codes, b[i].trace_codes, b[i].n_trace_codes, what, "trace_codes");
    }
}

static void expect_same_event(const fg_event_t *a, const fg_event_t *b, const char *what) {
    cr_expect_eq(a->stream, b->stream, "%s: stream", what);
    expect_str(a->event_id, b->event_id, what, "event_id");
    cr_expect_eq(a->event_time_ms, b->event_time_ms, "%s: event_time", what);
    expect_str(a->region, b->region, what, "region");
    expect_str(a->institution_id, b->institution_id, what, "institution_id");
    cr_expect_eq(a->institution_type, b->institution_type, "%s: institution_type", what);
    expect_str(a->patient_id, b->patient_id, what, "patient_id");
    expect_str(a->card_id, b->card_id, what, "card_id");
    switch (a->stream) {
    case FG_STREAM_CLAIMS: {
        const fg_claim_t *x = &a->u.claim, *y = &b->u.claim;
        cr_expect_eq(x->gender, y->gender, "%s: gender", what);
        cr_expect_eq(x->birth_date_days, y->birth_date_days, "%s: birth_date", what);
        cr_expect_eq(x->visit_type, y->visit_type, "%s: visit_type", what);
        expect_str(x->admission_id, y->admission_id, what, "admission_id");
        expect_str(x->doctor_id, y->doctor_id, what, "doctor_id");
        expect_str(x->prescription_id, y->prescription_id, what, "prescription_id");
        expect_strs(x->diagnoses, x->n_diagnoses, y->diagnoses, y->n_diagnoses, what, "diagnoses");
        cr_expect_eq(x->buyer_registered, y->buyer_registered, "%s: buyer_registered", what);
        cr_expect_eq(x->total_fen, y->total_fen, "%s: total_fen", what);
        cr_expect_eq(x->fund_paid_fen, y->fund_paid_fen, "%s: fund_paid_fen", what);
        cr_expect_eq(x->self_paid_fen, y->self_paid_fen, "%s: self_paid_fen", what);
        expect_items(x->items, x->n_items, y->items, y->n_items, what);
        break;
    }
    case FG_STREAM_INPATIENT: {
        const fg_inpatient_t *x = &a->u.inpatient, *y = &b->u.inpatient;
        cr_expect_eq(x->type, y->type, "%s: type", what);
        expect_str(x->admission_id, y->admission_id, what, "admission_id");
        cr_expect_eq(x->check_method, y->check_method, "%s: check_method", what);
        cr_expect_eq(x->present, y->present, "%s: present", what);
        expect_str(x->ward, y->ward, what, "ward");
        expect_str(x->doctor_id, y->doctor_id, what, "doctor_id");
        expect_str(x->diagnosis, y->diagnosis, what, "diagnosis");
        break;
    }
    default: {
        const fg_invoicing_t *x = &a->u.invoicing, *y = &b->u.invoicing;
        cr_expect_eq(x->type, y->type, "%s: type", what);
        expect_str(x->supplier, y->supplier, what, "supplier");
        expect_str(x->invoice_no, y->invoice_no, what, "invoice_no");
        expect_items(x->items, x->n_items, y->items, y->n_items, what);
    }
    }
}

/* ---- valid input ---- */

static void check_claim_fields(const fg_event_t *ev, const char *what) {
    cr_expect_eq(ev->stream, FG_STREAM_CLAIMS, "%s", what);
    cr_expect_str_eq(ev->event_id, "C1", "%s", what);
    cr_expect_eq(ev->event_time_ms, 1700000000000LL, "%s", what);
    cr_expect_str_eq(ev->region, "140100", "%s", what);
    cr_expect_str_eq(ev->institution_id, "H001", "%s", what);
    cr_expect_eq(ev->institution_type, FG_INST_HOSPITAL, "%s", what);
    cr_expect_str_eq(ev->patient_id, "P1", "%s", what);
    cr_expect_str_eq(ev->card_id, "K1", "%s", what);
    const fg_claim_t *c = &ev->u.claim;
    cr_expect_eq(c->gender, FG_GENDER_FEMALE, "%s", what);
    cr_expect_eq(c->birth_date_days, 3711, "%s: 1980-02-29 is day 3711", what);
    cr_expect_eq(c->visit_type, FG_VISIT_INPATIENT, "%s", what);
    cr_expect_str_eq(c->admission_id, "A1", "%s", what);
    cr_expect_str_eq(c->doctor_id, "D1", "%s", what);
    cr_expect_null(c->prescription_id, "%s", what);
    cr_assert_eq(c->n_diagnoses, 2, "%s", what);
    cr_expect_str_eq(c->diagnoses[1], "E11.9", "%s", what);
    cr_expect_eq(c->buyer_registered, false, "%s", what);
    cr_expect_eq(c->total_fen, 12345, "%s", what);
    cr_expect_eq(c->fund_paid_fen, 10000, "%s", what);
    cr_expect_eq(c->self_paid_fen, 2345, "%s", what);
    cr_assert_eq(c->n_items, 2, "%s", what);
    cr_expect_str_eq(c->items[0].code, "X01", "%s", what);
    cr_expect_str_eq(c->items[0].name, "阿莫西林胶囊", "%s", what);
    cr_expect_eq(c->items[0].kind, FG_ITEM_DRUG, "%s", what);
    cr_expect_eq(c->items[0].quantity, 2.0, "%s", what);
    cr_expect_eq(c->items[0].days_supply, 7, "%s", what);
    cr_assert_eq(c->items[0].n_trace_codes, 2, "%s", what);
    cr_expect_str_eq(c->items[0].trace_codes[1], "T81000000002", "%s", what);
    cr_expect_null(c->items[1].name, "%s", what);
    cr_expect_eq(c->items[1].kind, FG_ITEM_BED, "%s", what);
    cr_expect_eq(c->items[1].quantity, 1.5, "%s", what);
    cr_expect_eq(c->items[1].amount_fen, 9345, "%s", what);
    cr_expect_eq(c->items[1].days_supply, FG_DAYS_ABSENT, "%s", what);
    cr_expect_eq(c->items[1].n_trace_codes, 0, "%s", what);
    cr_expect_eq(ev->src_partition, -1, "%s", what);
    cr_expect_eq(ev->src_offset, -1, "%s", what);
}

static void check_inpatient_fields(const fg_event_t *ev, const char *what) {
    cr_expect_str_eq(ev->event_id, "E1", "%s", what);
    cr_expect_eq(ev->institution_type, FG_INST_PRIMARY, "%s", what);
    cr_expect_str_eq(ev->patient_id, "P1", "%s", what);
    cr_expect_null(ev->card_id, "%s", what);
    const fg_inpatient_t *ip = &ev->u.inpatient;
    cr_expect_str_eq(ip->admission_id, "A1", "%s", what);
    cr_expect_eq(ip->type, FG_IP_PRESENCE_CHECK, "%s", what);
    cr_expect_eq(ip->check_method, FG_CHECK_FACE, "%s", what);
    cr_expect_eq(ip->present, 0, "%s", what);
    cr_expect_str_eq(ip->ward, "W3", "%s", what);
    cr_expect_null(ip->doctor_id, "%s", what);
    cr_expect_str_eq(ip->diagnosis, "J18.9", "%s", what);
}

static void check_invoicing_fields(const fg_event_t *ev, const char *what) {
    cr_expect_str_eq(ev->event_id, "V1", "%s", what);
    cr_expect_eq(ev->institution_type, FG_INST_PHARMACY, "%s", what);
    cr_expect_null(ev->patient_id, "%s", what);
    const fg_invoicing_t *iv = &ev->u.invoicing;
    cr_expect_eq(iv->type, FG_INV_PURCHASE, "%s", what);
    cr_expect_str_eq(iv->supplier, "S9", "%s", what);
    cr_expect_str_eq(iv->invoice_no, "INV-2023-1", "%s", what);
    cr_assert_eq(iv->n_items, 1, "%s", what);
    cr_expect_eq(iv->items[0].quantity, 100.0, "%s", what);
    cr_expect_eq(iv->items[0].amount_fen, 120000, "%s", what);
    cr_expect_eq(iv->items[0].days_supply, FG_DAYS_ABSENT, "%s", what);
    cr_expect_str_eq(iv->items[0].trace_codes[0], "T81000000001", "%s", what);
}

static void check_fields(fg_stream_t s, const fg_event_t *ev, const char *what) {
    if (s == FG_STREAM_CLAIMS)
        check_claim_fields(ev, what);
    else if (s == FG_STREAM_INPATIENT)
        check_inpatient_fields(ev, what);
    else
        check_invoicing_fields(ev, what);
}

Test(codec, valid_json_each_stream_decodes_to_expected_fields) {
    for (int s = 0; s < FG_STREAM_COUNT; s++) {
        fg_event_t ev;
        char what[64];
        snprintf(what, sizeof(what), "%s JSON", fg_stream_name(s));
        decode_ok(s, sample_json(s), strlen(sample_json(s)), &ev, what);
        check_fields(s, &ev, what);
    }
}

Test(codec, valid_avro_each_stream_decodes_to_expected_fields) {
    for (int s = 0; s < FG_STREAM_COUNT; s++) {
        size_t len;
        char what[64];
        snprintf(what, sizeof(what), "%s Avro (independent encoder)", fg_stream_name(s));
        unsigned char *buf = json_to_avro(fg_schema_text(s), sample_id(s), sample_json(s), &len);
        fg_event_t ev;
        decode_ok(s, buf, len, &ev, what);
        check_fields(s, &ev, what);

        /* our encoder writes the very same bytes for the same event */
        size_t len2;
        unsigned char *buf2 = fg_codec_encode_avro(g_codec, &ev, sample_id(s), &len2);
        cr_assert(buf2, "%s: encode_avro failed", what);
        cr_expect(len == len2 && memcmp(buf, buf2, len) == 0, "%s: encoders disagree (%zu vs %zu bytes)", what, len,
                  len2);
        free(buf);
        free(buf2);
    }
}

Test(codec, json_leading_whitespace_and_empty_optionals) {
    const char *j = " \n\t{\"event_id\":\"E2\",\"event_time\":1700000000000,\"region\":\"R\",\"institution_id\":\"I\","
                    "\"institution_type\":\"HOSPITAL\",\"patient_id\":\"P\",\"card_id\":\"\",\"admission_id\":\"A\","
                    "\"type\":\"ADMIT\",\"present\":null,\"ward\":\"\"}";
    fg_event_t ev;
    decode_ok(FG_STREAM_INPATIENT, j, strlen(j), &ev, "whitespace + empty optionals");
    cr_expect_null(ev.card_id, "\"\" for an optional id means absent");
    cr_expect_null(ev.u.inpatient.ward);
    cr_expect_eq(ev.u.inpatient.present, FG_PRESENT_ABSENT);
    cr_expect_eq(ev.u.inpatient.check_method, FG_CHECK_NONE, "default NONE");
}

Test(codec, birth_date_as_integer_days) {
    const char *j = "{\"claim_id\":\"C9\",\"event_time\":1700000000000,\"region\":\"R\",\"institution_id\":\"I\","
                    "\"institution_type\":\"CLINIC\",\"patient_id\":\"P\",\"birth_date\":3711,"
                    "\"visit_type\":\"OUTPATIENT\",\"total_fen\":0,\"fund_paid_fen\":0,\"self_paid_fen\":0,"
                    "\"items\":[]}";
    fg_event_t ev;
    decode_ok(FG_STREAM_CLAIMS, j, strlen(j), &ev, "integer birth_date");
    cr_expect_eq(ev.u.claim.birth_date_days, 3711);
    cr_expect_eq(ev.u.claim.gender, FG_GENDER_UNKNOWN, "default U");
    cr_expect_eq(ev.u.claim.n_items, 0);
    char *out = fg_codec_encode_json(&ev);
    cr_assert(out);
    cr_expect(strstr(out, "\"birth_date\":\"1980-02-29\""), "dates are written as YYYY-MM-DD: %s", out);
    free(out);
}

/* ---- round trips ---- */

Test(codec, round_trips_json_avro_json_are_exact) {
    for (int s = 0; s < FG_STREAM_COUNT; s++) {
        char what[64];
        snprintf(what, sizeof(what), "%s round trip", fg_stream_name(s));
        fg_event_t ev1, ev2, ev3;
        decode_ok(s, sample_json(s), strlen(sample_json(s)), &ev1, what);

        char *j1 = fg_codec_encode_json(&ev1);
        cr_assert(j1, "%s: encode_json failed", what);
        decode_ok(s, j1, strlen(j1), &ev2, what);
        expect_same_event(&ev1, &ev2, what);

        size_t alen;
        void *a = fg_codec_encode_avro(g_codec, &ev2, sample_id(s), &alen);
        cr_assert(a, "%s: encode_avro failed", what);
        decode_ok(s, a, alen, &ev3, what);
        expect_same_event(&ev1, &ev3, what);

        char *j3 = fg_codec_encode_json(&ev3);
        cr_assert(j3);
        cr_expect_str_eq(j1, j3, "%s: JSON -> event -> Avro -> event -> JSON differs", what);
        free(j1);
        free(j3);
        free(a);
    }
}

Test(codec, round_trip_keeps_awkward_doubles_and_extremes) {
    fg_event_t ev;
    decode_ok(FG_STREAM_CLAIMS, CLAIM_JSON, strlen(CLAIM_JSON), &ev, "base");
    const double qs[] = {0.1, 1.0 / 3.0, 1e-300, 123456789.123456789, 0.0};
    for (size_t i = 0; i < sizeof(qs) / sizeof(qs[0]); i++) {
        ev.u.claim.items[1].quantity = qs[i];
        ev.u.claim.total_fen = INT64_MAX;
        char what[64], reason[512];
        snprintf(what, sizeof(what), "quantity %.17g", qs[i]);
        /* the codecs carry extremes exactly; validation.max_amount_fen and max_quantity (lifted here) refuse
           them in a run */
        fg_validate_opts_t o;
        fg_validate_opts_default(&o);
        o.max_amount_fen = INT64_MAX;
        o.max_quantity = 1e308;
        char *j = fg_codec_encode_json(&ev);
        fg_event_t back;
        cr_assert_eq(decode(FG_STREAM_CLAIMS, j, strlen(j), &o, &back, reason, sizeof(reason)), FG_OK, "%s: %s", what,
                     reason);
        expect_same_event(&ev, &back, what);
        size_t alen;
        void *a = fg_codec_encode_avro(g_codec, &ev, ID_CLAIMS, &alen);
        cr_assert_eq(decode(FG_STREAM_CLAIMS, a, alen, &o, &back, reason, sizeof(reason)), FG_OK, "%s: %s", what,
                     reason);
        expect_same_event(&ev, &back, what);
        free(j);
        free(a);
    }
}

/* ---- bad input ---- */

typedef unsigned char *(*maker_fn)(size_t *len);

/* JSON text of a sample with one field replaced (value JSON) or removed (value NULL). "items[N].x" reaches items. */
static char *json_with(const char *base, const char *key, const char *value) {
    json_error_t e;
    json_t *root = json_loads(base, 0, &e);
    cr_assert(root);
    json_t *obj = root;
    unsigned idx;
    char sub[64];
    if (sscanf(key, "items[%u].%63s", &idx, sub) == 2) {
        obj = json_array_get(json_object_get(root, "items"), idx);
        key = strchr(key, '.') + 1;
    }
    if (value) {
        json_t *v = json_loads(value, JSON_DECODE_ANY, &e);
        cr_assert(v, "bad test value %s: %s", value, e.text);
        json_object_set_new(obj, key, v);
    } else {
        json_object_del(obj, key);
    }
    char *out = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    return out;
}

static unsigned char *dup_bytes(const void *p, size_t n, size_t *len) {
    unsigned char *b = malloc(n ? n : 1);
    memcpy(b, p, n);
    *len = n;
    return b;
}

static unsigned char *claim_avro(size_t *len) {
    return json_to_avro(fg_schema_text(FG_STREAM_CLAIMS), ID_CLAIMS, CLAIM_JSON, len);
}

static unsigned char *mk_truncated(size_t *len) {
    unsigned char *b = claim_avro(len);
    *len -= 3;
    return b;
}
static unsigned char *mk_trailing(size_t *len) {
    unsigned char *b = claim_avro(len);
    b = realloc(b, *len + 2);
    b[*len] = 0x02;
    b[*len + 1] = 0x04;
    *len += 2;
    return b;
}
static unsigned char *mk_header_only(size_t *len) {
    static const unsigned char b[] = {0, 0, 0, 0, ID_CLAIMS};
    return dup_bytes(b, sizeof(b), len);
}
static unsigned char *mk_huge_string(size_t *len) {
    /* event_id claims 2^33 bytes: Avro C would malloc that before noticing */
    static const unsigned char b[] = {0, 0, 0, 0, ID_INPATIENT, 0xfe, 0xff, 0xff, 0xff, 0x3f, 'a'};
    return dup_bytes(b, sizeof(b), len);
}
static unsigned char *mk_negative_length(size_t *len) {
    static const unsigned char b[] = {0, 0, 0, 0, ID_INPATIENT, 0x03, 'a'};
    return dup_bytes(b, sizeof(b), len);
}
static unsigned char *mk_unknown_id(size_t *len) {
    unsigned char *b = claim_avro(len);
    b[3] = 0x03;
    b[4] = 0xe7; /* 999 */
    return b;
}
static unsigned char *mk_other_stream_id(size_t *len) {
    return json_to_avro(fg_schema_text(FG_STREAM_INPATIENT), ID_INPATIENT, INPATIENT_JSON, len);
}
static unsigned char *mk_wrong_magic(size_t *len) {
    unsigned char *b = claim_avro(len);
    b[0] = 0x01;
    return b;
}
static unsigned char *mk_short_header(size_t *len) {
    static const unsigned char b[] = {0, 0, 0};
    return dup_bytes(b, sizeof(b), len);
}
static unsigned char *mk_not_json(size_t *len) { return dup_bytes("hello", 5, len); }
static unsigned char *mk_empty(size_t *len) { return dup_bytes("", 0, len); }

/* first byte where two encodings differ: the bytes of the field that differs */
static size_t first_diff(const unsigned char *a, const unsigned char *b, size_t n) {
    size_t i = 0;
    while (i < n && a[i] == b[i])
        i++;
    return i;
}
static unsigned char *mk_enum_out_of_range(size_t *len) {
    size_t l2;
    char *j = json_with(INPATIENT_JSON, "institution_type", "\"CLINIC\"");
    unsigned char *a = json_to_avro(fg_schema_text(FG_STREAM_INPATIENT), ID_INPATIENT, INPATIENT_JSON, len);
    unsigned char *b = json_to_avro(fg_schema_text(FG_STREAM_INPATIENT), ID_INPATIENT, j, &l2);
    size_t at = first_diff(a, b, *len);
    a[at] = 0x28; /* zig-zag 20: no such symbol */
    free(b);
    free(j);
    return a;
}
static unsigned char *mk_bad_union_branch(size_t *len) {
    size_t l2;
    char *j = json_with(INPATIENT_JSON, "card_id", "\"K\"");
    unsigned char *a = json_to_avro(fg_schema_text(FG_STREAM_INPATIENT), ID_INPATIENT, INPATIENT_JSON, len);
    unsigned char *b = json_to_avro(fg_schema_text(FG_STREAM_INPATIENT), ID_INPATIENT, j, &l2);
    size_t at = first_diff(a, b, *len);
    a[at] = 0x0a; /* branch 5 of a 2-branch union */
    free(b);
    free(j);
    return a;
}
/* Avro from an event struct our JSON cannot express (NaN, Inf, bad UTF-8) */
static unsigned char *avro_of_claim_with(void (*mut)(fg_event_t *), size_t *len) {
    fg_event_t ev;
    decode_ok(FG_STREAM_CLAIMS, CLAIM_JSON, strlen(CLAIM_JSON), &ev, "base claim");
    mut(&ev);
    unsigned char *b = fg_codec_encode_avro(g_codec, &ev, ID_CLAIMS, len);
    cr_assert(b);
    return b;
}
static void set_nan(fg_event_t *ev) { ev->u.claim.items[0].quantity = NAN; }
static void set_inf(fg_event_t *ev) { ev->u.claim.items[1].quantity = -INFINITY; }
static void set_bad_utf8(fg_event_t *ev) { ev->patient_id = "P\xff\xfe"; }
static void set_neg_days(fg_event_t *ev) { ev->u.claim.items[0].days_supply = -5; }
static unsigned char *mk_nan(size_t *len) { return avro_of_claim_with(set_nan, len); }
static unsigned char *mk_inf(size_t *len) { return avro_of_claim_with(set_inf, len); }
static unsigned char *mk_bad_utf8(size_t *len) { return avro_of_claim_with(set_bad_utf8, len); }
static unsigned char *mk_avro_neg_days(size_t *len) { return avro_of_claim_with(set_neg_days, len); }

typedef struct bad_case {
    const char *name;
    fg_stream_t stream;
    const char *base;                    /* JSON sample to edit, or NULL when make is set */
    const char *key;                     /* field to replace / remove */
    const char *value;                   /* JSON of the new value; NULL removes the field */
    maker_fn make;                       /* raw bytes instead of JSON */
    uint32_t max_items, max_trace_codes; /* 0: defaults */
    const char *want;                    /* substring of the reason */
} bad_case_t;

#define C FG_STREAM_CLAIMS
#define I FG_STREAM_INPATIENT
#define V FG_STREAM_INVOICING

static const bad_case_t g_bad[] = {
    /* framing */
    {"empty message", C, NULL, NULL, NULL, mk_empty, 0, 0, "claims: empty message"},
    {"neither JSON nor Avro", C, NULL, NULL, NULL, mk_not_json, 0, 0,
     "claims: neither JSON nor Confluent Avro (first byte 0x68)"},
    {"wrong magic byte", C, NULL, NULL, NULL, mk_wrong_magic, 0, 0,
     "neither JSON nor Confluent Avro (first byte 0x01)"},
    {"Confluent header cut short", C, NULL, NULL, NULL, mk_short_header, 0, 0, "only 3 bytes"},
    {"unknown schema id", C, NULL, NULL, NULL, mk_unknown_id, 0, 0, "claims: avro: unknown schema id 999"},
    {"schema id of another stream", C, NULL, NULL, NULL, mk_other_stream_id, 0, 0,
     "schema id 2 is registered for stream inpatient, not claims"},
    /* Avro body */
    {"truncated Avro body", C, NULL, NULL, NULL, mk_truncated, 0, 0, "claims: avro: truncated body"},
    {"Avro header without body", C, NULL, NULL, NULL, mk_header_only, 0, 0, "claims: avro: truncated body"},
    {"string length beyond the message", I, NULL, NULL, NULL, mk_huge_string, 0, 0, "inpatient: avro: truncated body"},
    {"negative string length", I, NULL, NULL, NULL, mk_negative_length, 0, 0, "inpatient: avro: "},
    {"trailing bytes after the record", C, NULL, NULL, NULL, mk_trailing, 0, 0, "claims: avro: 2 trailing bytes"},
    {"union branch out of range", I, NULL, NULL, NULL, mk_bad_union_branch, 0, 0, "inpatient: avro: malformed body"},
    {"enum index out of range", I, NULL, NULL, NULL, mk_enum_out_of_range, 0, 0,
     "inpatient: field \"institution_type\": enum index 20 out of range"},
    {"invalid UTF-8 in an Avro string", C, NULL, NULL, NULL, mk_bad_utf8, 0, 0,
     "claims: field \"patient_id\": string is not valid UTF-8"},
    {"NaN quantity (Avro)", C, NULL, NULL, NULL, mk_nan, 0, 0, "claims: items[0].quantity: not a finite number (nan)"},
    {"infinite quantity (Avro)", C, NULL, NULL, NULL, mk_inf, 0, 0,
     "claims: items[1].quantity: not a finite number (-inf)"},
    {"negative days_supply (Avro)", C, NULL, NULL, NULL, mk_avro_neg_days, 0, 0,
     "claims: items[0].days_supply: negative (-5)"},
    /* JSON syntax */
    {"malformed JSON", C, NULL, NULL, NULL, NULL, 0, 0, "claims: invalid JSON at line 1 column"},
    {"duplicate JSON key", I, INPATIENT_JSON, NULL, NULL, NULL, 0, 0, "duplicate"},
    /* missing / wrong type */
    {"missing required field", I, INPATIENT_JSON, "admission_id", NULL, NULL, 0, 0,
     "inpatient: missing required field \"admission_id\""},
    {"missing required item field", C, CLAIM_JSON, "items[0].code", NULL, NULL, 0, 0,
     "claims: missing required field \"items[0].code\""},
    {"missing items", V, INVOICING_JSON, "items", NULL, NULL, 0, 0, "invoicing: missing required field \"items\""},
    {"null for a required field", C, CLAIM_JSON, "patient_id", "null", NULL, 0, 0,
     "claims: field \"patient_id\": expected a value, got null"},
    {"event_time as string", C, CLAIM_JSON, "event_time", "\"1700000000000\"", NULL, 0, 0,
     "claims: field \"event_time\": expected integer, got string"},
    {"event_time as real", C, CLAIM_JSON, "event_time", "1.7e12", NULL, 0, 0,
     "claims: field \"event_time\": expected integer, got real"},
    {"quantity as string", C, CLAIM_JSON, "items[1].quantity", "\"2\"", NULL, 0, 0,
     "claims: field \"items[1].quantity\": expected number, got string"},
    {"item not an object", C, CLAIM_JSON, "items", "[7]", NULL, 0, 0,
     "claims: field \"items[0]\": expected object, got integer"},
    {"trace code not a string", C, CLAIM_JSON, "items[0].trace_codes", "[\"T1\",2]", NULL, 0, 0,
     "claims: field \"items[0].trace_codes[1]\": expected string, got integer"},
    {"boolean as string", I, INPATIENT_JSON, "present", "\"yes\"", NULL, 0, 0,
     "inpatient: field \"present\": expected boolean, got string"},
    {"days_supply beyond int", C, CLAIM_JSON, "items[0].days_supply", "4294967296", NULL, 0, 0,
     "claims: field \"items[0].days_supply\": 4294967296 out of range for int"},
    {"invalid birth date", C, CLAIM_JSON, "birth_date", "\"1990-02-30\"", NULL, 0, 0,
     "claims: field \"birth_date\": invalid date \"1990-02-30\""},
    /* enums */
    {"unknown visit_type", C, CLAIM_JSON, "visit_type", "\"MOBILE\"", NULL, 0, 0,
     "claims: field \"visit_type\": unknown symbol \"MOBILE\""},
    {"unknown item kind", V, INVOICING_JSON, "items[0].kind", "\"drug\"", NULL, 0, 0,
     "invoicing: field \"items[0].kind\": unknown symbol \"drug\""},
    /* values */
    {"negative quantity on item 0", C, CLAIM_JSON, "items[0].quantity", "-3", NULL, 0, 0,
     "claims: items[0].quantity: negative (-3)"},
    {"negative unit price", V, INVOICING_JSON, "items[0].unit_price_fen", "-1", NULL, 0, 0,
     "invoicing: items[0].unit_price_fen: negative (-1)"},
    {"negative days_supply", C, CLAIM_JSON, "items[0].days_supply", "-1", NULL, 0, 0,
     "claims: items[0].days_supply: negative (-1)"},
    {"negative total", C, CLAIM_JSON, "total_fen", "-5", NULL, 0, 0, "claims: total_fen: negative (-5)"},
    {"fund paid exceeds total", C, CLAIM_JSON, "fund_paid_fen", "20000", NULL, 0, 0,
     "claims: fund_paid_fen: exceeds total_fen (20000 > 12345)"},
    {"self paid exceeds total", C, CLAIM_JSON, "self_paid_fen", "12346", NULL, 0, 0,
     "claims: self_paid_fen: exceeds total_fen"},
    {"future timestamp", C, CLAIM_JSON, "event_time", "$FUTURE", NULL, 0, 0, "claims: event_time:"},
    {"ancient timestamp (1990)", I, INPATIENT_JSON, "event_time", "631152000000", NULL, 0, 0,
     "inpatient: event_time: 631152000000 is before the minimum 946684800000"},
    {"too many items", C, CLAIM_JSON, NULL, NULL, NULL, 1, 0, "claims: items: too many (2 > 1)"},
    {"too many trace codes", C, CLAIM_JSON, NULL, NULL, NULL, 0, 1, "claims: items[0].trace_codes: too many (2 > 1)"},
    {"empty claim_id", C, CLAIM_JSON, "claim_id", "\"\"", NULL, 0, 0, "claims: claim_id: empty"},
    {"region id too long", I, INPATIENT_JSON, "region", "$LONG", NULL, 0, 0,
     "inpatient: region: too long (more than 128 bytes)"},
    {"empty trace code", C, CLAIM_JSON, "items[0].trace_codes", "[\"\"]", NULL, 0, 0,
     "claims: items[0].trace_codes[0]: empty"},
    {"birth date after the event", C, CLAIM_JSON, "birth_date", "\"2024-01-01\"", NULL, 0, 0,
     "claims: birth_date: after the event date"},
    {"inpatient claim without admission_id", C, CLAIM_JSON, "admission_id", NULL, NULL, 0, 0,
     "claims: admission_id: required for INPATIENT visits"},
    {"presence check without present", I, INPATIENT_JSON, "present", NULL, NULL, 0, 0,
     "inpatient: present: required for PRESENCE_CHECK"},
    {"presence check with method NONE", I, INPATIENT_JSON, "check_method", "\"NONE\"", NULL, 0, 0,
     "inpatient: check_method: required for PRESENCE_CHECK (got NONE)"},
};

Test(codec, bad_inputs_are_declined_with_a_precise_reason) {
    char long_id[200];
    memset(long_id, 'x', sizeof(long_id));
    long_id[0] = '"';
    long_id[130] = '"';
    long_id[131] = '\0';
    char future[32];
    snprintf(future, sizeof(future), "%lld", (long long)(fg_now_ms() + 2 * FG_MS_PER_DAY));

    size_t checked = 0;
    for (size_t i = 0; i < sizeof(g_bad) / sizeof(g_bad[0]); i++) {
        const bad_case_t *t = &g_bad[i];
        if (!t->want) continue;
        unsigned char *buf;
        size_t len;
        if (t->make) {
            buf = t->make(&len);
        } else if (!t->base) {
            buf = (unsigned char *)strdup("{\"claim_id\": ");
            len = strlen((char *)buf);
        } else if (!strcmp(t->name, "duplicate JSON key")) {
            char *d = malloc(strlen(t->base) + 32);
            sprintf(d, "{\"event_id\":\"X\",%s", t->base + 1);
            buf = (unsigned char *)d;
            len = strlen(d);
        } else if (t->key) {
            const char *v = t->value;
            if (v && !strcmp(v, "$FUTURE")) v = future;
            if (v && !strcmp(v, "$LONG")) v = long_id;
            buf = (unsigned char *)json_with(t->base, t->key, v);
            len = strlen((char *)buf);
        } else {
            buf = (unsigned char *)strdup(t->base);
            len = strlen(t->base);
        }
        fg_validate_opts_t opts;
        fg_validate_opts_default(&opts);
        if (t->max_items) opts.max_items = t->max_items;
        if (t->max_trace_codes) opts.max_trace_codes = t->max_trace_codes;

        fg_event_t ev;
        char reason[512];
        int rc = decode(t->stream, buf, len, &opts, &ev, reason, sizeof(reason));
        cr_log_info("case \"%s\": %s", t->name, reason);
        cr_expect_eq(rc, FG_DECLINED, "case \"%s\": expected FG_DECLINED, got %d (%s)", t->name, rc, reason);
        cr_expect(strstr(reason, t->want) != NULL, "case \"%s\": reason \"%s\" lacks \"%s\"", t->name, reason, t->want);
        free(buf);
        fg_arena_reset(g_arena);
        checked++;
    }
    cr_expect_geq(checked, 20);
}

Test(codec, negative_quantity_names_the_item_index) {
    /* the exact example of the contract: items[2].quantity: negative (-3) */
    char *j = json_with(CLAIM_JSON, "items",
                        "[{\"code\":\"a\",\"kind\":\"DRUG\",\"quantity\":1,\"unit_price_fen\":1,"
                        "\"amount_fen\":1},{\"code\":\"b\",\"kind\":\"EXAM\",\"quantity\":1,"
                        "\"unit_price_fen\":1,\"amount_fen\":1},{\"code\":\"c\",\"kind\":\"DRUG\","
                        "\"quantity\":-3,\"unit_price_fen\":1,\"amount_fen\":1}]");
    fg_event_t ev;
    char reason[256];
    cr_expect_eq(decode(FG_STREAM_CLAIMS, j, strlen(j), NULL, &ev, reason, sizeof(reason)), FG_DECLINED);
    cr_expect_str_eq(reason, "claims: items[2].quantity: negative (-3)");
    free(j);
}

/* ---- schema evolution ---- */

/* claims.avsc edited: fields removed (each has a default) and fields added, at both levels */
static char *evolved_claims_schema(void) {
    json_error_t e;
    json_t *s = json_loads(fg_schema_text(FG_STREAM_CLAIMS), 0, &e);
    json_t *fields = json_object_get(s, "fields");
    json_t *item_fields = NULL;
    for (size_t i = json_array_size(fields); i-- > 0;) {
        json_t *f = json_array_get(fields, i);
        const char *n = json_string_value(json_object_get(f, "name"));
        if (!strcmp(n, "items"))
            item_fields = json_object_get(json_object_get(json_object_get(f, "type"), "items"), "fields");
        if (!strcmp(n, "card_id") || !strcmp(n, "gender") || !strcmp(n, "diagnoses") || !strcmp(n, "buyer_registered"))
            json_array_remove(fields, i);
    }
    json_array_insert_new(fields, 2, json_pack("{s:s, s:s}", "name", "channel", "type", "string"));
    for (size_t i = json_array_size(item_fields); i-- > 0;) {
        const char *n = json_string_value(json_object_get(json_array_get(item_fields, i), "name"));
        if (!strcmp(n, "trace_codes") || !strcmp(n, "days_supply") || !strcmp(n, "name"))
            json_array_remove(item_fields, i);
    }
    json_array_insert_new(item_fields, 0,
                          json_pack("{s:s, s:[s,s], s:n}", "name", "batch_no", "type", "null", "string", "default"));
    char *out = json_dumps(s, JSON_COMPACT);
    json_decref(s);
    return out;
}

Test(codec, evolution_writer_with_extra_and_missing_fields_decodes) {
    char err[256];
    char *schema = evolved_claims_schema();
    cr_assert_eq(fg_codec_register_schema(g_codec, 11, schema, err, sizeof(err)), FG_OK, "%s", err);
    char *j = json_with(CLAIM_JSON, "channel", "\"app\"");
    char *j2 = json_with(j, "items[0].batch_no", "\"B-77\"");
    size_t len;
    unsigned char *buf = json_to_avro(schema, 11, j2, &len);
    fg_event_t ev;
    decode_ok(FG_STREAM_CLAIMS, buf, len, &ev, "evolved writer");
    cr_expect_str_eq(ev.event_id, "C1");
    cr_expect_str_eq(ev.patient_id, "P1");
    cr_expect_null(ev.card_id, "card_id missing from writer: default null");
    cr_expect_eq(ev.u.claim.gender, FG_GENDER_UNKNOWN, "gender missing from writer: default U");
    cr_expect_eq(ev.u.claim.n_diagnoses, 0, "diagnoses default []");
    cr_expect_eq(ev.u.claim.buyer_registered, false);
    cr_expect_eq(ev.u.claim.birth_date_days, 3711);
    cr_expect_eq(ev.u.claim.total_fen, 12345);
    cr_assert_eq(ev.u.claim.n_items, 2);
    cr_expect_str_eq(ev.u.claim.items[0].code, "X01");
    cr_expect_null(ev.u.claim.items[0].name);
    cr_expect_eq(ev.u.claim.items[0].days_supply, FG_DAYS_ABSENT);
    cr_expect_eq(ev.u.claim.items[0].n_trace_codes, 0);
    cr_expect_eq(ev.u.claim.items[1].amount_fen, 9345);
    free(buf);
    free(j);
    free(j2);
    free(schema);
}

static char *inpatient_schema_edit(const char *from, const char *to) {
    const char *s = fg_schema_text(FG_STREAM_INPATIENT);
    const char *at = strstr(s, from);
    cr_assert(at, "test schema edit: %s not found", from);
    char *out = malloc(strlen(s) + strlen(to) + 1);
    sprintf(out, "%.*s%s%s", (int)(at - s), s, to, at + strlen(from));
    return out;
}

Test(codec, evolution_enum_symbols_map_by_name) {
    char err[256];
    /* writer reorders CheckMethod and adds a symbol the reader does not know */
    char *schema = inpatient_schema_edit("[\"NONE\", \"WARD_ROUND\", \"FACE\", \"BED_SENSOR\"]",
                                         "[\"FACE\", \"BED_SENSOR\", \"VOICE\", \"NONE\", \"WARD_ROUND\"]");
    cr_assert_eq(fg_codec_register_schema(g_codec, 12, schema, err, sizeof(err)), FG_OK, "%s", err);
    size_t len;
    unsigned char *buf = json_to_avro(schema, 12, INPATIENT_JSON, &len);
    fg_event_t ev;
    decode_ok(FG_STREAM_INPATIENT, buf, len, &ev, "reordered enum");
    cr_expect_eq(ev.u.inpatient.check_method, FG_CHECK_FACE);
    free(buf);

    char *j = json_with(INPATIENT_JSON, "check_method", "\"VOICE\"");
    buf = json_to_avro(schema, 12, j, &len);
    char reason[256];
    cr_expect_eq(decode(FG_STREAM_INPATIENT, buf, len, NULL, &ev, reason, sizeof(reason)), FG_DECLINED);
    cr_expect(strstr(reason, "inpatient: field \"check_method\": unknown symbol \"VOICE\""), "%s", reason);
    free(buf);
    free(j);
    free(schema);
}

Test(codec, evolution_int_promotes_to_long_and_double) {
    char err[256];
    const char *s = fg_schema_text(FG_STREAM_INVOICING);
    /* amount_fen long -> int, quantity double -> int */
    char *a = strdup(s);
    char *p = strstr(a, "\"name\": \"quantity\", \"type\": \"double\"");
    cr_assert(p);
    memcpy(strstr(p, "\"double\""), "\"int\"   ", 8);
    p = strstr(a, "\"name\": \"amount_fen\", \"type\": \"long\"");
    cr_assert(p);
    memcpy(strstr(p, "\"long\""), "\"int\" ", 6);
    cr_assert_eq(fg_codec_register_schema(g_codec, 13, a, err, sizeof(err)), FG_OK, "%s", err);
    size_t len;
    unsigned char *buf = json_to_avro(a, 13, INVOICING_JSON, &len);
    fg_event_t ev;
    decode_ok(FG_STREAM_INVOICING, buf, len, &ev, "promoted types");
    check_invoicing_fields(&ev, "promoted types");
    free(buf);
    free(a);
}

typedef struct reg_case {
    const char *name;
    const char *from, *to; /* edit of inpatient.avsc; from NULL: schema given in to */
    const char *want;
} reg_case_t;

Test(codec, register_rejects_unreadable_writer_schemas) {
    static const reg_case_t cases[] = {
        {"required field missing, no default", "{\"name\": \"admission_id\", \"type\": \"string\"",
         "{\"name\": \"admission_ref\", \"type\": \"string\"", "\"admission_id\" is missing from the writer schema"},
        {"incompatible type",
         "{\"name\": \"event_time\", \"type\": {\"type\": \"long\", \"logicalType\": \"timestamp-millis\"}",
         "{\"name\": \"event_time\", \"type\": \"string\"", "\"event_time\": writer type string"},
        {"alert is not an input", NULL, "alert", "not an input stream"},
        {"not JSON", NULL, "{nope", "unparsable"},
        {"duplicate id", NULL, "dup", "already registered"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const reg_case_t *t = &cases[i];
        char err[256] = "";
        char *schema;
        int32_t id = 100 + (int32_t)i;
        if (t->from)
            schema = inpatient_schema_edit(t->from, t->to);
        else if (!strcmp(t->to, "alert"))
            schema = strdup(fg_schema_text(FG_STREAM_COUNT));
        else if (!strcmp(t->to, "dup"))
            schema = strdup(fg_schema_text(FG_STREAM_INPATIENT)), id = ID_INPATIENT;
        else
            schema = strdup(t->to);
        int rc = fg_codec_register_schema(g_codec, id, schema, err, sizeof(err));
        cr_expect_eq(rc, FG_ERR, "case \"%s\": registered", t->name);
        cr_expect(strstr(err, t->want), "case \"%s\": error \"%s\" lacks \"%s\"", t->name, err, t->want);
        free(schema);
    }
}

Test(codec, register_schema_file) {
    char err[256];
    char path[] = "/tmp/fg_test_codec_XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs(fg_schema_text(FG_STREAM_CLAIMS), f);
    fclose(f);
    cr_expect_eq(fg_codec_register_schema_file(g_codec, 21, path, err, sizeof(err)), FG_OK, "%s", err);
    unlink(path);
    cr_expect_eq(fg_codec_register_schema_file(g_codec, 22, path, err, sizeof(err)), FG_ERR);
    cr_expect(strstr(err, path), "%s", err);
}

/* ---- validation alone, names and schemas ---- */

Test(codec, validate_a_hand_built_event) {
    fg_item_t item = {.code = "X", .kind = FG_ITEM_DRUG, .quantity = 1, .days_supply = FG_DAYS_ABSENT};
    fg_event_t ev = {.stream = FG_STREAM_INVOICING,
                     .event_id = "V",
                     .event_time_ms = 1700000000000LL,
                     .region = "R",
                     .institution_id = "I",
                     .u.invoicing = {.type = FG_INV_SALE, .items = &item, .n_items = 1}};
    char reason[256] = "";
    cr_expect_eq(fg_event_validate(&ev, NULL, 1700000000000LL, reason, sizeof(reason)), FG_OK, "%s", reason);
    ev.u.invoicing.type = (fg_inv_type_t)9;
    cr_expect_eq(fg_event_validate(&ev, NULL, 1700000000000LL, reason, sizeof(reason)), FG_DECLINED);
    cr_expect_str_eq(reason, "invoicing: type: invalid value 9");
    ev.u.invoicing.type = FG_INV_SALE;
    ev.event_time_ms = 1700000000000LL + FG_MS_PER_DAY + 1;
    cr_expect_eq(fg_event_validate(&ev, NULL, 1700000000000LL, reason, sizeof(reason)), FG_DECLINED,
                 "one day and 1 ms ahead is too far");
    ev.event_time_ms = 1700000000000LL + FG_MS_PER_DAY;
    cr_expect_eq(fg_event_validate(&ev, NULL, 1700000000000LL, reason, sizeof(reason)), FG_OK,
                 "exactly one day is fine");
}

Test(codec, unencodable_events_yield_null) {
    fg_event_t ev;
    decode_ok(FG_STREAM_CLAIMS, CLAIM_JSON, strlen(CLAIM_JSON), &ev, "base");
    ev.u.claim.items[0].quantity = NAN;
    cr_expect_null(fg_codec_encode_json(&ev), "NaN has no JSON form");
    ev.u.claim.items[0].quantity = 1;
    ev.u.claim.visit_type = (fg_visit_t)42;
    cr_expect_null(fg_codec_encode_json(&ev));
    size_t len;
    cr_expect_null(fg_codec_encode_avro(g_codec, &ev, ID_CLAIMS, &len));
}

Test(codec, names_and_symbols) {
    for (int s = 0; s < FG_STREAM_COUNT; s++)
        cr_expect_eq(fg_stream_parse(fg_stream_name(s)), s);
    cr_expect_eq(fg_stream_parse("alerts"), -1);
    cr_expect_str_eq(fg_inst_type_name(FG_INST_CLINIC), "CLINIC");
    cr_expect_str_eq(fg_item_kind_name(FG_ITEM_EXAM), "EXAM");
    cr_expect_str_eq(fg_visit_name(FG_VISIT_EMERGENCY), "EMERGENCY");
    cr_expect_str_eq(fg_ip_type_name(FG_IP_PRESENCE_CHECK), "PRESENCE_CHECK");
    cr_expect_str_eq(fg_inv_type_name(FG_INV_STOCKTAKE), "STOCKTAKE");
    cr_expect_str_eq(fg_gender_name(FG_GENDER_MALE), "M");
    cr_expect_str_eq(fg_check_name(FG_CHECK_BED_SENSOR), "BED_SENSOR");
}

/* every field of every record carries a doc string: the schemas are user documentation */
static void expect_docs(json_t *type, const char *file) {
    if (json_is_array(type)) {
        for (size_t i = 0; i < json_array_size(type); i++)
            expect_docs(json_array_get(type, i), file);
        return;
    }
    if (!json_is_object(type)) return;
    const char *t = json_string_value(json_object_get(type, "type"));
    if (t && !strcmp(t, "array")) expect_docs(json_object_get(type, "items"), file);
    if (!t || strcmp(t, "record")) return;
    cr_expect_str_eq(json_string_value(json_object_get(type, "namespace"))
                         ? json_string_value(json_object_get(type, "namespace"))
                         : "cn.fundguard",
                     "cn.fundguard", "%s", file);
    json_t *fields = json_object_get(type, "fields");
    for (size_t i = 0; i < json_array_size(fields); i++) {
        json_t *f = json_array_get(fields, i);
        cr_expect(json_is_string(json_object_get(f, "doc")), "%s: field %s has no doc", file,
                  json_string_value(json_object_get(f, "name")));
        expect_docs(json_object_get(f, "type"), file);
    }
}

Test(codec, schemas_are_documented_and_parse) {
    const char *names[] = {"Claim", "InpatientEvent", "InvoicingEvent", "Alert"};
    for (int s = 0; s <= FG_STREAM_COUNT; s++) {
        const char *text = fg_schema_text(s);
        cr_assert(text);
        json_error_t e;
        json_t *j = json_loads(text, 0, &e);
        cr_assert(j, "%s: %s", names[s], e.text);
        cr_expect_str_eq(json_string_value(json_object_get(j, "name")), names[s]);
        expect_docs(j, names[s]);
        json_decref(j);
        avro_schema_t sc;
        cr_expect_eq(avro_schema_from_json_length(text, strlen(text), &sc), 0, "%s: %s", names[s], avro_strerror());
        avro_schema_decref(sc);
    }
}
