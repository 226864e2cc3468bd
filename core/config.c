/*
 * config.c - the one JSON config file, checked against the tables every
 * component declares, and the generator of docs/CONFIGURATION.md from the
 * same tables. Models: librdkafka's rdkafka_conf.c (one property table drives
 * validation and the reference doc) and Redis's config.c (typed table with
 * bounds; unknown keys are errors, not silently ignored).
 *
 * Entries are a flat array in declaration order with linear lookup: a few
 * hundred keys, read at start-up, so a hash would buy nothing. Loads and
 * --set are staged and committed only when every value is valid, so a
 * rejected file leaves the previous settings untouched.
 */
#include "core/config.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/common.h"

/* The passthrough subtrees; index 0 applies to every client. */
#define FG_KAFKA_ROOTS 3
static const char *const fg_kafka_roots[FG_KAFKA_ROOTS] = {"kafka", "kafka_consumer", "kafka_producer"};

typedef struct fg_conf_kv {
    char *k, *v;
} fg_conf_kv_t;

/* Insertion-ordered string map: kafka properties and FG_CONF_MAP values. */
typedef struct fg_conf_kvs {
    fg_conf_kv_t *a;
    size_t n, cap;
} fg_conf_kvs_t;

typedef struct fg_conf_val {
    bool set;
    bool b;
    int64_t i;
    double d;
    char *s;
    fg_conf_kvs_t map;
} fg_conf_val_t;

typedef struct fg_conf_entry {
    char *key; /* prefix + decl->key */
    const fg_conf_decl_t *decl;
    size_t section;
    fg_conf_val_t val;
} fg_conf_entry_t;

typedef struct fg_conf_section {
    char *prefix, *title;
    const fg_conf_decl_t *decls;
    size_t n;
} fg_conf_section_t;

struct fg_config {
    fg_conf_entry_t *ents;
    size_t n, cap;
    fg_conf_section_t *secs;
    size_t nsecs, capsecs;
    fg_conf_kvs_t kafka[FG_KAFKA_ROOTS];
};

/* ---- small helpers ---------------------------------------------------- */

