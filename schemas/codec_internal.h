/*
 * codec_internal.h - private to schemas/: the field tables that drive every
 * codec (JSON decode/encode, Avro decode/encode, schema resolution), and the
 * codec object itself.
 *
 * One table per record type lists the schema field names, their kind and
 * where they land in fg_event_t / fg_item_t. Keeping the mapping in one place
 * means the four code paths cannot disagree about a field.
 */
#ifndef FG_CODEC_INTERNAL_H
#define FG_CODEC_INTERNAL_H

#include <avro.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codec.h"
#include "event.h"

/* enum fields are written through int *: make sure that is their size */
_Static_assert(sizeof(fg_visit_t) == sizeof(int), "enums must be int-sized");

typedef enum {
    FG_K_STRING,     /**< required string -> const char * */
    FG_K_OPT_STRING, /**< ["null","string"] -> const char * or NULL */
    FG_K_LONG,       /**< required long -> int64_t (int promotes) */
    FG_K_DOUBLE,     /**< required double -> double (int/long/float promote) */
    FG_K_BOOL,       /**< boolean with default false -> bool */
    FG_K_OPT_BOOL,   /**< ["null","boolean"] -> int 0/1 or FG_PRESENT_ABSENT */
    FG_K_OPT_INT,    /**< ["null","int"] -> int32_t or FG_DAYS_ABSENT */
    FG_K_OPT_DATE,   /**< ["null",date] -> int32_t or FG_DATE_ABSENT; JSON also "YYYY-MM-DD" */
    FG_K_ENUM,       /**< enum -> int (C enum), symbol mapped by name */
    FG_K_STR_ARRAY,  /**< array<string> with default [] -> const char ** + uint32_t count */
    FG_K_ITEMS,      /**< required array<Item> -> fg_item_t * + uint32_t count */
} fg_kind_t;

typedef struct fg_field {
    const char *name; /**< schema and JSON field name */
    fg_kind_t kind;
    size_t off;                       /**< offset in fg_event_t (records) or fg_item_t (items) */
    size_t count_off;                 /**< arrays: offset of the uint32_t count */
    int (*parse)(const char *sym);    /**< enums: symbol -> value or -1 */
    const char *(*symbol)(int value); /**< enums: value -> symbol */
    int dflt;                         /**< enums: default value, or -1 when the field is required */
} fg_field_t;

typedef struct fg_record_desc {
    const char *record_name; /**< Avro record name, decides the stream of a writer schema */
    const fg_field_t *fields;
    size_t n_fields;
} fg_record_desc_t;

/** @returns the field table of a stream's top-level record. */
const fg_record_desc_t *fg_record_desc(fg_stream_t s);
/** @returns the field table of Item. */
const fg_record_desc_t *fg_item_desc(void);
/** @returns true if a field may be absent from a writer schema / JSON object. */
bool fg_field_has_default(const fg_field_t *f);

#define FG_MAX_FIELDS 24

/*
 * Diagnoses per claim. Not in fg_validate_opts_t (the header is shared);
 * real claims carry a handful of ICD-10 codes, so a fixed bound only stops
 * abuse of the array.
 */
#define FG_MAX_DIAGNOSES 1000

/*
 * How to read one writer record: for each reader field (table order), the
 * writer's field index or -1 (absent: use the default).
 */
#define FG_EMAP 32 /* writer enum symbols mapped ahead of time; rarer ones go by name */

typedef struct fg_avro_plan {
    int top[FG_MAX_FIELDS];
    int item[FG_MAX_FIELDS];
    /* enum fields: writer symbol index -> C enum value, -1 unknown, -2 not mapped (use the name) */
    signed char emap_top[FG_MAX_FIELDS][FG_EMAP];
    signed char emap_item[FG_MAX_FIELDS][FG_EMAP];
} fg_avro_plan_t;

/*
 * The writer schema compiled into a tree for the bounds-checked pre-walk of
 * each body (see codec_avro.c): no hash lookups per field, unlike
 * avro_skip_data.
 */
typedef struct fg_wnode {
    avro_type_t type;
    size_t n;               /* record: fields; union: branches; fixed: size */
    size_t min_size;        /* fewest bytes one value takes: bounds array counts */
    struct fg_wnode **kids; /* record fields, union branches, or [0] = array/map items */
} fg_wnode_t;

/** @returns the tree of a writer schema, or NULL (errstr set). Free with fg_wnode_free(). */
fg_wnode_t *fg_wnode_build(avro_schema_t s, char *errstr, size_t errstr_size);
void fg_wnode_free(fg_wnode_t *n);

/** One registered writer schema (Confluent id -> schema). */
typedef struct fg_writer {
    int32_t id;
    fg_stream_t stream;
    avro_schema_t schema;
    avro_value_iface_t *iface;
    avro_value_t value; /**< reused across messages */
    fg_wnode_t *walk;   /**< for the pre-walk */
    fg_avro_plan_t plan;
} fg_writer_t;

struct fg_codec {
    avro_schema_t reader[FG_STREAM_COUNT]; /**< compiled-in schemas */
    fg_avro_plan_t reader_plan[FG_STREAM_COUNT];
    avro_value_iface_t *enc_iface[FG_STREAM_COUNT];
    avro_value_t enc_value[FG_STREAM_COUNT]; /**< reused by the encoder */
    avro_reader_t rd;
    avro_writer_t wr;
    fg_writer_t *writers;
    size_t n_writers, cap_writers;
    size_t last_hit; /**< most messages on a topic carry the same id */
};

/*
 * Builds the plan for a writer record against the reader table; checks each
 * field's type is resolvable. errstr says which field and why.
 */
int fg_avro_plan_build(avro_schema_t writer, fg_stream_t s, fg_avro_plan_t *plan, char *errstr, size_t errstr_size);

/* decoders: fill *ev (already zeroed, stream set); FG_OK or FG_DECLINED with reason */
int fg_json_decode(fg_stream_t s, const char *buf, size_t len, fg_arena_t *arena, const fg_validate_opts_t *opts,
                   fg_event_t *ev, char *reason, size_t reason_size);
int fg_avro_decode(fg_codec_t *c, fg_stream_t s, const unsigned char *buf, size_t len, fg_arena_t *arena,
                   const fg_validate_opts_t *opts, fg_event_t *ev, char *reason, size_t reason_size);

/* compiled-in schema texts, generated by CMake from schemas/ *.avsc */
extern const char fg_schema_claims_avsc[];
extern const char fg_schema_inpatient_avsc[];
extern const char fg_schema_invoicing_avsc[];
extern const char fg_schema_alert_avsc[];

#endif
