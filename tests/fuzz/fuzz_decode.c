/*
 * fuzz_decode.c - libFuzzer target for fg_codec_decode, every stream, JSON and
 * Confluent Avro.
 *
 * Input: byte 0 selects the stream (byte % 3: claims, inpatient, invoicing),
 * the rest is the message as it would arrive on the topic. The codec has the
 * three compiled-in schemas registered under ids 1/2/3 (as in test_codec.c and
 * the seed corpus), so Avro bodies reach schema resolution and the body walk.
 *
 * The contract checked on every input:
 *   - rc is FG_OK or FG_DECLINED, nothing else (a decline is what sends the
 *     message to the dead-letter topic) and a decline carries a non-empty reason;
 *   - an accepted event re-encodes to JSON and to Avro, both decode again
 *     (FG_OK) and give back the same event: the JSON of every re-decoded event
 *     is byte-identical to the JSON of the first (the codec's documented
 *     normalisations - field order, omitted nulls, birth_date as YYYY-MM-DD,
 *     unknown fields dropped - all happen in the first encoding, so from there
 *     on the round trip is exact, as test_codec.c's round_trips_* tests state).
 * ASan/UBSan/LeakSanitizer and libFuzzer's -timeout catch the rest.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "core/log.h"
#include "schemas/codec.h"

static fg_codec_t *g_codec;
static fg_arena_t *g_arena;
static fg_validate_opts_t g_opts;

static void die(const char *what, const char *detail) {
    fprintf(stderr, "fuzz_decode: contract violated: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    abort();
}

/* at exit, so LeakSanitizer's exit-time check sees what the codec still owns freed */
static void teardown(void) {
    fg_codec_destroy(g_codec);
    fg_arena_destroy(g_arena);
}

static void setup(void) {
    char err[256];
    fg_log_set_level(FG_LOG_ERROR);
    g_codec = fg_codec_create(err, sizeof(err));
    if (!g_codec) die("fg_codec_create", err);
    for (int s = 0; s < FG_STREAM_COUNT; s++)
        if (fg_codec_register_schema(g_codec, s + 1, fg_schema_text((fg_stream_t)s), err, sizeof(err)) != FG_OK)
            die("fg_codec_register_schema", err);
    g_arena = fg_arena_create(0);
    fg_validate_opts_default(&g_opts);
    atexit(teardown);
}

static void decode_again(fg_stream_t s, const void *buf, size_t len, const char *json1, const char *what) {
    fg_event_t ev;
    char reason[512] = "";
    int rc = fg_codec_decode(g_codec, s, buf, len, g_arena, &g_opts, &ev, reason, sizeof(reason));
    if (rc != FG_OK) {
        fprintf(stderr, "first JSON: %s\n", json1);
        die(what, reason);
    }
    char *j = fg_codec_encode_json(&ev);
    if (!j) die(what, "re-decoded event has no JSON form");
    if (strcmp(j, json1)) {
        fprintf(stderr, "first JSON: %s\nagain:      %s\n", json1, j);
        die(what, "round trip changed the event");
    }
    free(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!g_codec) setup();
    if (size < 1) return 0;
    fg_stream_t s = (fg_stream_t)(data[0] % FG_STREAM_COUNT);
    /* a heap copy of exactly the message bytes, so ASan sees any over-read */
    size_t len = size - 1;
    unsigned char *msg = malloc(len ? len : 1);
    if (len) memcpy(msg, data + 1, len);

    fg_arena_reset(g_arena);
    fg_event_t ev;
    char reason[512];
    memset(reason, 0, sizeof(reason));
    int rc = fg_codec_decode(g_codec, s, msg, len, g_arena, &g_opts, &ev, reason, sizeof(reason));
    if (rc == FG_DECLINED) {
        if (!reason[0]) die("FG_DECLINED with an empty reason", NULL);
        if (!memchr(reason, '\0', sizeof(reason))) die("reason not NUL-terminated", NULL);
    } else if (rc == FG_OK) {
        if (ev.stream != s) die("decoded event has another stream", fg_stream_name(ev.stream));
        char *j1 = fg_codec_encode_json(&ev);
        if (!j1) die("accepted event has no JSON form", NULL);
        decode_again(s, j1, strlen(j1), j1, "JSON re-encoding does not decode back");
        size_t alen = 0;
        void *a = fg_codec_encode_avro(g_codec, &ev, (int32_t)s + 1, &alen);
        if (!a) die("accepted event has no Avro form", j1);
        decode_again(s, a, alen, j1, "Avro re-encoding does not decode back");
        free(a);
        free(j1);
    } else {
        char rcs[32];
        snprintf(rcs, sizeof(rcs), "rc %d", rc);
        die("fg_codec_decode returned neither FG_OK nor FG_DECLINED", rcs);
    }
    free(msg);
    return 0;
}
