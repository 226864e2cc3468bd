/*
 * event.h - the typed in-memory event every detector reads.
 *
 * Built by the codec from JSON or Avro (Confluent wire format); strings and
 * arrays live in the batch arena and are valid until the batch ends. Absent
 * optional strings are NULL; absent optional numbers use the FG_*_ABSENT
 * sentinels below. The Avro schemas in this folder are the contract.
 */
#ifndef FG_EVENT_H
#define FG_EVENT_H

#include <stdbool.h>
#include <stdint.h>

typedef enum {
    FG_STREAM_CLAIMS = 0,
    FG_STREAM_INPATIENT,
    FG_STREAM_INVOICING,
    FG_STREAM_COUNT
} fg_stream_t;

#define FG_STREAM_BIT(s) (1u << (s))

typedef enum { FG_INST_HOSPITAL = 0, FG_INST_PRIMARY, FG_INST_PHARMACY, FG_INST_CLINIC } fg_inst_type_t;
typedef enum { FG_GENDER_UNKNOWN = 0, FG_GENDER_MALE, FG_GENDER_FEMALE } fg_gender_t;
typedef enum { FG_VISIT_OUTPATIENT = 0, FG_VISIT_INPATIENT, FG_VISIT_PHARMACY, FG_VISIT_EMERGENCY } fg_visit_t;
typedef enum {
    FG_ITEM_DRUG = 0,
    FG_ITEM_SERVICE,
    FG_ITEM_CONSUMABLE,
    FG_ITEM_BED,
    FG_ITEM_EXAM
} fg_item_kind_t;
typedef enum {
    FG_IP_ADMIT = 0,
    FG_IP_DISCHARGE,
    FG_IP_TRANSFER,
    FG_IP_LEAVE,
    FG_IP_RETURN,
    FG_IP_PRESENCE_CHECK
} fg_ip_type_t;
typedef enum { FG_CHECK_NONE = 0, FG_CHECK_WARD_ROUND, FG_CHECK_FACE, FG_CHECK_BED_SENSOR } fg_check_t;
typedef enum { FG_INV_PURCHASE = 0, FG_INV_SALE, FG_INV_RETURN, FG_INV_STOCKTAKE } fg_inv_type_t;

#define FG_DAYS_ABSENT (-1)            /**< item.days_supply not given */
#define FG_DATE_ABSENT INT32_MIN       /**< claim.birth_date_days not given */
#define FG_PRESENT_ABSENT (-1)         /**< inpatient.present not given */

/** One line item of a claim or an invoicing record. Money in fen (0.01 yuan). */
typedef struct fg_item {
    const char *code;          /**< catalogue code (required) */
    const char *name;          /**< optional */
    fg_item_kind_t kind;
    double quantity;           /**< >= 0 */
    int64_t unit_price_fen;    /**< >= 0 */
    int64_t amount_fen;        /**< >= 0 */
    int32_t days_supply;       /**< >= 0, or FG_DAYS_ABSENT */
    const char **trace_codes;  /**< drug traceability codes (追溯码) */
    uint32_t n_trace_codes;
} fg_item_t;

/** claims stream: one settlement (结算) with its items. */
typedef struct fg_claim {
    fg_gender_t gender;
    int32_t birth_date_days;   /**< days since 1970-01-01, or FG_DATE_ABSENT */
    fg_visit_t visit_type;
    const char *admission_id;  /**< inpatient claims; NULL otherwise */
    const char *doctor_id;     /**< optional */
    const char *prescription_id; /**< optional */
    const char **diagnoses;    /**< ICD-10 codes */
    uint32_t n_diagnoses;
    bool buyer_registered;     /**< pharmacy: buyer identity registered */
    int64_t total_fen, fund_paid_fen, self_paid_fen;
    fg_item_t *items;
    uint32_t n_items;
} fg_claim_t;

/** inpatient stream: admission, discharge, transfer, leave and presence checks. */
typedef struct fg_inpatient {
    fg_ip_type_t type;
    const char *admission_id;  /**< required: ties the stay's events together */
    fg_check_t check_method;   /**< presence checks only */
    int present;               /**< 0/1 for presence checks, FG_PRESENT_ABSENT otherwise */
    const char *ward;          /**< optional */
    const char *doctor_id;     /**< optional */
    const char *diagnosis;     /**< optional ICD-10 */
} fg_inpatient_t;

/** invoicing stream (进销存): purchase, sale, return, stocktake. */
typedef struct fg_invoicing {
    fg_inv_type_t type;
    const char *supplier;      /**< optional */
    const char *invoice_no;    /**< optional */
    fg_item_t *items;
    uint32_t n_items;
} fg_invoicing_t;

typedef struct fg_event {
    fg_stream_t stream;
    const char *event_id;      /**< claim_id for claims, event_id otherwise */
    int64_t event_time_ms;     /**< event time, ms since the epoch (UTC) */
    const char *region;        /**< 统筹区 code */
    const char *institution_id;
    fg_inst_type_t institution_type;
    const char *patient_id;    /**< required for claims and inpatient; NULL for invoicing */
    const char *card_id;       /**< optional */
    union {
        fg_claim_t claim;
        fg_inpatient_t inpatient;
        fg_invoicing_t invoicing;
    } u;
    /* provenance, filled in by the consumer (NULL/-1 when decoded from a file) */
    const char *src_topic;
    int32_t src_partition;
    int64_t src_offset;
} fg_event_t;

/** @returns "claims", "inpatient", "invoicing". */
const char *fg_stream_name(fg_stream_t s);
/** @returns the stream for a name, or -1. */
int fg_stream_parse(const char *name);

/* enum <-> schema symbol, shared by the JSON and Avro codecs */
const char *fg_inst_type_name(fg_inst_type_t t);      /* "HOSPITAL" ... */
const char *fg_item_kind_name(fg_item_kind_t k);      /* "DRUG" ... */
const char *fg_visit_name(fg_visit_t v);              /* "OUTPATIENT" ... */
const char *fg_ip_type_name(fg_ip_type_t t);          /* "ADMIT" ... */
const char *fg_inv_type_name(fg_inv_type_t t);        /* "PURCHASE" ... */
const char *fg_gender_name(fg_gender_t g);            /* "U" "M" "F" */
const char *fg_check_name(fg_check_t c);              /* "NONE" "WARD_ROUND" ... */

#endif
