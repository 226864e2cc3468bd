/*
 * symbols.h - private to schemas/: symbol -> enum parsers, dates and UTF-8
 * checks shared by the JSON and Avro codecs and the validator.
 */
#ifndef FG_SYMBOLS_H
#define FG_SYMBOLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "event.h"

/* Each returns the enum value for a schema symbol, or -1 if unknown. */
int fg_inst_type_parse(const char *s);
int fg_gender_parse(const char *s);
int fg_visit_parse(const char *s);
int fg_item_kind_parse(const char *s);
int fg_ip_type_parse(const char *s);
int fg_check_parse(const char *s);
int fg_inv_type_parse(const char *s);

/** @returns true and *days (since 1970-01-01) for a strict "YYYY-MM-DD". */
bool fg_date_parse(const char *s, size_t len, int32_t *days);
/** @brief Formats days since the epoch as "YYYY-MM-DD" (years 0..9999). @returns false outside. */
bool fg_date_format(int32_t days, char out[16]);
/** @returns days since 1970-01-01 of a proleptic Gregorian date. */
int64_t fg_days_from_civil(int64_t y, unsigned m, unsigned d);

/** @returns true if s[0..len) is well-formed UTF-8 (no overlongs, no surrogates). */
bool fg_utf8_valid(const char *s, size_t len);

#endif
