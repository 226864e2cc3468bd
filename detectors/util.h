/*
 * util.h - small helpers shared by detectors: the "\x1f"-separated records
 * they keep in Redis hash values, item codes inside key names, and China-time
 * day labels. Kept here so every rule encodes the same things the same way.
 */
#ifndef FG_DETECTOR_UTIL_H
#define FG_DETECTOR_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "alerts/alert.h"
#include "schemas/event.h"

/**
 * @brief Splits v[0..len) on sep into at most n NUL-terminated parts, each cut
 * to FG_ALERT_STR - 1 bytes. @returns the number of parts written.
 */
int fg_rec_split(const char *v, size_t len, char sep, char out[][FG_ALERT_STR], int n);

/** @returns floor(a / b) for any signs (event times before 1970 bucket correctly). */
int64_t fg_floor_div(int64_t a, int64_t b);

/** @brief "YYYY-MM-DD" of the day that starts at local_ms (ms since the epoch, local time). */
void fg_day_label(int64_t local_ms, char out[16]);

/**
 * @returns the part of a claim's fund-paid money that pays for amount_fen of it,
 * rounded to the nearest fen (the claim's total, or the sum of its items when the
 * total is missing, is the denominator).
 */
int64_t fg_fund_share(const fg_claim_t *cl, int64_t amount_fen);

/** @returns the 64-bit FNV-1a hash of a NUL-terminated string. */
uint64_t fg_fnv1a(const char *s);

/**
 * @brief prefix + code as a key kind; a code holding '{' or '}' (which would become
 * the Redis Cluster hash tag) or longer than 128 bytes goes by its FNV-1a digest.
 */
void fg_key_kind(char *out, size_t size, const char *prefix, const char *code);

#endif
