/*
 * kb.c - the knowledge base: catalogue and blacklists loaded from JSON,
 * looked up in O(1) through open-addressing hash sets of string keys.
 */
#include "kb.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/common.h"
#include "schemas/symbols.h"

typedef struct {
    char **keys; /* NULL = empty slot; tombstones are not needed: removal rebuilds */
    uint32_t *val;
    size_t cap, n;
} fg_strmap_t;

struct fg_kb {
    fg_kb_item_t *items;
    size_t n_items;
    fg_strmap_t by_code; /* code -> index into items */
    fg_strmap_t lists[FG_KB_LIST_COUNT];
    char *version;
};

static uint64_t hash(const char *s) {
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static void map_free(fg_strmap_t *m) {
    for (size_t i = 0; i < m->cap; i++) free(m->keys[i]);
    free(m->keys);
    free(m->val);
    memset(m, 0, sizeof(*m));
}

static long map_find(const fg_strmap_t *m, const char *k) {
    if (!m->cap || !k) return -1;
    for (size_t i = hash(k) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        if (!m->keys[i]) return -1;
        if (!strcmp(m->keys[i], k)) return (long)i;
    }
}

static void map_put(fg_strmap_t *m, const char *k, uint32_t v);

static void map_grow(fg_strmap_t *m) {
    fg_strmap_t old = *m;
    m->cap = old.cap ? old.cap * 2 : 64;
    m->n = 0;
    m->keys = calloc(m->cap, sizeof(char *));
    m->val = calloc(m->cap, sizeof(uint32_t));
    if (!m->keys || !m->val) abort();
    for (size_t i = 0; i < old.cap; i++)
        if (old.keys[i]) {
            map_put(m, old.keys[i], old.val[i]);
            free(old.keys[i]);
        }
    free(old.keys);
    free(old.val);
}

/* inserts or overwrites */
static void map_put(fg_strmap_t *m, const char *k, uint32_t v) {
    if ((m->n + 1) * 2 > m->cap) map_grow(m);
    size_t i = hash(k) & (m->cap - 1);
    while (m->keys[i] && strcmp(m->keys[i], k)) i = (i + 1) & (m->cap - 1);
    if (!m->keys[i]) {
        m->keys[i] = strdup(k);
        if (!m->keys[i]) abort();
        m->n++;
    }
    m->val[i] = v;
}

static void map_copy(fg_strmap_t *dst, const fg_strmap_t *src) {
    memset(dst, 0, sizeof(*dst));
    for (size_t i = 0; i < src->cap; i++)
        if (src->keys[i]) map_put(dst, src->keys[i], src->val[i]);
}

fg_kb_t *fg_kb_empty(void) {
    fg_kb_t *kb = calloc(1, sizeof(*kb));
    if (!kb) abort();
    kb->version = strdup("none");
    return kb;
}

void fg_kb_destroy(fg_kb_t *kb) {
    if (!kb) return;
    for (size_t i = 0; i < kb->n_items; i++) {
        free((char *)kb->items[i].code);
        free((char *)kb->items[i].name);
    }
    free(kb->items);
    map_free(&kb->by_code);
    for (int l = 0; l < FG_KB_LIST_COUNT; l++) map_free(&kb->lists[l]);
    free(kb->version);
    free(kb);
}

fg_kb_t *fg_kb_clone(const fg_kb_t *src) {
    fg_kb_t *kb = calloc(1, sizeof(*kb));
    if (!kb) abort();
    kb->n_items = src->n_items;
    kb->items = calloc(src->n_items + 1, sizeof(fg_kb_item_t));
    if (!kb->items) abort();
    for (size_t i = 0; i < src->n_items; i++) {
        kb->items[i] = src->items[i];
        kb->items[i].code = strdup(src->items[i].code);
        kb->items[i].name = strdup(src->items[i].name ? src->items[i].name : "");
    }
    map_copy(&kb->by_code, &src->by_code);
    for (int l = 0; l < FG_KB_LIST_COUNT; l++) map_copy(&kb->lists[l], &src->lists[l]);
    kb->version = strdup(src->version);
    return kb;
}

/* ---- loading ---- */

static int get_int(json_t *o, const char *k, int32_t *out, const char *path, size_t idx, char *errstr,
                   size_t errstr_size) {
    json_t *v = json_object_get(o, k);
    if (!v || json_is_null(v)) return FG_OK; /* keep the default */
    if (!json_is_integer(v))
        return fg_err(errstr, errstr_size, FG_ERR, "%s: items[%zu].%s: expected integer", path, idx, k);
    json_int_t x = json_integer_value(v);
    if (x < 0 || x > INT32_MAX)
        return fg_err(errstr, errstr_size, FG_ERR, "%s: items[%zu].%s: out of range (%lld)", path, idx, k,
                      (long long)x);
    *out = (int32_t)x;
    return FG_OK;
}

static int get_bool(json_t *o, const char *k, bool *out, const char *path, size_t idx, char *errstr,
                    size_t errstr_size) {
    json_t *v = json_object_get(o, k);
    if (!v || json_is_null(v)) return FG_OK;
    if (!json_is_boolean(v))
        return fg_err(errstr, errstr_size, FG_ERR, "%s: items[%zu].%s: expected true or false", path, idx, k);
    *out = json_is_true(v);
    return FG_OK;
}

static const char *const g_item_keys[] = {"code",      "name",         "kind",        "prescription_only",
                                          "max_daily_qty", "max_days_supply", "gender_only", "min_age",
                                          "max_age",   "daily_limit",  "stay_limit",  "high_value",
                                          "price_ceiling_fen"};

static int load_item(json_t *o, fg_kb_item_t *it, const char *path, size_t idx, char *errstr, size_t errstr_size) {
    if (!json_is_object(o)) return fg_err(errstr, errstr_size, FG_ERR, "%s: items[%zu]: expected an object", path, idx);
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v) {
        size_t j = 0;
        while (j < FG_ARRAY_SIZE(g_item_keys) && strcmp(g_item_keys[j], k)) j++;
        if (j == FG_ARRAY_SIZE(g_item_keys))
            return fg_err(errstr, errstr_size, FG_ERR, "%s: items[%zu]: unknown field \"%s\"", path, idx, k);
    }
    memset(it, 0, sizeof(*it));
    it->max_daily_qty = FG_KB_NONE;
    it->max_days_supply = it->min_age = it->max_age = it->daily_limit = it->stay_limit = FG_KB_NONE;
    it->price_ceiling_fen = FG_KB_NONE;
    json_t *cv = json_object_get(o, "code");
    const char *code = json_string_value(cv);
    if (!cv) return fg_err(errstr, errstr_size, FG_ERR, "%s: items[%zu]: missing \"code\"", path, idx);
    if (!code || !*code)
        return fg_err(errstr, errstr_size, FG_ERR, "%s: items[%zu].code: expected a non-empty string", path, idx);
    json_t *nv = json_object_get(o, "name");
    if (nv && !json_is_null(nv) && !json_is_string(nv))
        return fg_err(errstr, errstr_size, FG_ERR, "%s: items[%zu] (%s).name: expected a string", path, idx, code);
    const char *kind = json_string_value(json_object_get(o, "kind"));
    int kv = kind ? fg_item_kind_parse(kind) : -1;
    if (kv < 0)
        return fg_err(errstr, errstr_size, FG_ERR,
                      "%s: items[%zu] (%s): \"kind\" must be DRUG, SERVICE, CONSUMABLE, BED or EXAM", path, idx, code);
    it->kind = (fg_item_kind_t)kv;
    json_t *g = json_object_get(o, "gender_only");
    if (g && !json_is_null(g)) {
        const char *gs = json_string_value(g);
        if (gs && !strcmp(gs, "M")) it->gender_only = FG_GENDER_MALE;
        else if (gs && !strcmp(gs, "F")) it->gender_only = FG_GENDER_FEMALE;
        else
            return fg_err(errstr, errstr_size, FG_ERR, "%s: items[%zu] (%s): gender_only must be \"M\", \"F\" or null",
                          path, idx, code);
    }
    json_t *q = json_object_get(o, "max_daily_qty");
    if (q && !json_is_null(q)) {
        if (!json_is_number(q) || json_number_value(q) <= 0)
            return fg_err(errstr, errstr_size, FG_ERR, "%s: items[%zu] (%s): max_daily_qty must be a positive number",
                          path, idx, code);
        it->max_daily_qty = json_number_value(q);
    }
    json_t *pc = json_object_get(o, "price_ceiling_fen");
    if (pc && !json_is_null(pc)) {
        if (!json_is_integer(pc) || json_integer_value(pc) < 0)
            return fg_err(errstr, errstr_size, FG_ERR, "%s: items[%zu] (%s): price_ceiling_fen must be an integer >= 0",
                          path, idx, code);
        it->price_ceiling_fen = json_integer_value(pc);
    }
    if (get_bool(o, "prescription_only", &it->prescription_only, path, idx, errstr, errstr_size) ||
        get_bool(o, "high_value", &it->high_value, path, idx, errstr, errstr_size) ||
        get_int(o, "max_days_supply", &it->max_days_supply, path, idx, errstr, errstr_size) ||
        get_int(o, "min_age", &it->min_age, path, idx, errstr, errstr_size) ||
        get_int(o, "max_age", &it->max_age, path, idx, errstr, errstr_size) ||
        get_int(o, "daily_limit", &it->daily_limit, path, idx, errstr, errstr_size) ||
        get_int(o, "stay_limit", &it->stay_limit, path, idx, errstr, errstr_size))
        return FG_ERR;
    if (it->min_age != FG_KB_NONE && it->max_age != FG_KB_NONE && it->min_age > it->max_age)
        return fg_err(errstr, errstr_size, FG_ERR, "%s: items[%zu] (%s): min_age %d is above max_age %d", path, idx,
                      code, (int)it->min_age, (int)it->max_age);
    const char *name = json_string_value(nv);
    it->code = strdup(code);
    it->name = strdup(name ? name : "");
    return FG_OK;
}

