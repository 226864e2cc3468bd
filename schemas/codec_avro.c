/*
 * codec_avro.c - Confluent-framed Avro <-> fg_event_t.
 *
 * Decoding reads the body with the *writer's* generic class (the schema
 * registered under the message's id) into a value reused across messages,
 * then maps fields into the event through a plan computed once at
 * registration: reader field i -> writer field index, or -1 for a field the
 * writer lacks (the reader default applies). We do our own resolution rather
 * than avro_resolved_reader because Avro C 1.11.1 refuses a reader field that
 * is missing from the writer ("Reader field %s doesn't appear in writer":
 * Avro C has no support for reader defaults there), which is exactly the compatible evolution
 * producers rely on. Enum symbols are mapped by name, so a writer may reorder
 * or add symbols; an unknown symbol declines the message naming it.
 *
 * Avro C 1.11.1 read_string() allocates the declared length before checking
 * it is available and leaks that buffer when the body is truncated, and it
 * does not range-check enum indexes. So every body is first walked against
 * the writer schema (fg_wnode_t, compiled at registration: no allocation,
 * every length and branch checked against the bytes left), which also tells
 * us about truncation and trailing bytes; only a structurally complete body
 * is handed to avro_value_read. The walk is ours rather than avro_skip_data
 * because that one costs about half as much as the read itself (a hash
 * lookup per record field).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec_internal.h"
#include "symbols.h"

/* ---- schema resolution (registration time) ---- */

static avro_schema_t deref(avro_schema_t s) {
    while (s && is_avro_link(s))
        s = avro_schema_link_target(s);
    return s;
}

static bool nullable_kind(fg_kind_t k) {
    return k == FG_K_OPT_STRING || k == FG_K_OPT_BOOL || k == FG_K_OPT_INT || k == FG_K_OPT_DATE;
}

/* Can a (non-union, non-null) writer type be read as this field kind? */
static bool branch_ok(avro_schema_t w, const fg_field_t *f) {
    w = deref(w);
    avro_type_t t = avro_typeof(w);
    switch (f->kind) {
    case FG_K_STRING:
    case FG_K_OPT_STRING: return t == AVRO_STRING;
    case FG_K_LONG: return t == AVRO_INT32 || t == AVRO_INT64;
    case FG_K_DOUBLE: return t == AVRO_INT32 || t == AVRO_INT64 || t == AVRO_FLOAT || t == AVRO_DOUBLE;
    case FG_K_BOOL:
    case FG_K_OPT_BOOL: return t == AVRO_BOOLEAN;
    case FG_K_OPT_INT:
    case FG_K_OPT_DATE: return t == AVRO_INT32;
    case FG_K_ENUM: return t == AVRO_ENUM;
    case FG_K_STR_ARRAY: return t == AVRO_ARRAY && avro_typeof(deref(avro_schema_array_items(w))) == AVRO_STRING;
    case FG_K_ITEMS: return t == AVRO_ARRAY && avro_typeof(deref(avro_schema_array_items(w))) == AVRO_RECORD;
    }
    return false;
}

/*
 * A writer union is accepted when every non-null branch is readable as the
 * field; a null branch is accepted too and a null value then declines at
 * decode time unless the field has a default (Avro's rule: resolution errors
 * for unions surface per value).
 */
static bool type_ok(avro_schema_t w, const fg_field_t *f, avro_schema_t *record_out) {
    w = deref(w);
    size_t n = is_avro_union(w) ? avro_schema_union_size(w) : 1;
    size_t usable = 0;
    for (size_t i = 0; i < n; i++) {
        avro_schema_t b = is_avro_union(w) ? deref(avro_schema_union_branch(w, (int)i)) : w;
        if (is_avro_null(b)) {
            if (!is_avro_union(w) && !nullable_kind(f->kind)) return false;
            continue;
        }
        if (!branch_ok(b, f)) return false;
        if (f->kind == FG_K_ITEMS) *record_out = deref(avro_schema_array_items(b));
        usable++;
    }
    return usable > 0 || nullable_kind(f->kind);
}