static void fg_conf_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void fg_conf_fatal(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("fundguard: config: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    abort();
}

static void *fg_conf_realloc(void *p, size_t n) {
    void *q = realloc(p, n ? n : 1);
    if (!q)
        fg_conf_fatal("out of memory allocating %zu bytes", n);
    return q;
}

static char *fg_conf_strdup(const char *s) {
    size_t len = strlen(s) + 1;
    char *d = fg_conf_realloc(NULL, len);
    memcpy(d, s, len);
    return d;
}

/* a + sep + b; sep is skipped when a is empty (the top level). */
static char *fg_conf_join(const char *a, const char *sep, const char *b) {
    if (!*a)
        sep = "";
    size_t la = strlen(a), ls = strlen(sep), lb = strlen(b);
    char *s = fg_conf_realloc(NULL, la + ls + lb + 1);
    memcpy(s, a, la);
    memcpy(s + la, sep, ls);
    memcpy(s + la + ls, b, lb + 1);
    return s;
}

#define FG_CONF_GROW(arr, n, cap)                                                                                      \
    do {                                                                                                               \
        if ((n) == (cap)) {                                                                                            \
            (cap) = (cap) ? (cap)*2 : 16;                                                                              \
            (arr) = fg_conf_realloc((arr), (cap) * sizeof(*(arr)));                                                    \
        }                                                                                                              \
    } while (0)

static fg_conf_kv_t *fg_conf_kvs_find(const fg_conf_kvs_t *m, const char *k) {
    for (size_t i = 0; i < m->n; i++)
        if (!strcmp(m->a[i].k, k))
            return &m->a[i];
    return NULL;
}

/* Replaces in place so a property keeps its first position (stable order). */
static void fg_conf_kvs_put(fg_conf_kvs_t *m, const char *k, const char *v) {
    fg_conf_kv_t *kv = fg_conf_kvs_find(m, k);
    if (kv) {
        char *nv = fg_conf_strdup(v);
        free(kv->v);
        kv->v = nv;
        return;
    }
    FG_CONF_GROW(m->a, m->n, m->cap);
    m->a[m->n].k = fg_conf_strdup(k);
    m->a[m->n].v = fg_conf_strdup(v);
    m->n++;
}

static void fg_conf_kvs_free(fg_conf_kvs_t *m) {
    for (size_t i = 0; i < m->n; i++) {
        free(m->a[i].k);
        free(m->a[i].v);
    }
    free(m->a);
    memset(m, 0, sizeof(*m));
}

static void fg_conf_val_free(fg_conf_val_t *v) {
    free(v->s);
    fg_conf_kvs_free(&v->map);
    memset(v, 0, sizeof(*v));
}

static fg_conf_entry_t *fg_conf_find(const fg_config_t *cf, const char *key) {
    for (size_t i = 0; i < cf->n; i++)
        if (!strcmp(cf->ents[i].key, key))
            return &cf->ents[i];
    return NULL;
}

/* Is some declared key nested under path ("redis" for "redis.host")? */
static bool fg_conf_has_under(const fg_config_t *cf, const char *path) {
    size_t len = strlen(path);
    for (size_t i = 0; i < cf->n; i++)
        if (!strncmp(cf->ents[i].key, path, len) && cf->ents[i].key[len] == '.')
            return true;
    return false;
}

/*
 * @returns the passthrough root index when key is a root ("kafka": *prop =
 * NULL) or a property under one ("kafka.bootstrap.servers": *prop =
 * "bootstrap.servers"); -1 for any other key.
 */
static int fg_conf_kafka_split(const char *key, const char **prop) {
    for (int r = 0; r < FG_KAFKA_ROOTS; r++) {
        size_t len = strlen(fg_kafka_roots[r]);
        if (strncmp(key, fg_kafka_roots[r], len))
            continue;
        if (key[len] == '\0') {
            *prop = NULL;
            return r;
        }
        if (key[len] == '.') {
            *prop = key + len + 1;
            return r;
        }
    }
    return -1;
}

static const char *fg_conf_type_name(fg_conf_type_t t) {
    switch (t) {
    case FG_CONF_BOOL:
        return "bool";
    case FG_CONF_INT:
        return "int";
    case FG_CONF_DOUBLE:
        return "double";
    case FG_CONF_STRING:
        return "string";
    case FG_CONF_MAP:
        return "map";
    }
    return "?";
}

/* Bounds print as integers when they are ("365", not "365.000000"). */
static void fg_conf_fmt_num(double x, char *buf, size_t sz) {
    if (x == floor(x) && fabs(x) < 9e15)
        snprintf(buf, sz, "%lld", (long long)x);
    else
        snprintf(buf, sz, "%g", x);
}

static bool fg_conf_bounded(const fg_conf_decl_t *d) {
    return (d->type == FG_CONF_INT || d->type == FG_CONF_DOUBLE) && d->min != d->max;
}

static void fg_conf_fmt_expected(const fg_conf_decl_t *d, char *buf, size_t sz) {
    char lo[32], hi[32];
    fg_conf_fmt_num(d->min, lo, sizeof(lo));
    fg_conf_fmt_num(d->max, hi, sizeof(hi));
    switch (d->type) {
    case FG_CONF_BOOL:
        snprintf(buf, sz, "boolean (true or false)");
        break;
    case FG_CONF_INT:
        if (fg_conf_bounded(d))
            snprintf(buf, sz, "integer in [%s, %s]", lo, hi);
        else
            snprintf(buf, sz, "integer");
        break;
    case FG_CONF_DOUBLE:
        if (fg_conf_bounded(d))
            snprintf(buf, sz, "number in [%s, %s]", lo, hi);
        else
            snprintf(buf, sz, "number");
        break;
    case FG_CONF_STRING:
        snprintf(buf, sz, "string");
        break;
    case FG_CONF_MAP:
        snprintf(buf, sz, "object of string values");
        break;
    }
}

/* Text of a JSON number as librdkafka and maps want it: shortest exact form. */
static void fg_conf_num_text(const json_t *v, char *buf, size_t sz) {
    if (json_is_integer(v)) {
        snprintf(buf, sz, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return;
    }
    double d = json_real_value(v);
    snprintf(buf, sz, "%.15g", d);
    if (strtod(buf, NULL) != d)
        snprintf(buf, sz, "%.17g", d);
}

/* What was found, for error messages; secrets are described, never echoed. */
static void fg_conf_json_got(const json_t *v, bool secret, char *buf, size_t sz) {
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        snprintf(buf, sz, "an object");
        break;
    case JSON_ARRAY:
        snprintf(buf, sz, "an array");
        break;
    case JSON_STRING:
        if (secret)
            snprintf(buf, sz, "a string");
        else
            snprintf(buf, sz, "\"%.80s\"", json_string_value(v));
        break;
    case JSON_INTEGER:
    case JSON_REAL:
        if (secret)
            snprintf(buf, sz, "a number");
        else
            fg_conf_num_text(v, buf, sz);
        break;
    case JSON_TRUE:
        snprintf(buf, sz, "true");
        break;
    case JSON_FALSE:
        snprintf(buf, sz, "false");
        break;
    case JSON_NULL:
        snprintf(buf, sz, "null");
        break;
    }
}

/* Optimal string alignment distance: a swapped pair ("hots") costs one edit. */
static size_t fg_conf_distance(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    size_t *rows = fg_conf_realloc(NULL, 3 * (lb + 1) * sizeof(*rows));
    size_t *pp = rows, *p = rows + lb + 1, *c = rows + 2 * (lb + 1);
    for (size_t j = 0; j <= lb; j++)
        p[j] = j;
    for (size_t i = 1; i <= la; i++) {
        c[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t cost = a[i - 1] != b[j - 1];
            size_t best = p[j] + 1;
            if (c[j - 1] + 1 < best)
                best = c[j - 1] + 1;
            if (p[j - 1] + cost < best)
                best = p[j - 1] + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && pp[j - 2] + 1 < best)
                best = pp[j - 2] + 1;
            c[j] = best;
        }
        size_t *t = pp;
        pp = p;
        p = c;
        c = t;
    }
    size_t d = p[lb];
    free(rows);
    return d;
}

/* The declared key (or passthrough root) nearest to key, if it is close enough to be a typo. */
static const char *fg_conf_suggest(const fg_config_t *cf, const char *key) {
    const char *best = NULL;
    size_t best_d = (size_t)-1;
    for (size_t i = 0; i < cf->n; i++) {
        size_t d = fg_conf_distance(key, cf->ents[i].key);
        if (d < best_d) {
            best_d = d;
            best = cf->ents[i].key;
        }
    }
    /* Roots are compared with the first component: "kafak.acks" -> "kafka". */
    char first[64];
    size_t flen = strcspn(key, ".");
    if (flen < sizeof(first)) {
        memcpy(first, key, flen);
        first[flen] = '\0';
        for (int r = 0; r < FG_KAFKA_ROOTS; r++) {
            size_t d = fg_conf_distance(first, fg_kafka_roots[r]);
            if (d < best_d) {
                best_d = d;
                best = fg_kafka_roots[r];
            }
        }
    }
    size_t len = strlen(key);
    if (best && (best_d <= 2 || best_d * 5 <= len))
        return best;
    return NULL;
}