static json_t *load_json(const char *path, char *errstr, size_t errstr_size) {
    json_error_t je;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!root) fg_err(errstr, errstr_size, FG_ERR, "%s: line %d column %d: %s", path, je.line, je.column, je.text);
    else if (!json_is_object(root)) {
        fg_err(errstr, errstr_size, FG_ERR, "%s: expected a JSON object at the top", path);
        json_decref(root);
        root = NULL;
    }
    return root;
}

int fg_kb_list_parse(const char *name) {
    static const char *const names[] = {"institution", "doctor", "person"};
    for (int i = 0; i < FG_KB_LIST_COUNT; i++)
        if (name && !strcmp(name, names[i])) return i;
    return -1;
}

fg_kb_t *fg_kb_load(const char *catalogue_path, const char *blacklists_path, char *errstr, size_t errstr_size) {
    fg_kb_t *kb = fg_kb_empty();
    json_t *root = NULL;
    if (catalogue_path && *catalogue_path) {
        if (!(root = load_json(catalogue_path, errstr, errstr_size))) goto fail;
        const char *tk;
        json_t *tv;
        json_object_foreach(root, tk, tv) {
            if (strcmp(tk, "version") && strcmp(tk, "items")) {
                fg_err(errstr, errstr_size, FG_ERR, "%s: unknown field \"%s\" (expected \"version\" and \"items\")",
                       catalogue_path, tk);
                goto fail;
            }
        }
        const char *ver = json_string_value(json_object_get(root, "version"));
        json_t *items = json_object_get(root, "items");
        if (!ver || !json_is_array(items)) {
            fg_err(errstr, errstr_size, FG_ERR, "%s: needs \"version\" (string) and \"items\" (array)", catalogue_path);
            goto fail;
        }
        free(kb->version);
        kb->version = strdup(ver);
        kb->items = calloc(json_array_size(items) + 1, sizeof(fg_kb_item_t));
        if (!kb->items) abort();
        size_t i;
        json_t *o;
        json_array_foreach(items, i, o) {
            if (load_item(o, &kb->items[kb->n_items], catalogue_path, i, errstr, errstr_size) != FG_OK) goto fail;
            if (map_find(&kb->by_code, kb->items[kb->n_items].code) >= 0) {
                fg_err(errstr, errstr_size, FG_ERR, "%s: items[%zu]: code %s appears twice", catalogue_path, i,
                       kb->items[kb->n_items].code);
                kb->n_items++;
                goto fail;
            }
            map_put(&kb->by_code, kb->items[kb->n_items].code, (uint32_t)kb->n_items);
            kb->n_items++;
        }
        json_decref(root);
        root = NULL;
    }
    if (blacklists_path && *blacklists_path) {
        if (!(root = load_json(blacklists_path, errstr, errstr_size))) goto fail;
        const char *k;
        json_t *arr;
        json_object_foreach(root, k, arr) {
            if (!strcmp(k, "version")) {
                if (!json_is_string(arr)) {
                    fg_err(errstr, errstr_size, FG_ERR, "%s: \"version\": expected a string", blacklists_path);
                    goto fail;
                }
                continue;
            }
            /* the plural of a list name, exactly: "doctors" -> doctor; "doctorz" is not accepted */
            char one[32];
            size_t kl = strlen(k);
            int l = -1;
            if (kl > 1 && kl < sizeof(one) && k[kl - 1] == 's') {
                memcpy(one, k, kl - 1);
                one[kl - 1] = '\0';
                l = fg_kb_list_parse(one);
            }
            if (l < 0 || !json_is_array(arr)) {
                fg_err(errstr, errstr_size, FG_ERR,
                       "%s: \"%s\": expected one of \"institutions\", \"doctors\", \"persons\" with an array of ids",
                       blacklists_path, k);
                goto fail;
            }
            size_t i;
            json_t *v;
            json_array_foreach(arr, i, v) {
                const char *id = json_string_value(v);
                if (!id && json_is_object(v)) id = json_string_value(json_object_get(v, "id"));
                if (!id || !*id) {
                    fg_err(errstr, errstr_size, FG_ERR, "%s: %s[%zu]: expected an id string or {\"id\": ...}",
                           blacklists_path, k, i);
                    goto fail;
                }
                map_put(&kb->lists[l], id, 1);
            }
        }
        json_decref(root);
    }
    return kb;
fail:
    json_decref(root);
    fg_kb_destroy(kb);
    return NULL;
}

