/*
 * kb.h - reference data (知识库): the drug and item catalogue and the blacklists
 * (黑名单: institutions, doctors, insured persons) that detectors consult.
 *
 * Loaded at start from JSON files (reference/README.md documents the format;
 * reference/catalogue.json and reference/blacklists.json are a realistic
 * sample) and replaced without restart: on SIGHUP the files are read again,
 * and control-topic messages add or remove blacklist entries. A kb is
 * immutable while a batch runs; the pipeline swaps it between batches.
 */
#ifndef FG_KB_H
#define FG_KB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "schemas/event.h"

#define FG_KB_NONE (-1) /* an absent numeric limit */

typedef struct fg_kb_item {
    const char *code;            /**< catalogue code, e.g. a 医保 drug code */
    const char *name;            /**< 中文 name */
    fg_item_kind_t kind;
    bool prescription_only;      /**< 处方药: a pharmacy sale needs a prescription id */
    double max_daily_qty;        /**< per patient per day, or FG_KB_NONE */
    int32_t max_days_supply;     /**< per prescription, or FG_KB_NONE */
    fg_gender_t gender_only;     /**< FG_GENDER_UNKNOWN: any gender */
    int32_t min_age, max_age;    /**< years, inclusive; FG_KB_NONE when unbounded */
    int32_t daily_limit;         /**< times billable per patient per day, or FG_KB_NONE */
    int32_t stay_limit;          /**< times billable per inpatient stay, or FG_KB_NONE */
    bool high_value;             /**< 高值耗材 / 大型设备检查 */
    int64_t price_ceiling_fen;   /**< unit price ceiling, or FG_KB_NONE */
} fg_kb_item_t;

typedef enum { FG_KB_INSTITUTION = 0, FG_KB_DOCTOR, FG_KB_PERSON, FG_KB_LIST_COUNT } fg_kb_list_t;

typedef struct fg_kb fg_kb_t;

/**
 * @brief Loads both files (either may be NULL: empty catalogue / lists).
 * @returns the kb, or NULL with errstr naming the file, entry and problem
 *          ("reference/catalogue.json: items[12].max_age: expected integer").
 */
fg_kb_t *fg_kb_load(const char *catalogue_path, const char *blacklists_path, char *errstr, size_t errstr_size);
/** @returns an empty kb (no items, empty lists). */
fg_kb_t *fg_kb_empty(void);
void fg_kb_destroy(fg_kb_t *kb); /* accepts NULL */
/** @returns a deep copy (for applying control messages to a new version). */
fg_kb_t *fg_kb_clone(const fg_kb_t *kb);

/** @returns the catalogue entry, or NULL for an unknown code. O(1). */
const fg_kb_item_t *fg_kb_item(const fg_kb_t *kb, const char *code);
size_t fg_kb_item_count(const fg_kb_t *kb);

/** @returns true if id is on the list. O(1). */
bool fg_kb_listed(const fg_kb_t *kb, fg_kb_list_t list, const char *id);
/** @brief Adds or removes an entry (control topic). @returns 0, or -1 if nothing changed. */
int fg_kb_list_add(fg_kb_t *kb, fg_kb_list_t list, const char *id);
int fg_kb_list_remove(fg_kb_t *kb, fg_kb_list_t list, const char *id);
/** @brief "institution" | "doctor" | "person" -> list, or -1. */
int fg_kb_list_parse(const char *name);

/** @returns the version string from the catalogue file ("version"), or "none". */
const char *fg_kb_version(const fg_kb_t *kb);

/** @returns the patient's age in whole years at event time, or -1 if birth date unknown. */
int fg_kb_age_years(int32_t birth_date_days, int64_t event_time_ms);

#endif
