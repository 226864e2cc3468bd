/*
 * gen_seeds.c - writes the fuzz_decode seed corpus (tests/fuzz/corpus/fuzz_decode/).
 *
 * Each seed is one stream-selector byte (0 claims, 1 inpatient, 2 invoicing;
 * see fuzz_decode.c) followed by a message: the JSON samples, their Confluent
 * Avro encodings by fg_codec_encode_avro under schema ids 1/2/3, and edge
 * cases (optional fields absent or null, birth_date as days, empty arrays,
 * framing and body errors). Built as fuzz_gen_seeds when FG_FUZZ=ON; run it
 * from the repository root after changing a schema: build-fuzz/fuzz_gen_seeds.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "core/log.h"
#include "schemas/codec.h"

#define DIR "tests/fuzz/corpus/fuzz_decode/"

static void put(const char *name, int stream, const void *buf, size_t len) {
    char path[256];
    snprintf(path, sizeof(path), DIR "%s", name);
    FILE *f = fopen(path, "wb");
    if (!f || fputc(stream, f) == EOF || (len && fwrite(buf, 1, len, f) != len) || fclose(f)) {
        perror(path);
        exit(1);
    }
}

static const char *const JSON[][2] = {
    /* claims */
    {"claims_full.json",
     "{\"claim_id\":\"C1\",\"event_time\":1700000000000,\"region\":\"140100\",\"institution_id\":\"H001\","
     "\"institution_type\":\"HOSPITAL\",\"patient_id\":\"P1\",\"card_id\":\"K1\",\"gender\":\"F\","
     "\"birth_date\":\"1980-02-29\",\"visit_type\":\"INPATIENT\",\"admission_id\":\"A1\",\"doctor_id\":\"D1\","
     "\"prescription_id\":null,\"diagnoses\":[\"J18.9\",\"E11.9\"],\"buyer_registered\":false,"
     "\"total_fen\":12345,\"fund_paid_fen\":10000,\"self_paid_fen\":2345,\"items\":["
     "{\"code\":\"X01\",\"name\":\"阿莫西林胶囊\",\"kind\":\"DRUG\",\"quantity\":2,\"unit_price_fen\":1500,"
     "\"amount_fen\":3000,\"days_supply\":7,\"trace_codes\":[\"T81000000001\",\"T81000000002\"]},"
     "{\"code\":\"B01\",\"kind\":\"BED\",\"quantity\":1.5,\"unit_price_fen\":6230,\"amount_fen\":9345}],"
     "\"future_field\":{\"ignored\":[1,2,3]}}"},
    {"claims_pharmacy.json",
     "  \n{\"claim_id\":\"C2\",\"event_time\":1791795600000,\"region\":\"140100\",\"institution_id\":\"D-140105-201\","
     "\"institution_type\":\"PHARMACY\",\"patient_id\":\"P-1005\",\"gender\":\"M\",\"birth_date\":3650,"
     "\"visit_type\":\"PHARMACY\",\"prescription_id\":\"RX9\",\"buyer_registered\":true,\"total_fen\":0,"
     "\"fund_paid_fen\":0,\"self_paid_fen\":0,\"items\":[]}"},
    {"claims_minimal.json",
     "{\"claim_id\":\"C3\",\"event_time\":946684800000,\"region\":\"1\",\"institution_id\":\"I\","
     "\"institution_type\":\"CLINIC\",\"patient_id\":\"P\",\"visit_type\":\"EMERGENCY\",\"total_fen\":9223372036854775807,"
     "\"fund_paid_fen\":1,\"self_paid_fen\":1,\"items\":[{\"code\":\"E\",\"kind\":\"EXAM\",\"quantity\":1e-300,"
     "\"unit_price_fen\":0,\"amount_fen\":0,\"days_supply\":null,\"trace_codes\":[]}]}"},
    {"claims_negative_total.json",
     "{\"claim_id\": \"cl-0002\", \"event_time\": 1791795600000, \"region\": \"140100\", \"institution_id\": "
     "\"D-140105-201\", \"institution_type\": \"PHARMACY\", \"patient_id\": \"P-1005\", \"visit_type\": "
     "\"PHARMACY\", \"total_fen\": -500, \"fund_paid_fen\": 0, \"self_paid_fen\": 0, \"items\": []}"},
    /* inpatient */
    {"inpatient_presence.json",
     "{\"event_id\":\"E1\",\"event_time\":1700000000000,\"region\":\"140100\",\"institution_id\":\"H001\","
     "\"institution_type\":\"PRIMARY\",\"patient_id\":\"P1\",\"admission_id\":\"A1\",\"type\":\"PRESENCE_CHECK\","
     "\"check_method\":\"FACE\",\"present\":false,\"ward\":\"W3\",\"diagnosis\":\"J18.9\"}"},
    {"inpatient_admit.json",
     "{\"event_id\":\"E2\",\"event_time\":1700000000001,\"region\":\"140100\",\"institution_id\":\"H-140105-012\","
     "\"institution_type\":\"HOSPITAL\",\"patient_id\":\"P-1003\",\"card_id\":null,\"admission_id\":\"ADM-7\","
     "\"type\":\"ADMIT\",\"doctor_id\":\"D-1401-0007\",\"diagnosis\":\"I63.9\"}"},
    {"inpatient_discharge.json",
     "{\"event_id\":\"E3\",\"event_time\":1700000000002,\"region\":\"140100\",\"institution_id\":\"H\","
     "\"institution_type\":\"HOSPITAL\",\"patient_id\":\"P\",\"admission_id\":\"A\",\"type\":\"DISCHARGE\"}"},
    {"inpatient_bad_time.json", "{\"event_id\":\"ip-0031\",\"event_time\":\"yesterday\",\"region\":\"140100\"}"},
    /* invoicing */
    {"invoicing_purchase.json",
     "{\"event_id\":\"V1\",\"event_time\":1700000000000,\"region\":\"141100\",\"institution_id\":\"PH07\","
     "\"institution_type\":\"PHARMACY\",\"type\":\"PURCHASE\",\"supplier\":\"S9\",\"invoice_no\":\"INV-2023-1\","
     "\"items\":[{\"code\":\"X01\",\"kind\":\"DRUG\",\"quantity\":100,\"unit_price_fen\":1200,"
     "\"amount_fen\":120000,\"trace_codes\":[\"T81000000001\"]}]}"},
    {"invoicing_sale.json",
     "{\"event_id\":\"V2\",\"event_time\":1700000000000,\"region\":\"141100\",\"institution_id\":\"PH07\","
     "\"institution_type\":\"PHARMACY\",\"type\":\"SALE\",\"items\":[{\"code\":\"X01\",\"name\":\"药\",\"kind\":"
     "\"CONSUMABLE\",\"quantity\":0.25,\"unit_price_fen\":1,\"amount_fen\":1,\"days_supply\":30},{\"code\":\"S\","
     "\"kind\":\"SERVICE\",\"quantity\":0,\"unit_price_fen\":0,\"amount_fen\":0}]}"},
    {"invoicing_stocktake.json",
     "{\"event_id\":\"V3\",\"event_time\":1700000000000,\"region\":\"141100\",\"institution_id\":\"PH07\","
     "\"institution_type\":\"PRIMARY\",\"type\":\"STOCKTAKE\",\"supplier\":null,\"items\":[]}"},
};

