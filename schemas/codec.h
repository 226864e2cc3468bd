/*
 * codec.h - bytes on a topic <-> fg_event_t.
 *
 * A message is either JSON (first non-blank byte '{') or Avro binary in the
 * Confluent wire format: magic byte 0, 4-byte big-endian schema id, Avro body.
 * Schema ids map to writer-schema files through configuration; the reader
 * schema for each stream is compiled into the binary from the schemas/ .avsc files, so
 * writers may evolve compatibly (Avro schema resolution).
 */
#ifndef FG_CODEC_H
#define FG_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "../core/common.h"
#include "event.h"

typedef struct fg_codec fg_codec_t;

/** Limits applied after decoding (all configurable under "validation."). */
typedef struct fg_validate_opts {
    int64_t min_event_time_ms;  /**< default 2000-01-01T00:00:00Z */
    int64_t max_future_ms;      /**< event time may exceed wall clock by this much (default 1 day) */
    uint32_t max_items;         /**< default 10000 */
    uint32_t max_trace_codes;   /**< per item, default 10000 */
    size_t max_id_len;          /**< default 128 bytes for any id/code */
    int64_t max_amount_fen;     /**< any money field (totals, prices, amounts), default 10^11 fen (1e9 yuan) */
    double max_quantity;        /**< an item's quantity, default 1e8 */
} fg_validate_opts_t;

/** @brief Fills opts with the defaults documented above. */
void fg_validate_opts_default(fg_validate_opts_t *opts);

/** @returns a codec with the compiled-in reader schemas; caller frees with fg_codec_destroy(). */
fg_codec_t *fg_codec_create(char *errstr, size_t errstr_size);
void fg_codec_destroy(fg_codec_t *c); /* accepts NULL */

/**
 * @brief Registers the writer schema for a Confluent schema id.
 * @param schema_json the .avsc text (borrowed). Its record name decides the stream.
 * @returns FG_OK, or FG_ERR with errstr set (unparsable schema, not resolvable
 *          to the stream's reader schema, duplicate id).
 */
int fg_codec_register_schema(fg_codec_t *c, int32_t schema_id, const char *schema_json, char *errstr,
                             size_t errstr_size);
/** @brief Same, reading the .avsc from a file path. */
int fg_codec_register_schema_file(fg_codec_t *c, int32_t schema_id, const char *path, char *errstr,
                                  size_t errstr_size);

/**
 * @brief Decodes and validates one message of stream `expected`.
 * @param arena where the event's strings and arrays are allocated (borrowed).
 * @returns FG_OK with *ev filled, or FG_DECLINED with a precise reason
 *          (e.g. "claims: items[2].quantity: negative (-3)") in reason.
 * @remark Thread-compatible: one codec per thread.
 */
int fg_codec_decode(fg_codec_t *c, fg_stream_t expected, const void *buf, size_t len, fg_arena_t *arena,
                    const fg_validate_opts_t *opts, fg_event_t *ev, char *reason, size_t reason_size);

/** @brief Validation alone (used by decode; exposed for tests and generators). */
int fg_event_validate(const fg_event_t *ev, const fg_validate_opts_t *opts, int64_t now_ms, char *reason,
                      size_t reason_size);

/** @brief JSON encoding of an event. @returns malloc'd NUL-terminated text; caller frees with free(). */
char *fg_codec_encode_json(const fg_event_t *ev);

/**
 * @brief Avro encoding in Confluent wire format with the compiled-in schema of
 * ev->stream and the given schema id (register the same schema under that id
 * on the reading side). @returns malloc'd buffer, *len set; caller frees with free().
 */
void *fg_codec_encode_avro(fg_codec_t *c, const fg_event_t *ev, int32_t schema_id, size_t *len);

/** @returns the compiled-in .avsc text for a stream, or for "alert" when s == FG_STREAM_COUNT. */
const char *fg_schema_text(fg_stream_t s);

#endif