static int plan_record(avro_schema_t w, const fg_record_desc_t *d, int *plan, const char *prefix, fg_avro_plan_t *full,
                       char *errstr, size_t errstr_size) {
    for (size_t i = 0; i < d->n_fields; i++) {
        const fg_field_t *f = &d->fields[i];
        int wi = avro_schema_record_field_get_index(w, f->name);
        plan[i] = wi;
        if (wi < 0) {
            if (!fg_field_has_default(f))
                return fg_err(errstr, errstr_size, FG_ERR,
                              "%s field \"%s%s\" is missing from the writer schema and has no default", d->record_name,
                              prefix, f->name);
            continue;
        }
        avro_schema_t ws = avro_schema_record_field_get_by_index(w, wi);
        avro_schema_t item_rec = NULL;
        if (!type_ok(ws, f, &item_rec))
            return fg_err(errstr, errstr_size, FG_ERR,
                          "%s field \"%s%s\": writer type %s cannot be read as the reader's", d->record_name, prefix,
                          f->name, avro_schema_type_name(deref(ws)));
        if (f->kind == FG_K_ENUM) {
            signed char *emap = (plan == full->top ? full->emap_top : full->emap_item)[i];
            avro_schema_t es = deref(ws);
            int n = is_avro_enum(es) ? avro_schema_enum_number_of_symbols(es) : 0;
            for (int k = 0; k < FG_EMAP; k++)
                emap[k] = (signed char)(k < n ? f->parse(avro_schema_enum_get(es, k)) : -2);
        }
        if (f->kind == FG_K_ITEMS && item_rec) {
            int rc = plan_record(item_rec, fg_item_desc(), full->item, "items[].", full, errstr, errstr_size);
            if (rc != FG_OK) return rc;
        }
    }
    return FG_OK;
}

int fg_avro_plan_build(avro_schema_t writer, fg_stream_t s, fg_avro_plan_t *plan, char *errstr, size_t errstr_size) {
    const fg_record_desc_t *d = fg_record_desc(s);
    memset(plan, -2, sizeof(*plan)); /* enum maps: "not mapped" */
    for (size_t i = 0; i < FG_MAX_FIELDS; i++)
        plan->top[i] = plan->item[i] = -1;
    writer = deref(writer);
    if (!d || !is_avro_record(writer)) return fg_err(errstr, errstr_size, FG_ERR, "writer schema is not a record");
    return plan_record(writer, d, plan->top, "", plan, errstr, errstr_size);
}

/* ---- decoding (per message) ---- */

typedef struct actx {
    const char *stream;
    const fg_record_desc_t *desc; /* record being decoded: field index = f - desc->fields */
    fg_arena_t *arena;
    const fg_validate_opts_t *opts;
    const fg_avro_plan_t *plan;
    int item;
    char *reason;
    size_t reason_size;
} actx_t;

static const char *fpath(const actx_t *x, const char *name, char *buf, size_t n) {
    if (x->item < 0) return name;
    snprintf(buf, n, "items[%d].%s", x->item, name);
    return buf;
}

static int bad(actx_t *x, const char *name, const char *what) {
    char p[96];
    return fg_err(x->reason, x->reason_size, FG_DECLINED, "%s: field \"%s\": %s", x->stream,
                  fpath(x, name, p, sizeof(p)), what);
}

static void set_default(const fg_field_t *f, char *dst) {
    switch (f->kind) {
    case FG_K_OPT_STRING: *(const char **)dst = NULL; break;
    case FG_K_BOOL: *(bool *)dst = false; break;
    case FG_K_OPT_BOOL: *(int *)dst = FG_PRESENT_ABSENT; break;
    case FG_K_OPT_INT: *(int32_t *)dst = FG_DAYS_ABSENT; break;
    case FG_K_OPT_DATE: *(int32_t *)dst = FG_DATE_ABSENT; break;
    case FG_K_ENUM: *(int *)dst = f->dflt; break;
    default: break;
    }
}

/* "field" or "field[idx]" as the name in a decline; formatted only on failure */
static int bad_at(actx_t *x, const char *name, int idx, const char *what) {
    if (idx < 0) return bad(x, name, what);
    char el[64];
    snprintf(el, sizeof(el), "%s[%d]", name, idx);
    return bad(x, el, what);
}