/* ---- staged changes ---------------------------------------------------- */

typedef struct fg_conf_pend_val {
    size_t ent;
    fg_conf_val_t val;
} fg_conf_pend_val_t;

typedef struct fg_conf_pend_prop {
    int root;
    char *k, *v;
} fg_conf_pend_prop_t;

/* One load or --set: where errors go and what to apply if all is valid. */
typedef struct fg_conf_load {
    fg_config_t *cf;
    const char *src; /* "config.json: " or "" */
    bool no_env;     /* defaults are literal text */
    char *errstr;
    size_t errstr_size;
    fg_conf_pend_val_t *vals;
    size_t nvals, capvals;
    fg_conf_pend_prop_t *props;
    size_t nprops, capprops;
} fg_conf_load_t;

static int fg_conf_err(fg_conf_load_t *ld, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fg_conf_err(fg_conf_load_t *ld, const char *fmt, ...) {
    if (!ld->errstr || !ld->errstr_size)
        return -1;
    int n = snprintf(ld->errstr, ld->errstr_size, "%s", ld->src);
    if (n < 0 || (size_t)n >= ld->errstr_size)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ld->errstr + n, ld->errstr_size - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

static void fg_conf_pend_val(fg_conf_load_t *ld, size_t ent, fg_conf_val_t val) {
    FG_CONF_GROW(ld->vals, ld->nvals, ld->capvals);
    ld->vals[ld->nvals].ent = ent;
    ld->vals[ld->nvals].val = val;
    ld->nvals++;
}

static void fg_conf_pend_prop(fg_conf_load_t *ld, int root, const char *k, const char *v) {
    FG_CONF_GROW(ld->props, ld->nprops, ld->capprops);
    ld->props[ld->nprops].root = root;
    ld->props[ld->nprops].k = fg_conf_strdup(k);
    ld->props[ld->nprops].v = fg_conf_strdup(v);
    ld->nprops++;
}

/* Frees what was staged; after fg_conf_commit() only the arrays remain. */
static void fg_conf_discard(fg_conf_load_t *ld) {
    for (size_t i = 0; i < ld->nvals; i++)
        fg_conf_val_free(&ld->vals[i].val);
    for (size_t i = 0; i < ld->nprops; i++) {
        free(ld->props[i].k);
        free(ld->props[i].v);
    }
    free(ld->vals);
    free(ld->props);
    ld->vals = NULL;
    ld->props = NULL;
    ld->nvals = ld->nprops = 0;
}

static void fg_conf_commit(fg_conf_load_t *ld) {
    for (size_t i = 0; i < ld->nvals; i++) {
        fg_conf_entry_t *e = &ld->cf->ents[ld->vals[i].ent];
        fg_conf_val_free(&e->val);
        e->val = ld->vals[i].val; /* ownership moves to the entry */
    }
    ld->nvals = 0;
    for (size_t i = 0; i < ld->nprops; i++)
        fg_conf_kvs_put(&ld->cf->kafka[ld->props[i].root], ld->props[i].k, ld->props[i].v);
    fg_conf_discard(ld);
}

static int fg_conf_unknown(fg_conf_load_t *ld, const char *key) {
    const char *near = fg_conf_suggest(ld->cf, key);
    if (near)
        return fg_conf_err(ld, "unknown key \"%s\" (did you mean \"%s\"?)", key, near);
    return fg_conf_err(ld, "unknown key \"%s\"", key);
}

/*
 * "${file:PATH}" -> the file's contents without trailing newlines (a Kubernetes or Docker secret mounted
 * as a file). *out points into a buffer that the next call overwrites: callers copy it at once. Errors
 * name the key and the path, never the contents.
 */
static int fg_conf_secret_file(fg_conf_load_t *ld, const char *key, const char *path, size_t plen, const char **out) {
    static _Thread_local char buf[8192];
    char p[1024];
    if (plen >= sizeof(p))
        return fg_conf_err(ld, "%s: file path too long", key);
    memcpy(p, path, plen);
    p[plen] = '\0';
    FILE *f = fopen(p, "rb");
    if (!f)
        return fg_conf_err(ld, "%s: cannot read %s: %s", key, p, strerror(errno));
    size_t n = fread(buf, 1, sizeof(buf), f);
    int bad = ferror(f);
    fclose(f);
    if (bad)
        return fg_conf_err(ld, "%s: cannot read %s", key, p);
    if (n == sizeof(buf))
        return fg_conf_err(ld, "%s: %s is longer than %zu bytes", key, p, sizeof(buf) - 1);
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        n--;
    if (memchr(buf, '\0', n))
        return fg_conf_err(ld, "%s: %s contains a NUL byte", key, p);
    buf[n] = '\0';
    *out = buf;
    return 0;
}

/*
 * "${NAME}" (the whole string) -> getenv("NAME"). *out is borrowed: s itself
 * or the environment's copy, to be duplicated before the environment changes;
 * "${file:PATH}" reads a file (fg_conf_secret_file).
 */
static int fg_conf_env(fg_conf_load_t *ld, const char *key, const char *s, const char **out) {
    *out = s;
    size_t len = strlen(s);
    if (ld->no_env || len < 4 || s[0] != '$' || s[1] != '{' || s[len - 1] != '}')
        return 0;
    if (len > 8 && !strncmp(s, "${file:", 7))
        return fg_conf_secret_file(ld, key, s + 7, len - 8, out);
    char name[256];
    size_t nlen = len - 3;
    if (nlen >= sizeof(name))
        return 0;
    for (size_t i = 0; i < nlen; i++) {
        unsigned char ch = (unsigned char)s[2 + i];
        if (!isalnum(ch) && ch != '_')
            return 0; /* not a reference: keep the text as is */
        name[i] = (char)ch;
    }
    name[nlen] = '\0';
    const char *v = getenv(name);
    if (!v)
        return fg_conf_err(ld, "%s: environment variable %s is not set", key, name);
    *out = v;
    return 0;
}

/* ---- typed values ------------------------------------------------------ */

static int fg_conf_check_bounds(fg_conf_load_t *ld, const fg_conf_entry_t *e, double x, const char *got) {
    const fg_conf_decl_t *d = e->decl;
    if (!fg_conf_bounded(d) || (x >= d->min && x <= d->max))
        return 0;
    char exp[96];
    fg_conf_fmt_expected(d, exp, sizeof(exp));
    return fg_conf_err(ld, "%s: expected %s, got %s", e->key, exp, got);
}

static int fg_conf_val_from_json(fg_conf_load_t *ld, const fg_conf_entry_t *e, const json_t *v, fg_conf_val_t *out) {
    const fg_conf_decl_t *d = e->decl;
    bool secret = d->flags & FG_CONF_SECRET;
    char got[128];
    fg_conf_json_got(v, secret, got, sizeof(got));
    memset(out, 0, sizeof(*out));
    /* null unsets a string or map (e.g. clears a default); numbers have no "unset" to go back to. */
    if (json_is_null(v) && (d->type == FG_CONF_STRING || d->type == FG_CONF_MAP))
        return 0;
    switch (d->type) {
    case FG_CONF_BOOL:
        if (!json_is_boolean(v))
            goto type_err;
        out->b = json_is_true(v);
        break;
    case FG_CONF_INT:
        /* 15.0 is rejected too: an integer key with a fraction is a mistake worth stopping for. */
        if (!json_is_integer(v))
            goto type_err;
        out->i = json_integer_value(v);
        if (fg_conf_check_bounds(ld, e, (double)out->i, got))
            return -1;
        break;
    case FG_CONF_DOUBLE:
        if (!json_is_number(v))
            goto type_err;
        out->d = json_number_value(v);
        if (fg_conf_check_bounds(ld, e, out->d, got))
            return -1;
        break;
    case FG_CONF_STRING: {
        if (!json_is_string(v))
            goto type_err;
        const char *s;
        if (fg_conf_env(ld, e->key, json_string_value(v), &s))
            return -1;
        out->s = fg_conf_strdup(s);
        break;
    }
    case FG_CONF_MAP: {
        if (!json_is_object(v))
            goto type_err;
        const char *k;
        json_t *m;
        json_object_foreach((json_t *)v, k, m) {
            char num[64];
            const char *text;
            if (json_is_string(m)) {
                text = json_string_value(m);
            } else if (json_is_number(m)) {
                fg_conf_num_text(m, num, sizeof(num));
                text = num;
            } else {
                fg_conf_json_got(m, secret, got, sizeof(got));
                fg_conf_val_free(out);
                return fg_conf_err(ld, "%s.%s: expected a string or number, got %s", e->key, k, got);
            }
            fg_conf_kvs_put(&out->map, k, text);
        }
        break;
    }
    }
    out->set = true;
    return 0;

type_err:;
    char exp[96];
    fg_conf_fmt_expected(d, exp, sizeof(exp));
    return fg_conf_err(ld, "%s: expected %s, got %s", e->key, exp, got);
}

/* Text from --set or a declared default, parsed by the declared type. */
static int fg_conf_val_from_text(fg_conf_load_t *ld, const fg_conf_entry_t *e, const char *text, fg_conf_val_t *out) {
    const fg_conf_decl_t *d = e->decl;
    char got[128], exp[96];
    if (d->flags & FG_CONF_SECRET)
        snprintf(got, sizeof(got), "a string");
    else
        snprintf(got, sizeof(got), "\"%.80s\"", text);
    fg_conf_fmt_expected(d, exp, sizeof(exp));
    memset(out, 0, sizeof(*out));
    switch (d->type) {
    case FG_CONF_BOOL:
        if (!strcasecmp(text, "true") || !strcmp(text, "1"))
            out->b = true;
        else if (!strcasecmp(text, "false") || !strcmp(text, "0"))
            out->b = false;
        else
            return fg_conf_err(ld, "%s: expected %s, got %s", e->key, exp, got);
        break;
    case FG_CONF_INT: {
        char *end;
        errno = 0;
        long long x = strtoll(text, &end, 10);
        /* strtoll skips leading blanks and stops at junk: require the whole text. */
        if (!*text || isspace((unsigned char)*text) || *end || errno == ERANGE)
            return fg_conf_err(ld, "%s: expected %s, got %s", e->key, exp, got);
        out->i = x;
        if (fg_conf_check_bounds(ld, e, (double)x, got))
            return -1;
        break;
    }
    case FG_CONF_DOUBLE: {
        char *end;
        errno = 0;
        double x = strtod(text, &end);
        if (!*text || isspace((unsigned char)*text) || *end || errno == ERANGE || !isfinite(x))
            return fg_conf_err(ld, "%s: expected %s, got %s", e->key, exp, got);
        out->d = x;
        if (fg_conf_check_bounds(ld, e, x, got))
            return -1;
        break;
    }
    case FG_CONF_STRING: {
        const char *s;
        if (fg_conf_env(ld, e->key, text, &s))
            return -1;
        out->s = fg_conf_strdup(s);
        break;
    }
    case FG_CONF_MAP: {
        /* A whole map is given as a JSON object: --set 'schemas.ids={"claims":"7"}'. */
        json_error_t jerr;
        json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
        if (!j)
            return fg_conf_err(ld, "%s: expected %s, got %s (%s)", e->key, exp, got, jerr.text);
        int rc = fg_conf_val_from_json(ld, e, j, out);
        json_decref(j);
        return rc;
    }
    }
    out->set = true;
    return 0;
}

/* ---- loading ----------------------------------------------------------- */

static int fg_conf_prop_from_json(fg_conf_load_t *ld, int root, const char *prop, const char *path, const json_t *v) {
    char num[64];
    const char *text;
    if (!*prop)
        return fg_conf_err(ld, "%s: empty librdkafka property name", path);
    if (json_is_string(v)) {
        if (fg_conf_env(ld, path, json_string_value(v), &text))
            return -1;
    } else if (json_is_number(v)) {
        fg_conf_num_text(v, num, sizeof(num));
        text = num;
    } else if (json_is_boolean(v)) {
        text = json_is_true(v) ? "true" : "false";
    } else {
        char got[128];
        fg_conf_json_got(v, true, got, sizeof(got));
        return fg_conf_err(ld, "%s: expected a string, number or boolean (librdkafka property), got %s", path, got);
    }
    fg_conf_pend_prop(ld, root, prop, text);
    return 0;
}

static int fg_conf_walk(fg_conf_load_t *ld, const char *path, const json_t *v);

static int fg_conf_walk_object(fg_conf_load_t *ld, const char *path, const json_t *obj) {
    const char *k;
    json_t *child;
    json_object_foreach((json_t *)obj, k, child) {
        char *cpath = fg_conf_join(path, ".", k);
        int rc = fg_conf_walk(ld, cpath, child);
        free(cpath);
        if (rc)
            return -1;
    }
    return 0;
}

static int fg_conf_walk(fg_conf_load_t *ld, const char *path, const json_t *v) {
    const char *prop;
    int root = fg_conf_kafka_split(path, &prop);
    if (root >= 0) {
        if (prop)
            return fg_conf_prop_from_json(ld, root, prop, path, v);
        if (!json_is_object(v)) {
            char got[128];
            fg_conf_json_got(v, true, got, sizeof(got));
            return fg_conf_err(ld, "%s: expected an object of librdkafka properties, got %s", path, got);
        }
        /* Members are property names verbatim: "bootstrap.servers" is one name, not a path. */
        const char *k;
        json_t *m;
        json_object_foreach((json_t *)v, k, m) {
            char *ppath = fg_conf_join(path, ".", k);
            int rc = fg_conf_prop_from_json(ld, root, k, ppath, m);
            free(ppath);
            if (rc)
                return -1;
        }
        return 0;
    }
    fg_conf_entry_t *e = fg_conf_find(ld->cf, path);
    if (e) {
        fg_conf_val_t val;
        if (fg_conf_val_from_json(ld, e, v, &val))
            return -1;
        fg_conf_pend_val(ld, (size_t)(e - ld->cf->ents), val);
        return 0;
    }
    /* Descend even into unknown objects: the leaf key gives the better suggestion. */
    if (json_is_object(v) && (json_object_size(v) > 0 || fg_conf_has_under(ld->cf, path)))
        return fg_conf_walk_object(ld, path, v);
    return fg_conf_unknown(ld, path);
}

static int fg_conf_load_json(fg_config_t *cf, const char *src, json_t *root, char *errstr, size_t errstr_size) {
    fg_conf_load_t ld = {.cf = cf, .src = src, .errstr = errstr, .errstr_size = errstr_size};
    int rc;
    if (!json_is_object(root))
        rc = fg_conf_err(&ld, "expected a JSON object at the top level");
    else
        rc = fg_conf_walk_object(&ld, "", root);
    if (rc)
        fg_conf_discard(&ld);
    else
        fg_conf_commit(&ld);
    json_decref(root);
    return rc;
}

static int fg_conf_parse_err(const char *src, const json_error_t *jerr, char *errstr, size_t errstr_size) {
    if (jerr->line < 0) /* could not read the file: jansson's text names it and says why */
        return fg_err(errstr, errstr_size, -1, "%s", jerr->text);
    return fg_err(errstr, errstr_size, -1, "%sline %d, column %d: %s", src, jerr->line, jerr->column, jerr->text);
}

int fg_config_load_file(fg_config_t *cf, const char *path, char *errstr, size_t errstr_size) {
    json_error_t jerr;
    char *src = fg_conf_join(path, "", ": ");
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    int rc = root ? fg_conf_load_json(cf, src, root, errstr, errstr_size)
                  : fg_conf_parse_err(src, &jerr, errstr, errstr_size);
    free(src);
    return rc;
}

int fg_config_load_string(fg_config_t *cf, const char *json, char *errstr, size_t errstr_size) {
    json_error_t jerr;
    json_t *root = json_loads(json, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return fg_conf_parse_err("", &jerr, errstr, errstr_size);
    return fg_conf_load_json(cf, "", root, errstr, errstr_size);
}

int fg_config_set(fg_config_t *cf, const char *key, const char *value, char *errstr, size_t errstr_size) {
    fg_conf_load_t ld = {.cf = cf, .src = "", .errstr = errstr, .errstr_size = errstr_size};
    const char *prop;
    int root = fg_conf_kafka_split(key, &prop);
    if (root >= 0) {
        if (!prop || !*prop)
            return fg_conf_err(&ld, "%s: expected %s.<librdkafka property>", key, fg_kafka_roots[root]);
        const char *text;
        if (fg_conf_env(&ld, key, value, &text))
            return -1;
        fg_conf_kvs_put(&cf->kafka[root], prop, text);
        return 0;
    }
    fg_conf_entry_t *e = fg_conf_find(cf, key);
    fg_conf_val_t val;
    if (e) {
        if (fg_conf_val_from_text(&ld, e, value, &val))
            return -1;
    } else {
        /* One entry of a map: "schemas.ids.claims=7" keeps the map's other entries. */
        const char *dot = strrchr(key, '.');
        char *mkey = dot ? strndup(key, (size_t)(dot - key)) : NULL;
        e = mkey ? fg_conf_find(cf, mkey) : NULL;
        free(mkey);
        if (!e || e->decl->type != FG_CONF_MAP || !dot[1])
            return fg_conf_unknown(&ld, key);
        memset(&val, 0, sizeof(val));
        for (size_t i = 0; i < e->val.map.n; i++)
            fg_conf_kvs_put(&val.map, e->val.map.a[i].k, e->val.map.a[i].v);
        fg_conf_kvs_put(&val.map, dot + 1, value);
        val.set = true;
    }
    fg_conf_pend_val(&ld, (size_t)(e - cf->ents), val);
    fg_conf_commit(&ld);
    return 0;
}

/* ---- declaration and lifetime ------------------------------------------ */

fg_config_t *fg_config_create(void) {
    fg_config_t *cf = calloc(1, sizeof(*cf));
    if (!cf)
        fg_conf_fatal("out of memory");
    return cf;
}

void fg_config_destroy(fg_config_t *cf) {
    if (!cf)
        return;
    for (size_t i = 0; i < cf->n; i++) {
        free(cf->ents[i].key);
        fg_conf_val_free(&cf->ents[i].val);
    }
    free(cf->ents);
    for (size_t i = 0; i < cf->nsecs; i++) {
        free(cf->secs[i].prefix);
        free(cf->secs[i].title);
    }
    free(cf->secs);
    for (int r = 0; r < FG_KAFKA_ROOTS; r++)
        fg_conf_kvs_free(&cf->kafka[r]);
    free(cf);
}

/* Table mistakes abort at start-up: they are bugs, and a test run catches them. */
void fg_config_declare(fg_config_t *cf, const char *prefix, const fg_conf_decl_t *decls, size_t n,
                       const char *section_title) {
    if (!prefix)
        prefix = "";
    FG_CONF_GROW(cf->secs, cf->nsecs, cf->capsecs);
    size_t sec = cf->nsecs++;
    cf->secs[sec].prefix = fg_conf_strdup(prefix);
    cf->secs[sec].title = fg_conf_strdup(section_title ? section_title : prefix);
    cf->secs[sec].decls = decls;
    cf->secs[sec].n = n;

    for (size_t i = 0; i < n; i++) {
        const fg_conf_decl_t *d = &decls[i];
        if (!d->key || !*d->key || (unsigned)d->type > FG_CONF_MAP)
            fg_conf_fatal("table \"%s\": entry %zu has no key or a bad type", cf->secs[sec].title, i);
        char *full = fg_conf_join(prefix, "", d->key);
        const char *prop;
        if (fg_conf_find(cf, full))
            fg_conf_fatal("key \"%s\" declared twice", full);
        if (fg_conf_kafka_split(full, &prop) >= 0)
            fg_conf_fatal("key \"%s\" is inside a kafka passthrough subtree", full);
        if (full[strlen(full) - 1] == '.' || full[0] == '.' || strstr(full, ".."))
            fg_conf_fatal("key \"%s\" has an empty component", full);
        /* "a" and "a.b" cannot both be keys: in the file "a" would be a value and an object. */
        size_t flen = strlen(full);
        for (size_t j = 0; j < cf->n; j++) {
            const char *k = cf->ents[j].key;
            size_t klen = strlen(k);
            if ((klen < flen && !strncmp(full, k, klen) && full[klen] == '.') ||
                (flen < klen && !strncmp(k, full, flen) && k[flen] == '.'))
                fg_conf_fatal("keys \"%s\" and \"%s\" overlap: one would be an object holding the other", k, full);
        }
        FG_CONF_GROW(cf->ents, cf->n, cf->cap);
        fg_conf_entry_t *e = &cf->ents[cf->n];
        memset(e, 0, sizeof(*e));
        e->key = full;
        e->decl = d;
        e->section = sec;
        cf->n++;
        if (d->def) {
            char err[256] = "";
            fg_conf_load_t ld = {.cf = cf, .src = "", .no_env = true, .errstr = err, .errstr_size = sizeof(err)};
            if (fg_conf_val_from_text(&ld, e, d->def, &e->val))
                fg_conf_fatal("default of %s", err);
        }
    }
}

/* ---- getters ----------------------------------------------------------- */

static const fg_conf_entry_t *fg_conf_get(const fg_config_t *cf, const char *key, fg_conf_type_t t, const char *fn) {
    const fg_conf_entry_t *e = fg_conf_find(cf, key);
    if (!e)
        fg_conf_fatal("%s(\"%s\"): key is not declared", fn, key);
    if (e->decl->type != t)
        fg_conf_fatal("%s(\"%s\"): key is declared as %s, not %s", fn, key, fg_conf_type_name(e->decl->type),
                      fg_conf_type_name(t));
    return e;
}

bool fg_config_bool(const fg_config_t *cf, const char *key) {
    return fg_conf_get(cf, key, FG_CONF_BOOL, __func__)->val.b;
}

int64_t fg_config_int(const fg_config_t *cf, const char *key) {
    return fg_conf_get(cf, key, FG_CONF_INT, __func__)->val.i;
}

double fg_config_double(const fg_config_t *cf, const char *key) {
    return fg_conf_get(cf, key, FG_CONF_DOUBLE, __func__)->val.d;
}

const char *fg_config_str(const fg_config_t *cf, const char *key) {
    const fg_conf_entry_t *e = fg_conf_get(cf, key, FG_CONF_STRING, __func__);
    return e->val.set ? e->val.s : NULL;
}

void fg_config_map_foreach(const fg_config_t *cf, const char *key, void (*cb)(const char *k, const char *v, void *ud),
                           void *ud) {
    const fg_conf_entry_t *e = fg_conf_get(cf, key, FG_CONF_MAP, __func__);
    for (size_t i = 0; i < e->val.map.n; i++)
        cb(e->val.map.a[i].k, e->val.map.a[i].v, ud);
}

void fg_config_kafka_foreach(const fg_config_t *cf, const char *client,
                             void (*cb)(const char *k, const char *v, void *ud), void *ud) {
    int r;
    if (client && !strcmp(client, "consumer"))
        r = 1;
    else if (client && !strcmp(client, "producer"))
        r = 2;
    else
        fg_conf_fatal("fg_config_kafka_foreach: client must be \"consumer\" or \"producer\", not \"%s\"",
                      client ? client : "(null)");
    /* Shared properties in their order, each with the client's value if it overrides. */
    const fg_conf_kvs_t *all = &cf->kafka[0], *own = &cf->kafka[r];
    for (size_t i = 0; i < all->n; i++) {
        const fg_conf_kv_t *o = fg_conf_kvs_find(own, all->a[i].k);
        cb(all->a[i].k, o ? o->v : all->a[i].v, ud);
    }
    for (size_t i = 0; i < own->n; i++)
        if (!fg_conf_kvs_find(all, own->a[i].k))
            cb(own->a[i].k, own->a[i].v, ud);
}

/* ---- dump and reference ------------------------------------------------ */

static bool fg_conf_ends_with(const char *s, const char *suffix) {
    size_t ls = strlen(s), lx = strlen(suffix);
    return ls >= lx && !strcmp(s + ls - lx, suffix);
}

/* librdkafka's credentials: sasl.password, ssl.key.password, ssl.key.pem, ... */
static bool fg_conf_kafka_secret(const char *prop) {
    return strstr(prop, "password") || strstr(prop, "secret") || strstr(prop, "sasl.oauthbearer.config") ||
           fg_conf_ends_with(prop, ".key") || fg_conf_ends_with(prop, "key.pem");
}

static json_t *fg_conf_json_str(const char *s) {
    json_t *j = json_string(s);
    return j ? j : json_string("(not valid UTF-8)");
}

/* Puts v (reference stolen) at the dotted key, creating the objects on the way. */
static void fg_conf_json_put(json_t *root, const char *key, json_t *v) {
    char *buf = fg_conf_strdup(key), *comp = buf, *dot;
    json_t *cur = root;
    while ((dot = strchr(comp, '.'))) {
        *dot = '\0';
        json_t *child = json_object_get(cur, comp);
        if (!json_is_object(child)) {
            child = json_object();
            json_object_set_new(cur, comp, child);
        }
        cur = child;
        comp = dot + 1;
    }
    json_object_set_new(cur, comp, v);
    free(buf);
}

void fg_config_dump(const fg_config_t *cf, FILE *out) {
    json_t *root = json_object();
    for (size_t i = 0; i < cf->n; i++) {
        const fg_conf_entry_t *e = &cf->ents[i];
        bool secret = e->decl->flags & FG_CONF_SECRET;
        json_t *v;
        if (!e->val.set && (e->decl->type == FG_CONF_STRING || e->decl->type == FG_CONF_MAP)) {
            v = json_null();
        } else if (secret) {
            v = json_string("***");
        } else {
            switch (e->decl->type) {
            case FG_CONF_BOOL:
                v = json_boolean(e->val.b);
                break;
            case FG_CONF_INT:
                v = json_integer(e->val.i);
                break;
            case FG_CONF_DOUBLE:
                v = json_real(e->val.d);
                break;
            case FG_CONF_STRING:
                v = fg_conf_json_str(e->val.s);
                break;
            case FG_CONF_MAP:
            default:
                v = json_object();
                for (size_t j = 0; j < e->val.map.n; j++)
                    json_object_set_new(v, e->val.map.a[j].k, fg_conf_json_str(e->val.map.a[j].v));
                break;
            }
        }
        fg_conf_json_put(root, e->key, v);
    }
    for (int r = 0; r < FG_KAFKA_ROOTS; r++) {
        json_t *props = json_object();
        for (size_t j = 0; j < cf->kafka[r].n; j++) {
            const fg_conf_kv_t *kv = &cf->kafka[r].a[j];
            json_object_set_new(props, kv->k,
                                fg_conf_kafka_secret(kv->k) ? json_string("***") : fg_conf_json_str(kv->v));
        }
        json_object_set_new(root, fg_kafka_roots[r], props);
    }
    json_dumpf(root, out, JSON_INDENT(2) | JSON_REAL_PRECISION(15));
    fputc('\n', out);
    json_decref(root);
}

/* A table cell: '|' would end the cell and a newline the row. */
static void fg_conf_md_cell(FILE *out, const char *s) {
    for (; *s; s++) {
        if (*s == '|')
            fputs("\\|", out);
        else if (*s == '\n' || *s == '\r')
            fputc(' ', out);
        else
            fputc(*s, out);
    }
}

static void fg_conf_md_row(FILE *out, const char *key, const fg_conf_decl_t *d) {
    fprintf(out, "| `%s` | %s%s | ", key, d->type == FG_CONF_MAP ? "map (string → string)" : fg_conf_type_name(d->type),
            d->flags & FG_CONF_SECRET ? ", secret" : "");
    if (!d->def)
        fputs("(unset)", out);
    else if (!*d->def)
        fputs("`\"\"`", out);
    else {
        fputc('`', out);
        fg_conf_md_cell(out, d->def);
        fputc('`', out);
    }
    fputs(" | ", out);
    if (fg_conf_bounded(d)) {
        char lo[32], hi[32];
        fg_conf_fmt_num(d->min, lo, sizeof(lo));
        fg_conf_fmt_num(d->max, hi, sizeof(hi));
        fprintf(out, "%s .. %s", lo, hi);
    }
    fputs(" | ", out);
    fg_conf_md_cell(out, d->desc ? d->desc : "");
    fputs(" |\n", out);
}

void fg_config_doc_markdown(const fg_config_t *cf, FILE *out) {
    fputs("# Configuration reference\n"
          "\n"
          "<!-- Generated by `fundguard config-doc` from the tables the components declare; do not edit. -->\n"
          "\n"
          "fundguard reads one JSON file. Its nested objects spell the dotted keys below:\n"
          "`{\"redis\": {\"host\": \"10.0.0.5\"}}` sets `redis.host`. Any key can also be set on the\n"
          "command line with `--set key=value`, which is parsed by the key's type (booleans are\n"
          "`true`/`false`/`1`/`0`) and applied after the file.\n"
          "\n"
          "Every value is checked when the file is loaded: a wrong type, a value outside the\n"
          "bounds or an unknown key stops start-up with a message naming the key (and, for a\n"
          "misspelt key, the nearest declared one). `null` unsets a string or map key.\n"
          "Keys marked *secret* are shown as `\"***\"` in dumps of the effective configuration.\n",
          out);

    /* Tables declared with the same title (one per detector, say) share a section. */
    for (size_t s = 0; s < cf->nsecs; s++) {
        bool seen = false;
        for (size_t p = 0; p < s && !seen; p++)
            seen = !strcmp(cf->secs[p].title, cf->secs[s].title);
        if (seen)
            continue;
        fprintf(out, "\n## %s\n\n", cf->secs[s].title);
        fputs("| Key | Type | Default | Bounds | Description |\n"
              "|-----|------|---------|--------|-------------|\n",
              out);
        for (size_t t = s; t < cf->nsecs; t++) {
            if (strcmp(cf->secs[t].title, cf->secs[s].title))
                continue;
            for (size_t i = 0; i < cf->n; i++)
                if (cf->ents[i].section == t)
                    fg_conf_md_row(out, cf->ents[i].key, cf->ents[i].decl);
        }
    }

    fputs("\n## Kafka clients (librdkafka passthrough)\n"
          "\n"
          "Three objects are not checked here but handed to librdkafka (`rd_kafka_conf_set`)\n"
          "verbatim; their member names are librdkafka property names, dots included, as listed\n"
          "in librdkafka's CONFIGURATION.md. Values may be strings, numbers or booleans.\n"
          "\n"
          "| Object | Applies to |\n"
          "|--------|------------|\n"
          "| `kafka` | every client (consumer and producer) |\n"
          "| `kafka_consumer` | the consumer only; overrides `kafka` for the same property |\n"
          "| `kafka_producer` | the producer (alerts, dead letters) only; overrides `kafka` |\n"
          "\n"
          "```json\n"
          "{\n"
          "  \"kafka\": {\"bootstrap.servers\": \"broker1:9092,broker2:9092\", \"security.protocol\": \"sasl_ssl\"},\n"
          "  \"kafka_consumer\": {\"group.id\": \"fundguard\"},\n"
          "  \"kafka_producer\": {\"linger.ms\": 20}\n"
          "}\n"
          "```\n"
          "\n"
          "On the command line: `--set kafka.bootstrap.servers=host:9092`,\n"
          "`--set kafka_consumer.group.id=fg-test`. librdkafka itself rejects unknown properties\n"
          "when the client is created. Properties whose name contains `password`, `secret` or\n"
          "`sasl.oauthbearer.config`, or ends with `.key` or `key.pem`, are masked in dumps.\n"
          "\n"
          "## Secrets from the environment\n"
          "\n"
          "A string value that is exactly `${NAME}` is replaced by the environment variable `NAME`\n"
          "when the file is loaded, for declared string keys and Kafka properties alike, so\n"
          "credentials need not be written in the file:\n"
          "\n"
          "```json\n"
          "{\"kafka\": {\"sasl.username\": \"fundguard\", \"sasl.password\": \"${FG_KAFKA_PASSWORD}\"}}\n"
          "```\n"
          "\n"
          "An unset variable is an error naming it (an empty one is an empty value). Only the\n"
          "whole value is replaced: `\"prefix-${NAME}\"` is taken literally.\n"
          "\n"
          "A string value that is exactly `${file:PATH}` is replaced by the contents of the file\n"
          "PATH without trailing newlines (a Kubernetes or Docker secret mounted as a file), e.g.\n"
          "`\"sasl.password\": \"${file:/run/secrets/kafka-password}\"`. An unreadable file is an\n"
          "error naming the key and the path; the contents are never printed.\n",
          out);
}