const fg_kb_item_t *fg_kb_item(const fg_kb_t *kb, const char *code) {
    long i = map_find(&kb->by_code, code);
    return i < 0 ? NULL : &kb->items[kb->by_code.val[i]];
}

size_t fg_kb_item_count(const fg_kb_t *kb) { return kb->n_items; }

bool fg_kb_listed(const fg_kb_t *kb, fg_kb_list_t list, const char *id) {
    if ((unsigned)list >= FG_KB_LIST_COUNT) return false;
    long i = map_find(&kb->lists[list], id);
    return i >= 0 && kb->lists[list].val[i];
}

int fg_kb_list_add(fg_kb_t *kb, fg_kb_list_t list, const char *id) {
    if ((unsigned)list >= FG_KB_LIST_COUNT || !id || !*id || fg_kb_listed(kb, list, id)) return -1;
    map_put(&kb->lists[list], id, 1);
    return 0;
}

int fg_kb_list_remove(fg_kb_t *kb, fg_kb_list_t list, const char *id) {
    if (!fg_kb_listed(kb, list, id)) return -1;
    map_put(&kb->lists[list], id, 0); /* a cleared entry: lookups treat it as absent */
    return 0;
}

const char *fg_kb_version(const fg_kb_t *kb) { return kb->version; }

int fg_kb_age_years(int32_t birth_date_days, int64_t event_time_ms) {
    if (birth_date_days == FG_DATE_ABSENT) return -1;
    int64_t days = event_time_ms / FG_MS_PER_DAY - birth_date_days;
    if (days < 0) return -1;
    /* whole years: count birthdays by calendar, not 365-day blocks */
    time_t b = (time_t)birth_date_days * 86400, e = (time_t)(event_time_ms / 1000);
    struct tm tb, te;
    gmtime_r(&b, &tb);
    gmtime_r(&e, &te);
    int y = te.tm_year - tb.tm_year;
    if (te.tm_mon < tb.tm_mon || (te.tm_mon == tb.tm_mon && te.tm_mday < tb.tm_mday)) y--;
    return y < 0 ? -1 : y;
}