/* Copies an Avro string into the arena, refusing what JSON and C strings cannot carry. */
static int a_string(actx_t *x, const char *name, int idx, avro_value_t *v, bool optional, const char **out) {
    const char *str;
    size_t size;
    if (avro_value_get_string(v, &str, &size) != 0) return bad_at(x, name, idx, "unreadable string");
    size_t len = size ? size - 1 : 0; /* size counts the NUL */
    if (memchr(str, '\0', len)) return bad_at(x, name, idx, "string contains a NUL byte");
    if (!fg_utf8_valid(str, len)) return bad_at(x, name, idx, "string is not valid UTF-8");
    *out = (len == 0 && optional) ? NULL : fg_arena_strndup(x->arena, str, len);
    return FG_OK;
}

static int a_record(actx_t *x, avro_value_t *rec, const fg_record_desc_t *d, const int *plan, void *vbase);

static int a_field(actx_t *x, const fg_field_t *f, avro_value_t *v, char *base) {
    char *dst = base + f->off;
    char p[96], what[128];
    avro_type_t t = avro_value_get_type(v);
    switch (f->kind) {
    case FG_K_STRING:
    case FG_K_OPT_STRING: return a_string(x, f->name, -1, v, f->kind == FG_K_OPT_STRING, (const char **)dst);
    case FG_K_LONG: {
        if (t == AVRO_INT32) {
            int32_t i = 0;
            avro_value_get_int(v, &i);
            *(int64_t *)dst = i;
        } else {
            int64_t l = 0;
            avro_value_get_long(v, &l);
            *(int64_t *)dst = l;
        }
        return FG_OK;
    }
    case FG_K_DOUBLE: {
        double d = 0;
        if (t == AVRO_DOUBLE) {
            avro_value_get_double(v, &d);
        } else if (t == AVRO_FLOAT) {
            float fl = 0;
            avro_value_get_float(v, &fl);
            d = fl;
        } else if (t == AVRO_INT64) {
            int64_t l = 0;
            avro_value_get_long(v, &l);
            d = (double)l;
        } else {
            int32_t i = 0;
            avro_value_get_int(v, &i);
            d = i;
        }
        *(double *)dst = d;
        return FG_OK;
    }
    case FG_K_BOOL:
    case FG_K_OPT_BOOL: {
        int b = 0;
        avro_value_get_boolean(v, &b);
        if (f->kind == FG_K_BOOL)
            *(bool *)dst = b != 0;
        else
            *(int *)dst = b != 0;
        return FG_OK;
    }
    case FG_K_OPT_INT:
    case FG_K_OPT_DATE: {
        int32_t i = 0;
        avro_value_get_int(v, &i);
        if (f->kind == FG_K_OPT_DATE && i == FG_DATE_ABSENT) return bad(x, f->name, "date out of range");
        /* -1 is the absent sentinel of days_supply: decline negatives here, the validator could not tell */
        if (f->kind == FG_K_OPT_INT && i < 0)
            return fg_err(x->reason, x->reason_size, FG_DECLINED, "%s: %s: negative (%d)", x->stream,
                          fpath(x, f->name, p, sizeof(p)), (int)i);
        *(int32_t *)dst = i;
        return FG_OK;
    }
    case FG_K_ENUM: {
        int idx = -1;
        avro_value_get_enum(v, &idx);
        const signed char *emap = (x->item < 0 ? x->plan->emap_top : x->plan->emap_item)[f - x->desc->fields];
        if (idx >= 0 && idx < FG_EMAP && emap[idx] >= 0) {
            *(int *)dst = emap[idx];
            return FG_OK;
        }
        avro_schema_t es = avro_value_get_schema(v);
        /* Avro C stores any index it reads; the symbol table lookup would read garbage */
        if (idx < 0 || idx >= avro_schema_enum_number_of_symbols(es)) {
            snprintf(what, sizeof(what), "enum index %d out of range", idx);
            return bad(x, f->name, what);
        }
        const char *sym = avro_schema_enum_get(es, idx);
        int e = f->parse(sym);
        if (e < 0) {
            snprintf(what, sizeof(what), "unknown symbol \"%.64s\"", sym);
            return bad(x, f->name, what);
        }
        *(int *)dst = e;
        return FG_OK;
    }
    case FG_K_STR_ARRAY: {
        size_t n = 0;
        avro_value_get_size(v, &n);
        uint32_t limit = x->item >= 0 ? x->opts->max_trace_codes : FG_MAX_DIAGNOSES;
        if (n > limit)
            return fg_err(x->reason, x->reason_size, FG_DECLINED, "%s: %s: too many (%zu > %u)", x->stream,
                          fpath(x, f->name, p, sizeof(p)), n, limit);
        const char **arr = n ? fg_arena_alloc(x->arena, n * sizeof(*arr)) : NULL;
        for (size_t i = 0; i < n; i++) {
            avro_value_t e;
            avro_value_get_by_index(v, i, &e, NULL);
            int rc = a_string(x, f->name, (int)i, &e, false, &arr[i]);
            if (rc != FG_OK) return rc;
        }
        *(const char ***)dst = arr;
        *(uint32_t *)(base + f->count_off) = (uint32_t)n;
        return FG_OK;
    }
    case FG_K_ITEMS: {
        size_t n = 0;
        avro_value_get_size(v, &n);
        if (n > x->opts->max_items)
            return fg_err(x->reason, x->reason_size, FG_DECLINED, "%s: items: too many (%zu > %u)", x->stream, n,
                          x->opts->max_items);
        fg_item_t *items = n ? fg_arena_alloc(x->arena, n * sizeof(*items)) : NULL;
        for (size_t i = 0; i < n; i++) {
            avro_value_t e;
            avro_value_get_by_index(v, i, &e, NULL);
            x->item = (int)i;
            int rc = a_record(x, &e, fg_item_desc(), x->plan->item, &items[i]);
            x->item = -1;
            if (rc != FG_OK) return rc;
        }
        *(fg_item_t **)dst = items;
        *(uint32_t *)(base + f->count_off) = (uint32_t)n;
        return FG_OK;
    }
    }
    return FG_OK;
}

