/*
 * codec_json.c - JSON <-> fg_event_t, driven by the field tables.
 *
 * The JSON form has the shape of the Avro schemas: same field names, enums as
 * symbol strings, nullable fields omitted or null, event_time integer ms,
 * birth_date integer days or "YYYY-MM-DD". Unknown fields are ignored so
 * producers can add fields before we read them. Every decline names the
 * stream, the field path and the problem: it ends up on the dead-letter topic
 * where a person has to understand it.
 */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec_internal.h"
#include "symbols.h"

typedef struct jctx {
    const char *stream;
    fg_arena_t *arena;
    const fg_validate_opts_t *opts;
    int item; /* index of the item being decoded, -1 at top level */
    char *reason;
    size_t reason_size;
} jctx_t;

static const char *jtype(const json_t *j) {
    switch (json_typeof(j)) {
    case JSON_OBJECT: return "object";
    case JSON_ARRAY: return "array";
    case JSON_STRING: return "string";
    case JSON_INTEGER: return "integer";
    case JSON_REAL: return "real";
    case JSON_TRUE:
    case JSON_FALSE: return "boolean";
    default: return "null";
    }
}

/* "quantity" or "items[2].quantity" */
static const char *fpath(const jctx_t *x, const char *name, char *buf, size_t n) {
    if (x->item < 0) return name;
    snprintf(buf, n, "items[%d].%s", x->item, name);
    return buf;
}

static int missing(jctx_t *x, const char *name) {
    char p[96];
    return fg_err(x->reason, x->reason_size, FG_DECLINED, "%s: missing required field \"%s\"", x->stream,
                  fpath(x, name, p, sizeof(p)));
}

static int wrong_type(jctx_t *x, const char *name, const char *want, const json_t *got) {
    char p[96];
    return fg_err(x->reason, x->reason_size, FG_DECLINED, "%s: field \"%s\": expected %s, got %s", x->stream,
                  fpath(x, name, p, sizeof(p)), want, jtype(got));
}

static void set_default(const fg_field_t *f, char *dst) {
    switch (f->kind) {
    case FG_K_OPT_STRING: *(const char **)dst = NULL; break;
    case FG_K_BOOL: *(bool *)dst = false; break;
    case FG_K_OPT_BOOL: *(int *)dst = FG_PRESENT_ABSENT; break;
    case FG_K_OPT_INT: *(int32_t *)dst = FG_DAYS_ABSENT; break;
    case FG_K_OPT_DATE: *(int32_t *)dst = FG_DATE_ABSENT; break;
    case FG_K_ENUM: *(int *)dst = f->dflt; break;
    default: break; /* arrays: NULL / 0 from the zeroed event */
    }
}

/*
 * A wrong value quoted in a reason, which is logged: only when it looks like what the field holds
 * (a typo'd symbol, a malformed date), at most 32 bytes. Anything else (a name or an id in the
 * wrong field) is described by its length, so the log line carries no personal data.
 */
static const char *shown_value(const json_t *v, const char *charset, char *buf, size_t n) {
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    if (len && len <= 32 && strspn(s, charset) == len)
        snprintf(buf, n, "\"%s\"", s);
    else
        snprintf(buf, n, "(%zu bytes, not shown)", len);
    return buf;
}

static int j_strings(jctx_t *x, const fg_field_t *f, json_t *v, char *dst, char *base, uint32_t limit) {
    char p[96];
    if (!json_is_array(v)) return wrong_type(x, f->name, "array of strings", v);
    size_t n = json_array_size(v);
    if (n > limit)
        return fg_err(x->reason, x->reason_size, FG_DECLINED, "%s: %s: too many (%zu > %u)", x->stream,
                      fpath(x, f->name, p, sizeof(p)), n, limit);
    const char **arr = n ? fg_arena_alloc(x->arena, n * sizeof(*arr)) : NULL;
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(v, i);
        if (!json_is_string(e)) {
            char el[64];
            snprintf(el, sizeof(el), "%s[%zu]", f->name, i);
            return wrong_type(x, el, "string", e);
        }
        arr[i] = fg_arena_strndup(x->arena, json_string_value(e), json_string_length(e));
    }
    *(const char ***)dst = arr;
    *(uint32_t *)(base + f->count_off) = (uint32_t)n;
    return FG_OK;
}

static int j_record(jctx_t *x, json_t *obj, const fg_record_desc_t *d, void *vbase);

static int j_items(jctx_t *x, const fg_field_t *f, json_t *v, char *dst, char *base) {
    if (!json_is_array(v)) return wrong_type(x, f->name, "array of objects", v);
    size_t n = json_array_size(v);
    /* refuse before allocating: the array size comes from the sender */
    if (n > x->opts->max_items)
        return fg_err(x->reason, x->reason_size, FG_DECLINED, "%s: items: too many (%zu > %u)", x->stream, n,
                      x->opts->max_items);
    fg_item_t *items = n ? fg_arena_alloc(x->arena, n * sizeof(*items)) : NULL;
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(v, i);
        if (!json_is_object(e)) {
            char el[32];
            snprintf(el, sizeof(el), "items[%zu]", i);
            return wrong_type(x, el, "object", e);
        }
        x->item = (int)i;
        int rc = j_record(x, e, fg_item_desc(), &items[i]);
        x->item = -1;
        if (rc != FG_OK) return rc;
    }
    *(fg_item_t **)dst = items;
    *(uint32_t *)(base + f->count_off) = (uint32_t)n;
    return FG_OK;
}