int main(void) {
    char err[256];
    fg_log_set_level(FG_LOG_ERROR);
    fg_codec_t *c = fg_codec_create(err, sizeof(err));
    if (!c) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    for (int s = 0; s < FG_STREAM_COUNT; s++)
        if (fg_codec_register_schema(c, s + 1, fg_schema_text((fg_stream_t)s), err, sizeof(err)) != FG_OK) {
            fprintf(stderr, "%s\n", err);
            return 1;
        }
    fg_arena_t *arena = fg_arena_create(0);
    unsigned char *claim_avro = NULL;
    size_t claim_avro_len = 0;
    for (size_t i = 0; i < sizeof(JSON) / sizeof(JSON[0]); i++) {
        const char *name = JSON[i][0], *text = JSON[i][1];
        int s = !strncmp(name, "claims", 6) ? 0 : !strncmp(name, "inpatient", 9) ? 1 : 2;
        put(name, s, text, strlen(text));
        fg_event_t ev;
        char reason[512];
        if (fg_codec_decode(c, (fg_stream_t)s, text, strlen(text), arena, NULL, &ev, reason, sizeof(reason)) != FG_OK)
            continue; /* a declined seed has no Avro twin */
        size_t len;
        unsigned char *a = fg_codec_encode_avro(c, &ev, s + 1, &len);
        char an[128];
        snprintf(an, sizeof(an), "%.*s.avro", (int)(strlen(name) - 5), name);
        put(an, s, a, len);
        if (s == 0 && !claim_avro) {
            claim_avro = a;
            claim_avro_len = len;
        } else {
            free(a);
        }
    }
    /* framing and body edge cases (the ones test_codec.c declines) */
    unsigned char *b = malloc(claim_avro_len + 2);
    put("edge_avro_truncated", 0, claim_avro, claim_avro_len - 3);
    memcpy(b, claim_avro, claim_avro_len);
    b[claim_avro_len] = 0x02;
    b[claim_avro_len + 1] = 0x04;
    put("edge_avro_trailing", 0, b, claim_avro_len + 2);
    memcpy(b, claim_avro, claim_avro_len);
    b[3] = 0x03;
    b[4] = 0xe7;
    put("edge_avro_unknown_id", 0, b, claim_avro_len);
    put("edge_avro_other_stream_id", 1, claim_avro, claim_avro_len);
    static const unsigned char header_only[] = {0, 0, 0, 0, 1};
    put("edge_avro_header_only", 0, header_only, sizeof(header_only));
    static const unsigned char huge[] = {0, 0, 0, 0, 2, 0xfe, 0xff, 0xff, 0xff, 0x3f, 'a'};
    put("edge_avro_huge_string", 1, huge, sizeof(huge));
    static const unsigned char neg[] = {0, 0, 0, 0, 2, 0x03, 'a'};
    put("edge_avro_negative_length", 1, neg, sizeof(neg));
    static const unsigned char shorth[] = {0, 0, 0};
    put("edge_short_header", 2, shorth, sizeof(shorth));
    put("edge_empty", 0, "", 0);
    put("edge_whitespace", 1, " \t\r\n", 4);
    put("edge_not_json", 2, "hello", 5);
    put("edge_json_unterminated", 0, "{\"claim_id\": ", 13);
    put("edge_json_duplicate_key", 1, "{\"event_id\":\"X\",\"event_id\":\"Y\"}", 31);
    put("edge_json_deep", 2, "{\"a\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[{}]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}", 66);
    free(b);
    free(claim_avro);
    fg_arena_destroy(arena);
    fg_codec_destroy(c);
    return 0;
}