static int a_record(actx_t *x, avro_value_t *rec, const fg_record_desc_t *d, const int *plan, void *vbase) {
    char *base = vbase;
    for (size_t i = 0; i < d->n_fields; i++) {
        const fg_field_t *f = &d->fields[i];
        x->desc = d; /* reset after each field: items[] decoding switches it */
        if (plan[i] < 0) {
            set_default(f, base + f->off);
            continue;
        }
        avro_value_t v;
        if (avro_value_get_by_index(rec, (size_t)plan[i], &v, NULL) != 0) return bad(x, f->name, "unreadable");
        if (avro_value_get_type(&v) == AVRO_UNION && avro_value_get_current_branch(&v, &v) != 0)
            return bad(x, f->name, "union without a branch");
        if (avro_value_get_type(&v) == AVRO_NULL) {
            if (!fg_field_has_default(f)) return bad(x, f->name, "null for a required field");
            set_default(f, base + f->off);
            continue;
        }
        int rc = a_field(x, f, &v, base);
        if (rc != FG_OK) return rc;
    }
    return FG_OK;
}

/* ---- the pre-walk ---- */

static void wnode_free_kids(fg_wnode_t *n) {
    size_t k = n->type == AVRO_RECORD || n->type == AVRO_UNION ? n->n : n->kids ? 1 : 0;
    for (size_t i = 0; i < k; i++)
        fg_wnode_free(n->kids[i]);
    free(n->kids);
}

void fg_wnode_free(fg_wnode_t *n) {
    if (!n) return;
    wnode_free_kids(n);
    free(n);
}

