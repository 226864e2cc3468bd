/*
 * recfile.h - recorded streams: one file holds the messages of one stream
 * (claims, inpatient or invoicing) in arrival order, each with its Kafka key
 * and timestamp, so `fundguard replay` can put them back on a topic as they
 * were. `fundguard record` and the synthetic-data generator write them.
 *
 * Two formats, chosen by the file name's extension:
 *  - ".avro": an Avro object container file (deflate codec, schema embedded).
 *    Each datum is the envelope record fundguard.rec.Recorded
 *        key          ["null","bytes"]   Kafka key (null = no key)
 *        timestamp_ms long               Kafka message timestamp
 *        event        ["null", <the stream's own record, e.g. cn.fundguard.Claim>]
 *        raw          ["null","bytes"]   the original bytes of a message that did not decode
 *    so the file is typed and self-describing: any Avro tool reads it.
 *  - ".jsonl": JSON Lines, one object per message:
 *        {"stream":"claims","key":"P1","timestamp_ms":1767225600000,"event":{...}}
 *    "key" is null when there is none, or "key_b64" (base64) when it is not
 *    UTF-8; an undecodable message has "raw_b64" instead of "event".
 *
 * Exactly one of event / raw is set per record. Writing and reading are
 * streaming: memory use does not grow with the file.
 */
#ifndef FG_RECFILE_H
#define FG_RECFILE_H

#include <stddef.h>
#include <stdint.h>

#include "../core/common.h"
#include "event.h"

/** fg_rec_reader_next(): no more records (not an error). */
#define FG_REC_END 1

typedef enum { FG_REC_AVRO = 0, FG_REC_JSONL } fg_rec_format_t;

typedef struct fg_rec_writer fg_rec_writer_t;
typedef struct fg_rec_reader fg_rec_reader_t;

/**
 * @brief Format of a path by its extension.
 * @returns FG_REC_AVRO for ".avro", FG_REC_JSONL for ".jsonl", or -1.
 */
int fg_rec_format_of(const char *path);

/**
 * @brief Creates (truncates) path and writes the header for stream s.
 * @param path ".avro" or ".jsonl" (borrowed).
 * @returns the writer, or NULL with errstr set (unknown extension, cannot create).
 *          Caller ends it with fg_rec_writer_close().
 */
fg_rec_writer_t *fg_rec_writer_open(const char *path, fg_stream_t s, char *errstr, size_t errstr_size);

/**
 * @brief Appends one decoded event.
 * @param key the Kafka key (borrowed), NULL for none; key_len bytes.
 * @param ts_ms the Kafka message timestamp to reproduce on replay.
 * @param ev an event of the writer's stream (borrowed).
 * @returns FG_OK, or FG_ERR with errstr set (I/O error, wrong stream).
 */
int fg_rec_writer_put(fg_rec_writer_t *w, const char *key, size_t key_len, int64_t ts_ms, const fg_event_t *ev,
                      char *errstr, size_t errstr_size);

/**
 * @brief Appends a message that did not decode, byte for byte (record never drops data).
 * @param raw the message value (borrowed), raw_len bytes (0 allowed).
 * @returns FG_OK, or FG_ERR with errstr set.
 */
int fg_rec_writer_put_raw(fg_rec_writer_t *w, const char *key, size_t key_len, int64_t ts_ms, const void *raw,
                          size_t raw_len, char *errstr, size_t errstr_size);

/** @returns records appended so far (events + raw). */
uint64_t fg_rec_writer_count(const fg_rec_writer_t *w);

/**
 * @brief Flushes, closes and frees the writer (accepts NULL).
 * @returns FG_OK, or FG_ERR if anything written since the last check failed to
 *          reach the file (the file is then incomplete).
 */
int fg_rec_writer_close(fg_rec_writer_t *w, char *errstr, size_t errstr_size);

/** One record read back. Pointers are valid until the next fg_rec_reader_next() or close. */
typedef struct fg_rec {
    uint64_t index;  /**< 0-based position in the file */
    const char *key; /**< NULL = no key; not NUL-terminated in general: use key_len */
    size_t key_len;
    int64_t ts_ms; /**< Kafka message timestamp */
    int is_raw;    /**< 1: raw/raw_len hold an undecodable message; 0: ev holds the event */
    const void *raw;
    size_t raw_len;
    fg_event_t ev; /**< strings and arrays live in the caller's arena */
} fg_rec_t;

/**
 * @brief Opens a recorded file; the format comes from the extension, the
 * stream from the file itself (Avro: the event record's name; JSON Lines:
 * the first line's "stream").
 * @returns the reader, or NULL with errstr set (missing file, not a recorded
 *          file, unknown stream). Caller frees with fg_rec_reader_close().
 */
fg_rec_reader_t *fg_rec_reader_open(const char *path, char *errstr, size_t errstr_size);

/**
 * @returns the stream of the file's records; FG_STREAM_COUNT for an empty JSON
 * Lines file (no line names the stream; it reads as zero records).
 */
fg_stream_t fg_rec_reader_stream(const fg_rec_reader_t *r);
/** @returns the file's format. */
fg_rec_format_t fg_rec_reader_format(const fg_rec_reader_t *r);

/**
 * @brief Reads the next record.
 * @param arena where the event's strings and arrays are allocated (borrowed);
 *        reset it between records to keep memory constant.
 * @returns FG_OK with *rec filled, FG_REC_END at the end of the file, or FG_ERR
 *          with errstr naming the file, the record index and the reason
 *          (truncated file, corrupt block, an event that does not decode).
 *          After FG_ERR the reader cannot continue.
 * @remark Events are decoded with the codec's checks but no time-window or
 *         size limits: the consumer applies those when the record is replayed.
 */
int fg_rec_reader_next(fg_rec_reader_t *r, fg_arena_t *arena, fg_rec_t *rec, char *errstr, size_t errstr_size);

/**
 * @brief How far reading has got, for progress displays.
 * @returns bytes of the file consumed so far; *size (if not NULL) gets the file's size.
 */
uint64_t fg_rec_reader_position(const fg_rec_reader_t *r, uint64_t *size);

/** @brief Closes and frees the reader (accepts NULL). */
void fg_rec_reader_close(fg_rec_reader_t *r);

#endif
