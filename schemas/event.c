/*
 * event.c - names of streams and enum symbols. The symbol tables follow the
 * enum order in event.h, which is also the symbol order in the .avsc files:
 * fg_codec_create() checks that, so the Avro encoder can use enum values as
 * symbol indexes.
 */
#include <string.h>

#include "event.h"
#include "symbols.h"

static const char *const g_streams[] = {"claims", "inpatient", "invoicing"};
static const char *const g_inst[] = {"HOSPITAL", "PRIMARY", "PHARMACY", "CLINIC"};
static const char *const g_gender[] = {"U", "M", "F"};
static const char *const g_visit[] = {"OUTPATIENT", "INPATIENT", "PHARMACY", "EMERGENCY"};
static const char *const g_kind[] = {"DRUG", "SERVICE", "CONSUMABLE", "BED", "EXAM"};
static const char *const g_ip[] = {"ADMIT", "DISCHARGE", "TRANSFER", "LEAVE", "RETURN", "PRESENCE_CHECK"};
static const char *const g_check[] = {"NONE", "WARD_ROUND", "FACE", "BED_SENSOR"};
static const char *const g_inv[] = {"PURCHASE", "SALE", "RETURN", "STOCKTAKE"};

#define NAME_OF(tab, v) ((unsigned)(v) < sizeof(tab) / sizeof((tab)[0]) ? (tab)[(v)] : "?")

static int parse_in(const char *const *tab, size_t n, const char *s) {
    if (!s) return -1;
    for (size_t i = 0; i < n; i++)
        if (!strcmp(tab[i], s)) return (int)i;
    return -1;
}
#define PARSE_IN(tab, s) parse_in((tab), sizeof(tab) / sizeof((tab)[0]), (s))

const char *fg_stream_name(fg_stream_t s) { return NAME_OF(g_streams, s); }
int fg_stream_parse(const char *name) { return PARSE_IN(g_streams, name); }

const char *fg_inst_type_name(fg_inst_type_t t) { return NAME_OF(g_inst, t); }
const char *fg_item_kind_name(fg_item_kind_t k) { return NAME_OF(g_kind, k); }
const char *fg_visit_name(fg_visit_t v) { return NAME_OF(g_visit, v); }
const char *fg_ip_type_name(fg_ip_type_t t) { return NAME_OF(g_ip, t); }
const char *fg_inv_type_name(fg_inv_type_t t) { return NAME_OF(g_inv, t); }
const char *fg_gender_name(fg_gender_t g) { return NAME_OF(g_gender, g); }
const char *fg_check_name(fg_check_t c) { return NAME_OF(g_check, c); }

int fg_inst_type_parse(const char *s) { return PARSE_IN(g_inst, s); }
int fg_gender_parse(const char *s) { return PARSE_IN(g_gender, s); }
int fg_visit_parse(const char *s) { return PARSE_IN(g_visit, s); }
int fg_item_kind_parse(const char *s) { return PARSE_IN(g_kind, s); }
int fg_ip_type_parse(const char *s) { return PARSE_IN(g_ip, s); }
int fg_check_parse(const char *s) { return PARSE_IN(g_check, s); }
int fg_inv_type_parse(const char *s) { return PARSE_IN(g_inv, s); }

/* Howard Hinnant's days_from_civil: exact for the whole proleptic Gregorian range. */
int64_t fg_days_from_civil(int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d) {
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = (unsigned)(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static bool is_leap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

bool fg_date_parse(const char *s, size_t len, int32_t *days) {
    if (len != 10 || s[4] != '-' || s[7] != '-') return false;
    int v[8], k = 0;
    for (size_t i = 0; i < 10; i++) {
        if (i == 4 || i == 7) continue;
        if (s[i] < '0' || s[i] > '9') return false;
        v[k++] = s[i] - '0';
    }
    int64_t y = v[0] * 1000 + v[1] * 100 + v[2] * 10 + v[3];
    unsigned m = (unsigned)(v[4] * 10 + v[5]), d = (unsigned)(v[6] * 10 + v[7]);
    static const unsigned mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m < 1 || m > 12 || d < 1) return false;
    if (d > mdays[m - 1] + (m == 2 && is_leap(y))) return false;
    *days = (int32_t)fg_days_from_civil(y, m, d);
    return true;
}

bool fg_date_format(int32_t days, char out[16]) {
    int64_t y;
    unsigned m, d;
    civil_from_days(days, &y, &m, &d);
    if (y < 0 || y > 9999) return false;
    /* digits by hand: no locale, no snprintf truncation warnings */
    out[0] = (char)('0' + y / 1000);
    out[1] = (char)('0' + y / 100 % 10);
    out[2] = (char)('0' + y / 10 % 10);
    out[3] = (char)('0' + y % 10);
    out[4] = '-';
    out[5] = (char)('0' + m / 10);
    out[6] = (char)('0' + m % 10);
    out[7] = '-';
    out[8] = (char)('0' + d / 10);
    out[9] = (char)('0' + d % 10);
    out[10] = '\0';
    return true;
}

bool fg_utf8_valid(const char *str, size_t len) {
    const unsigned char *s = (const unsigned char *)str, *end = s + len;
    while (s < end) {
        unsigned c = *s;
        if (c < 0x80) {
            s++;
            continue;
        }
        size_t n;
        unsigned cp, min;
        if (c >= 0xC2 && c <= 0xDF)
            n = 1, cp = c & 0x1F, min = 0x80;
        else if (c >= 0xE0 && c <= 0xEF)
            n = 2, cp = c & 0x0F, min = 0x800;
        else if (c >= 0xF0 && c <= 0xF4)
            n = 3, cp = c & 0x07, min = 0x10000;
        else
            return false;
        if ((size_t)(end - s) <= n) return false;
        for (size_t i = 1; i <= n; i++) {
            if ((s[i] & 0xC0) != 0x80) return false;
            cp = (cp << 6) | (s[i] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
        s += n + 1;
    }
    return true;
}