static fg_wnode_t *wnode_build(avro_schema_t s, int depth, char *errstr, size_t errstr_size) {
    /* links are expanded: a recursive writer schema would never end */
    if (depth > 32) {
        fg_err(errstr, errstr_size, FG_ERR, "schema nests deeper than 32 levels (recursive?)");
        return NULL;
    }
    s = deref(s);
    fg_wnode_t *n = calloc(1, sizeof(*n));
    if (!n) return NULL;
    n->type = avro_typeof(s);
    size_t k = 0;
    switch (n->type) {
    case AVRO_NULL: break;
    case AVRO_BOOLEAN:
    case AVRO_INT32:
    case AVRO_INT64:
    case AVRO_ENUM:
    case AVRO_STRING:
    case AVRO_BYTES:
    case AVRO_ARRAY:
    case AVRO_MAP: n->min_size = 1; break;
    case AVRO_FLOAT: n->min_size = 4; break;
    case AVRO_DOUBLE: n->min_size = 8; break;
    case AVRO_FIXED: n->min_size = n->n = (size_t)avro_schema_fixed_size(s); break;
    case AVRO_RECORD: k = n->n = (size_t)avro_schema_record_size(s); break;
    case AVRO_UNION:
        k = n->n = avro_schema_union_size(s);
        n->min_size = 1;
        break;
    default:
        fg_err(errstr, errstr_size, FG_ERR, "unsupported schema type %s", avro_schema_type_name(s));
        free(n);
        return NULL;
    }
    if (n->type == AVRO_ARRAY || n->type == AVRO_MAP) k = 1;
    if (k) {
        n->kids = calloc(k, sizeof(*n->kids));
        if (!n->kids) goto fail;
        for (size_t i = 0; i < k; i++) {
            avro_schema_t c = n->type == AVRO_RECORD  ? avro_schema_record_field_get_by_index(s, (int)i)
                              : n->type == AVRO_UNION ? avro_schema_union_branch(s, (int)i)
                              : n->type == AVRO_ARRAY ? avro_schema_array_items(s)
                                                      : avro_schema_map_values(s);
            if (!(n->kids[i] = wnode_build(c, depth + 1, errstr, errstr_size))) goto fail;
            if (n->type == AVRO_RECORD) n->min_size += n->kids[i]->min_size;
        }
    }
    return n;
fail:
    fg_wnode_free(n);
    return NULL;
}

fg_wnode_t *fg_wnode_build(avro_schema_t s, char *errstr, size_t errstr_size) {
    return wnode_build(s, 0, errstr, errstr_size);
}

enum { WALK_OK = 0, WALK_TRUNCATED, WALK_VARINT, WALK_LENGTH, WALK_BRANCH, WALK_COUNT, WALK_DEPTH };

static const char *walk_error(int rc) {
    switch (rc) {
    case WALK_VARINT: return "varint longer than 10 bytes";
    case WALK_LENGTH: return "negative length";
    case WALK_BRANCH: return "union branch out of range";
    case WALK_COUNT: return "bad array or map block count";
    default: return "nested too deep";
    }
}

typedef struct walk {
    const unsigned char *p, *end;
} walk_t;