static int j_field(jctx_t *x, const fg_field_t *f, json_t *v, char *base) {
    char *dst = base + f->off;
    char p[96];
    switch (f->kind) {
    case FG_K_STRING:
    case FG_K_OPT_STRING: {
        if (!json_is_string(v)) return wrong_type(x, f->name, "string", v);
        size_t len = json_string_length(v);
        /* producers write "" for "not known": an absent optional is NULL for the detectors */
        *(const char **)dst =
            (len == 0 && f->kind == FG_K_OPT_STRING) ? NULL : fg_arena_strndup(x->arena, json_string_value(v), len);
        return FG_OK;
    }
    case FG_K_LONG:
        if (!json_is_integer(v)) return wrong_type(x, f->name, "integer", v);
        *(int64_t *)dst = (int64_t)json_integer_value(v);
        return FG_OK;
    case FG_K_DOUBLE:
        if (!json_is_number(v)) return wrong_type(x, f->name, "number", v);
        *(double *)dst = json_number_value(v);
        return FG_OK;
    case FG_K_BOOL:
        if (!json_is_boolean(v)) return wrong_type(x, f->name, "boolean", v);
        *(bool *)dst = json_is_true(v);
        return FG_OK;
    case FG_K_OPT_BOOL:
        if (!json_is_boolean(v)) return wrong_type(x, f->name, "boolean", v);
        *(int *)dst = json_is_true(v) ? 1 : 0;
        return FG_OK;
    case FG_K_OPT_DATE:
        if (json_is_string(v)) {
            int32_t days;
            if (!fg_date_parse(json_string_value(v), json_string_length(v), &days)) {
                char shown[48];
                return fg_err(x->reason, x->reason_size, FG_DECLINED,
                              "%s: field \"%s\": invalid date %s (want YYYY-MM-DD)", x->stream,
                              fpath(x, f->name, p, sizeof(p)), shown_value(v, "0123456789-/.", shown, sizeof(shown)));
            }
            *(int32_t *)dst = days;
            return FG_OK;
        }
        /* otherwise integer days since the epoch, read like an int */
        /* FALLTHROUGH */
    case FG_K_OPT_INT: {
        if (!json_is_integer(v))
            return wrong_type(x, f->name, f->kind == FG_K_OPT_DATE ? "integer days or \"YYYY-MM-DD\"" : "integer", v);
        json_int_t i = json_integer_value(v);
        /* INT32_MIN is the absent sentinel of dates, so it is out of range too */
        if (i <= INT32_MIN || i > INT32_MAX)
            return fg_err(x->reason, x->reason_size, FG_DECLINED, "%s: field \"%s\": %lld out of range for int",
                          x->stream, fpath(x, f->name, p, sizeof(p)), (long long)i);
        /* -1 is the absent sentinel of days_supply: decline negatives here, the validator could not tell */
        if (f->kind == FG_K_OPT_INT && i < 0)
            return fg_err(x->reason, x->reason_size, FG_DECLINED, "%s: %s: negative (%lld)", x->stream,
                          fpath(x, f->name, p, sizeof(p)), (long long)i);
        *(int32_t *)dst = (int32_t)i;
        return FG_OK;
    }
    case FG_K_ENUM: {
        if (!json_is_string(v)) return wrong_type(x, f->name, "symbol string", v);
        int e = f->parse(json_string_value(v));
        if (e < 0) {
            char shown[48];
            return fg_err(x->reason, x->reason_size, FG_DECLINED, "%s: field \"%s\": unknown symbol %s", x->stream,
                          fpath(x, f->name, p, sizeof(p)),
                          shown_value(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_", shown,
                                      sizeof(shown)));
        }
        *(int *)dst = e;
        return FG_OK;
    }
    case FG_K_STR_ARRAY:
        /* trace codes are bounded per item, diagnoses per claim */
        return j_strings(x, f, v, dst, base, x->item >= 0 ? x->opts->max_trace_codes : FG_MAX_DIAGNOSES);
    case FG_K_ITEMS: return j_items(x, f, v, dst, base);
    }
    return FG_OK;
}

static int j_record(jctx_t *x, json_t *obj, const fg_record_desc_t *d, void *vbase) {
    char *base = vbase;
    for (size_t i = 0; i < d->n_fields; i++) {
        const fg_field_t *f = &d->fields[i];
        json_t *v = json_object_get(obj, f->name);
        if (!v || json_is_null(v)) {
            if (!fg_field_has_default(f)) return v ? wrong_type(x, f->name, "a value", v) : missing(x, f->name);
            set_default(f, base + f->off);
            continue;
        }
        int rc = j_field(x, f, v, base);
        if (rc != FG_OK) return rc;
    }
    return FG_OK;
}

