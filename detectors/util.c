/* util.c - helpers shared by detectors (see util.h). */
#include "util.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

int fg_rec_split(const char *v, size_t len, char sep, char out[][FG_ALERT_STR], int n) {
    int i = 0;
    size_t start = 0;
    for (size_t p = 0; p <= len && i < n; p++) {
        if (p == len || v[p] == sep) {
            size_t l = p - start;
            if (l >= FG_ALERT_STR) l = FG_ALERT_STR - 1;
            memcpy(out[i], v + start, l);
            out[i][l] = '\0';
            i++;
            start = p + 1;
        }
    }
    return i;
}

int64_t fg_floor_div(int64_t a, int64_t b) {
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

void fg_day_label(int64_t local_ms, char out[16]) {
    time_t s = (time_t)fg_floor_div(local_ms, 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    snprintf(out, 16, "%04d-%02d-%02d", (tm.tm_year + 1900) % 10000, (tm.tm_mon + 1) % 100, tm.tm_mday % 100);
}

uint64_t fg_fnv1a(const char *s) {
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

void fg_key_kind(char *out, size_t size, const char *prefix, const char *code) {
    if (strpbrk(code, "{}") || strlen(code) > 128)
        snprintf(out, size, "%s#%016llx", prefix, (unsigned long long)fg_fnv1a(code));
    else
        snprintf(out, size, "%s%s", prefix, code);
}

int64_t fg_fund_share(const fg_claim_t *cl, int64_t amount_fen) {
    int64_t total = cl->total_fen;
    if (total <= 0) {
        total = 0;
        for (uint32_t i = 0; i < cl->n_items; i++) total += cl->items[i].amount_fen;
    }
    if (total <= 0 || cl->fund_paid_fen <= 0) return 0;
    if (amount_fen >= total) return cl->fund_paid_fen;
    return llround((double)cl->fund_paid_fen * (double)amount_fen / (double)total);
}