/* zig-zag varint exactly as Avro C reads it (at most 10 bytes) */
static int walk_long(walk_t *w, int64_t *out) {
    uint64_t v = 0;
    for (int shift = 0;; shift += 7) {
        if (shift >= 70) return WALK_VARINT;
        if (w->p >= w->end) return WALK_TRUNCATED;
        unsigned char b = *w->p++;
        v |= (uint64_t)(b & 0x7f) << (shift < 64 ? shift : 63);
        if (!(b & 0x80)) break;
    }
    *out = (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
    return WALK_OK;
}

static int walk_bytes(walk_t *w, int64_t n) {
    if (n < 0) return WALK_LENGTH;
    if (n > w->end - w->p) return WALK_TRUNCATED;
    w->p += n;
    return WALK_OK;
}

static int walk(const fg_wnode_t *n, walk_t *w, int depth) {
    int64_t v;
    int rc;
    if (depth > 64) return WALK_DEPTH;
    switch (n->type) {
    case AVRO_NULL: return WALK_OK;
    case AVRO_BOOLEAN: return walk_bytes(w, 1);
    case AVRO_INT32:
    case AVRO_INT64:
    case AVRO_ENUM: return walk_long(w, &v);
    case AVRO_FLOAT: return walk_bytes(w, 4);
    case AVRO_DOUBLE: return walk_bytes(w, 8);
    case AVRO_FIXED: return walk_bytes(w, (int64_t)n->n);
    case AVRO_STRING:
    case AVRO_BYTES:
        if ((rc = walk_long(w, &v)) != WALK_OK) return rc;
        return walk_bytes(w, v);
    case AVRO_RECORD:
        for (size_t i = 0; i < n->n; i++)
            if ((rc = walk(n->kids[i], w, depth + 1)) != WALK_OK) return rc;
        return WALK_OK;
    case AVRO_UNION:
        if ((rc = walk_long(w, &v)) != WALK_OK) return rc;
        if (v < 0 || (uint64_t)v >= n->n) return WALK_BRANCH;
        return walk(n->kids[v], w, depth + 1);
    case AVRO_ARRAY:
    case AVRO_MAP:
        for (;;) {
            int64_t count, size;
            if ((rc = walk_long(w, &count)) != WALK_OK) return rc;
            if (count == 0) return WALK_OK;
            if (count < 0) {
                if (count == INT64_MIN) return WALK_COUNT;
                count = -count;
                if ((rc = walk_long(w, &size)) != WALK_OK) return rc;
            }
            /* every element takes bytes, so a count beyond what is left is a lie; elements of
             * size zero (null) get a fixed cap so a huge count cannot spin */
            size_t per = n->kids[0]->min_size + (n->type == AVRO_MAP ? 1 : 0);
            if (per ? (uint64_t)count > (uint64_t)(w->end - w->p) / per : count > (1 << 20))
                return per ? WALK_TRUNCATED : WALK_COUNT;
            for (int64_t i = 0; i < count; i++) {
                if (n->type == AVRO_MAP) {
                    if ((rc = walk_long(w, &v)) != WALK_OK || (rc = walk_bytes(w, v)) != WALK_OK) return rc;
                }
                if ((rc = walk(n->kids[0], w, depth + 1)) != WALK_OK) return rc;
            }
        }
    default: return WALK_DEPTH;
    }
}

static fg_writer_t *find_writer(fg_codec_t *c, int32_t id) {
    if (c->last_hit < c->n_writers && c->writers[c->last_hit].id == id) return &c->writers[c->last_hit];
    for (size_t i = 0; i < c->n_writers; i++)
        if (c->writers[i].id == id) {
            c->last_hit = i;
            return &c->writers[i];
        }
    return NULL;
}

int fg_avro_decode(fg_codec_t *c, fg_stream_t s, const unsigned char *buf, size_t len, fg_arena_t *arena,
                   const fg_validate_opts_t *opts, fg_event_t *ev, char *reason, size_t reason_size) {
    const char *sn = fg_stream_name(s);
    int32_t id = (int32_t)((uint32_t)buf[1] << 24 | (uint32_t)buf[2] << 16 | (uint32_t)buf[3] << 8 | buf[4]);
    fg_writer_t *w = find_writer(c, id);
    if (!w) return fg_err(reason, reason_size, FG_DECLINED, "%s: avro: unknown schema id %d (not registered)", sn, id);
    if (w->stream != s)
        return fg_err(reason, reason_size, FG_DECLINED, "%s: avro: schema id %d is registered for stream %s, not %s",
                      sn, id, fg_stream_name(w->stream), sn);

    const char *body = (const char *)buf + 5;
    int64_t blen = (int64_t)(len - 5);

    /* pass 1: bounds-checked walk, no allocation (see the file comment) */
    walk_t wk = {buf + 5, buf + len};
    int rc = walk(w->walk, &wk, 0);
    if (rc == WALK_TRUNCATED) return fg_err(reason, reason_size, FG_DECLINED, "%s: avro: truncated body", sn);
    if (rc != WALK_OK)
        return fg_err(reason, reason_size, FG_DECLINED, "%s: avro: malformed body (schema id %d): %s", sn, id,
                      walk_error(rc));
    if (wk.p != wk.end)
        return fg_err(reason, reason_size, FG_DECLINED, "%s: avro: %zu trailing bytes after the record", sn,
                      (size_t)(wk.end - wk.p));

    /* pass 2: the real read into the reused writer value */
    avro_reader_memory_set_source(c->rd, body, blen);
    if (avro_value_read(c->rd, &w->value) != 0)
        return fg_err(reason, reason_size, FG_DECLINED, "%s: avro: malformed body (schema id %d): %s", sn, id,
                      avro_strerror());

    actx_t x = {sn, NULL, arena, opts, &w->plan, -1, reason, reason_size};
    return a_record(&x, &w->value, fg_record_desc(s), w->plan.top, ev);
}

/* ---- encoding ---- */

static int e_record(avro_value_t *rec, const fg_record_desc_t *d, const void *vbase);

static int e_string(avro_value_t *v, const char *s) { return avro_value_set_string(v, s ? s : ""); }

/* nullable unions of the compiled-in schemas are ["null", X] (checked at create) */
static int e_branch(avro_value_t *v, bool present, avro_value_t *branch) {
    int rc = avro_value_set_branch(v, present ? 1 : 0, branch);
    if (rc == 0 && !present) rc = avro_value_set_null(branch);
    return rc;
}

static int e_field(avro_value_t *v, const fg_field_t *f, const char *base) {
    const char *src = base + f->off;
    avro_value_t br;
    int rc;
    switch (f->kind) {
    case FG_K_STRING: return e_string(v, *(const char *const *)src);
    case FG_K_OPT_STRING: {
        const char *s = *(const char *const *)src;
        if ((rc = e_branch(v, s != NULL, &br)) != 0 || !s) return rc;
        return avro_value_set_string(&br, s);
    }
    case FG_K_LONG: return avro_value_set_long(v, *(const int64_t *)src);
    case FG_K_DOUBLE: return avro_value_set_double(v, *(const double *)src);
    case FG_K_BOOL: return avro_value_set_boolean(v, *(const bool *)src);
    case FG_K_OPT_BOOL: {
        int p = *(const int *)src;
        if ((rc = e_branch(v, p != FG_PRESENT_ABSENT, &br)) != 0 || p == FG_PRESENT_ABSENT) return rc;
        return avro_value_set_boolean(&br, p != 0);
    }
    case FG_K_OPT_INT:
    case FG_K_OPT_DATE: {
        int32_t i = *(const int32_t *)src;
        int32_t absent = f->kind == FG_K_OPT_INT ? FG_DAYS_ABSENT : FG_DATE_ABSENT;
        if ((rc = e_branch(v, i != absent, &br)) != 0 || i == absent) return rc;
        return avro_value_set_int(&br, i);
    }
    case FG_K_ENUM: {
        int e = *(const int *)src;
        if (!strcmp(f->symbol(e), "?")) return EINVAL;
        return avro_value_set_enum(v, e); /* C enum order == symbol order (checked at create) */
    }
    case FG_K_STR_ARRAY: {
        const char *const *arr = *(const char *const *const *)src;
        uint32_t n = *(const uint32_t *)(base + f->count_off);
        for (uint32_t i = 0; i < n; i++) {
            avro_value_t e;
            if ((rc = avro_value_append(v, &e, NULL)) != 0 || (rc = e_string(&e, arr[i])) != 0) return rc;
        }
        return 0;
    }
    case FG_K_ITEMS: {
        const fg_item_t *items = *(const fg_item_t *const *)src;
        uint32_t n = *(const uint32_t *)(base + f->count_off);
        for (uint32_t i = 0; i < n; i++) {
            avro_value_t e;
            if ((rc = avro_value_append(v, &e, NULL)) != 0 || (rc = e_record(&e, fg_item_desc(), &items[i])) != 0)
                return rc;
        }
        return 0;
    }
    }
    return EINVAL;
}

/* table index == field index of the compiled-in schema (checked at create) */
static int e_record(avro_value_t *rec, const fg_record_desc_t *d, const void *vbase) {
    for (size_t i = 0; i < d->n_fields; i++) {
        avro_value_t v;
        int rc = avro_value_get_by_index(rec, i, &v, NULL);
        if (rc == 0) rc = e_field(&v, &d->fields[i], vbase);
        if (rc != 0) return rc;
    }
    return 0;
}

void *fg_codec_encode_avro(fg_codec_t *c, const fg_event_t *ev, int32_t schema_id, size_t *len) {
    if (!c || !ev || (unsigned)ev->stream >= FG_STREAM_COUNT) return NULL;
    avro_value_t *v = &c->enc_value[ev->stream];
    if (avro_value_reset(v) != 0 || e_record(v, fg_record_desc(ev->stream), ev) != 0) return NULL;
    size_t size = 0;
    if (avro_value_sizeof(v, &size) != 0) return NULL;
    unsigned char *buf = malloc(size + 5);
    if (!buf) return NULL;
    buf[0] = 0;
    buf[1] = (unsigned char)((uint32_t)schema_id >> 24);
    buf[2] = (unsigned char)((uint32_t)schema_id >> 16);
    buf[3] = (unsigned char)((uint32_t)schema_id >> 8);
    buf[4] = (unsigned char)schema_id;
    avro_writer_memory_set_dest(c->wr, (const char *)buf + 5, (int64_t)size);
    if (avro_value_write(c->wr, v) != 0 || avro_writer_tell(c->wr) != (int64_t)size) {
        free(buf);
        return NULL;
    }
    if (len) *len = size + 5;
    return buf;
}