int fg_json_decode(fg_stream_t s, const char *buf, size_t len, fg_arena_t *arena, const fg_validate_opts_t *opts,
                   fg_event_t *ev, char *reason, size_t reason_size) {
    json_error_t jerr;
    /* duplicate keys are ambiguous (which one did the producer mean?): refuse them */
    json_t *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
    const char *sn = fg_stream_name(s);
    if (!root) {
        /* jansson ends its text with " near '<token>'": message bytes, maybe a patient id, and the reason is
           logged. Line and column say where; the bytes themselves stay in the dead letter. */
        char *near = strstr(jerr.text, " near ");
        if (near) *near = '\0';
        return fg_err(reason, reason_size, FG_DECLINED, "%s: invalid JSON at line %d column %d: %s", sn, jerr.line,
                      jerr.column, jerr.text);
    }
    int rc;
    if (!json_is_object(root)) {
        rc = fg_err(reason, reason_size, FG_DECLINED, "%s: JSON message is not an object", sn);
    } else {
        jctx_t x = {sn, arena, opts, -1, reason, reason_size};
        rc = j_record(&x, root, fg_record_desc(s), ev);
    }
    json_decref(root);
    return rc;
}

/* ---- encoder ---- */

static json_t *j_str(const char *s) { return json_string(s ? s : ""); }

static json_t *j_encode_record(const fg_record_desc_t *d, const void *vbase);

static json_t *j_encode_field(const fg_field_t *f, const char *base, bool *skip) {
    const char *src = base + f->off;
    *skip = false;
    switch (f->kind) {
    case FG_K_STRING: return j_str(*(const char *const *)src);
    case FG_K_OPT_STRING: {
        const char *s = *(const char *const *)src;
        if (!s) *skip = true;
        return s ? json_string(s) : NULL;
    }
    case FG_K_LONG: return json_integer(*(const int64_t *)src);
    case FG_K_DOUBLE: {
        double q = *(const double *)src;
        /* whole quantities print as 2, not 2.0 or 2.0000000000000000; still exact */
        if (q == q && fabs(q) < 9007199254740992.0 && q == (double)(json_int_t)q && !(q == 0 && signbit(q)))
            return json_integer((json_int_t)q);
        return json_real(q); /* NULL for NaN / Inf: no JSON form */
    }
    case FG_K_BOOL: return json_boolean(*(const bool *)src);
    case FG_K_OPT_BOOL: {
        int p = *(const int *)src;
        if (p == FG_PRESENT_ABSENT) *skip = true;
        return p == FG_PRESENT_ABSENT ? NULL : json_boolean(p);
    }
    case FG_K_OPT_INT: {
        int32_t i = *(const int32_t *)src;
        if (i == FG_DAYS_ABSENT) *skip = true;
        return i == FG_DAYS_ABSENT ? NULL : json_integer(i);
    }
    case FG_K_OPT_DATE: {
        int32_t days = *(const int32_t *)src;
        char buf[16];
        if (days == FG_DATE_ABSENT) {
            *skip = true;
            return NULL;
        }
        return fg_date_format(days, buf) ? json_string(buf) : json_integer(days);
    }
    case FG_K_ENUM: {
        const char *sym = f->symbol(*(const int *)src);
        return strcmp(sym, "?") ? json_string(sym) : NULL;
    }
    case FG_K_STR_ARRAY: {
        const char *const *arr = *(const char *const *const *)src;
        uint32_t n = *(const uint32_t *)(base + f->count_off);
        json_t *a = json_array();
        for (uint32_t i = 0; a && i < n; i++)
            if (json_array_append_new(a, j_str(arr[i])) != 0) {
                json_decref(a);
                a = NULL;
            }
        return a;
    }
    case FG_K_ITEMS: {
        const fg_item_t *items = *(const fg_item_t *const *)src;
        uint32_t n = *(const uint32_t *)(base + f->count_off);
        json_t *a = json_array();
        for (uint32_t i = 0; a && i < n; i++)
            if (json_array_append_new(a, j_encode_record(fg_item_desc(), &items[i])) != 0) {
                json_decref(a);
                a = NULL;
            }
        return a;
    }
    }
    return NULL;
}

static json_t *j_encode_record(const fg_record_desc_t *d, const void *vbase) {
    json_t *obj = json_object();
    for (size_t i = 0; obj && i < d->n_fields; i++) {
        bool skip;
        json_t *v = j_encode_field(&d->fields[i], vbase, &skip);
        if (skip) continue;
        /* set_new steals v and fails on NULL (unencodable value: NaN, bad enum, bad UTF-8) */
        if (json_object_set_new(obj, d->fields[i].name, v) != 0) {
            json_decref(obj);
            obj = NULL;
        }
    }
    return obj;
}

char *fg_codec_encode_json(const fg_event_t *ev) {
    const fg_record_desc_t *d = ev ? fg_record_desc(ev->stream) : NULL;
    if (!d) return NULL;
    json_t *obj = j_encode_record(d, ev);
    if (!obj) return NULL;
    char *out = json_dumps(obj, JSON_COMPACT);
    json_decref(obj);
    return out;
}
