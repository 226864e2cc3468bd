/*
 * test_kb.c - the knowledge base (reference/kb.c): the sample files load and
 * answer lookups; bad files are rejected with a message naming the file, the
 * entry and the problem; clones are independent; blacklist entries come and go;
 * ages are whole calendar years at the event date.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "reference/kb.h"
#include "schemas/symbols.h"
#include "support/harness.h"

/* The repository root: $FG_SOURCE_DIR (CTest), else derived from this file's path. */
static const char *src_dir(void) {
    static char dir[1024];
    const char *env = getenv("FG_SOURCE_DIR");
    if (env && *env) return env;
    snprintf(dir, sizeof(dir), "%s", __FILE__);
    char *t = strstr(dir, "/tests/test_kb.c");
    cr_assert(t, "cannot locate the source dir from %s: set FG_SOURCE_DIR", __FILE__);
    *t = '\0';
    return dir;
}

static fg_kb_t *load_sample(void) {
    char cat[1200], bl[1200], err[512] = "";
    snprintf(cat, sizeof(cat), "%s/reference/catalogue.json", src_dir());
    snprintf(bl, sizeof(bl), "%s/reference/blacklists.json", src_dir());
    fg_kb_t *kb = fg_kb_load(cat, bl, err, sizeof(err));
    cr_assert(kb, "sample reference data must load: %s", err);
    return kb;
}

/* writes text to a fresh temporary file; returns its path (static slot) */
static const char *write_tmp(const char *text) {
    static char path[8][256];
    static int n;
    char *p = path[n++ % 8];
    snprintf(p, sizeof(path[0]), "/tmp/%s.json", fg_test_unique("fg-kb"));
    FILE *f = fopen(p, "w");
    cr_assert(f, "cannot write %s", p);
    fputs(text, f);
    fclose(f);
    return p;
}

static int64_t at(int y, unsigned m, unsigned d) { return fg_days_from_civil(y, m, d) * FG_MS_PER_DAY; }
static int32_t born(int y, unsigned m, unsigned d) { return (int32_t)fg_days_from_civil(y, m, d); }

/* ---- the sample files ---- */

Test(kb, sample_catalogue_answers_lookups) {
    fg_kb_t *kb = load_sample();
    cr_assert_geq(fg_kb_item_count(kb), 60, "a realistic sample has ~60 items, got %zu", fg_kb_item_count(kb));
    cr_assert_str_eq(fg_kb_version(kb), "2026.01-sample");

    const fg_kb_item_t *it = fg_kb_item(kb, "XC10AAA087A001010101445");
    cr_assert(it, "atorvastatin is in the catalogue");
    cr_assert_str_eq(it->name, "阿托伐他汀钙片");
    cr_assert_eq(it->kind, FG_ITEM_DRUG);
    cr_assert(it->prescription_only);
    cr_assert_float_eq(it->max_daily_qty, 2.0, 1e-9);
    cr_assert_eq(it->max_days_supply, 30);
    cr_assert_eq(it->gender_only, FG_GENDER_UNKNOWN);
    cr_assert_eq(it->min_age, FG_KB_NONE);
    cr_assert_eq(it->max_age, FG_KB_NONE);
    cr_assert_eq(it->daily_limit, FG_KB_NONE);
    cr_assert_eq(it->stay_limit, FG_KB_NONE);
    cr_assert_not(it->high_value);
    cr_assert_eq(it->price_ceiling_fen, 300);

    it = fg_kb_item(kb, "XA11GAW059A001010100001");
    cr_assert(it && !it->prescription_only, "vitamin C is OTC");
    it = fg_kb_item(kb, "XA10ABG053B002010180201");
    cr_assert(it && it->prescription_only, "insulin glargine is prescription-only");
    it = fg_kb_item(kb, "250403027");
    cr_assert(it && it->gender_only == FG_GENDER_MALE && it->kind == FG_ITEM_EXAM, "PSA is male-only");
    it = fg_kb_item(kb, "XG04CAT015N001010104567");
    cr_assert(it && it->gender_only == FG_GENDER_MALE, "tamsulosin is male-only");
    it = fg_kb_item(kb, "331303001");
    cr_assert(it && it->gender_only == FG_GENDER_FEMALE && it->stay_limit == 1, "caesarean: female, once a stay");
    it = fg_kb_item(kb, "XJ01CRA088P001010103377");
    cr_assert(it && it->max_age == 14 && it->min_age == FG_KB_NONE, "paediatric amoxicillin-clavulanate: <= 14");
    it = fg_kb_item(kb, "XN06DAD048A001010103451");
    cr_assert(it && it->min_age == 60 && it->max_age == FG_KB_NONE, "donepezil: >= 60");
    it = fg_kb_item(kb, "110900001");
    cr_assert(it && it->kind == FG_ITEM_BED && it->daily_limit == 1, "bed fee: once a day");
    it = fg_kb_item(kb, "120100003");
    cr_assert(it && it->daily_limit == 1, "nursing grade 1: once a day");
    it = fg_kb_item(kb, "C0202031230000001234");
    cr_assert(it && it->high_value && it->kind == FG_ITEM_CONSUMABLE, "cardiac stent is high-value");
    it = fg_kb_item(kb, "230900006");
    cr_assert(it && it->high_value && it->kind == FG_ITEM_EXAM, "PET-CT is large equipment");

    cr_assert_null(fg_kb_item(kb, "NO-SUCH-CODE"));
    cr_assert_null(fg_kb_item(kb, ""));
    cr_assert_null(fg_kb_item(kb, NULL));
    fg_kb_destroy(kb);
}

Test(kb, sample_catalogue_is_consistent) {
    /* every sample item, looked up by its code, is itself; restrictions are coherent */
    char cat[1200], err[256];
    snprintf(cat, sizeof(cat), "%s/reference/catalogue.json", src_dir());
    fg_kb_t *kb = fg_kb_load(cat, NULL, err, sizeof(err));
    cr_assert(kb, "%s", err);
    size_t hv = 0, rx = 0, otc = 0, male = 0, female = 0, aged = 0, daily = 0;
    FILE *f = fopen(cat, "r");
    cr_assert(f);
    char line[4096];
    while (fgets(line, sizeof(line), f)) {
        char *p = strstr(line, "\"code\": \"");
        if (!p) continue;
        p += 9;
        char code[64];
        size_t n = strcspn(p, "\"");
        cr_assert_lt(n, sizeof(code));
        memcpy(code, p, n);
        code[n] = '\0';
        const fg_kb_item_t *it = fg_kb_item(kb, code);
        cr_assert(it, "%s from the file is found", code);
        cr_assert_str_eq(it->code, code);
        cr_assert(it->name && *it->name, "%s has a name", code);
        if (it->min_age != FG_KB_NONE && it->max_age != FG_KB_NONE) cr_assert_leq(it->min_age, it->max_age);
        hv += it->high_value;
        rx += it->prescription_only;
        otc += it->kind == FG_ITEM_DRUG && !it->prescription_only;
        male += it->gender_only == FG_GENDER_MALE;
        female += it->gender_only == FG_GENDER_FEMALE;
        aged += it->min_age != FG_KB_NONE || it->max_age != FG_KB_NONE;
        daily += it->daily_limit == 1;
    }
    fclose(f);
    cr_assert(hv >= 6 && rx >= 10 && otc >= 3 && male >= 2 && female >= 3 && aged >= 5 && daily >= 5,
              "sample covers every kind of restriction: hv %zu rx %zu otc %zu M %zu F %zu age %zu daily %zu", hv, rx,
              otc, male, female, aged, daily);
    fg_kb_destroy(kb);
}

Test(kb, sample_blacklists_answer_lookups) {
    fg_kb_t *kb = load_sample();
    cr_assert(fg_kb_listed(kb, FG_KB_INSTITUTION, "H14010500871"));
    cr_assert(fg_kb_listed(kb, FG_KB_INSTITUTION, "P14010600045"));
    cr_assert(fg_kb_listed(kb, FG_KB_DOCTOR, "D140105002417"));
    cr_assert(fg_kb_listed(kb, FG_KB_PERSON, "140100000012345678"));
    cr_assert_not(fg_kb_listed(kb, FG_KB_INSTITUTION, "H14010500872"), "a neighbouring id is not listed");
    cr_assert_not(fg_kb_listed(kb, FG_KB_DOCTOR, "H14010500871"), "lists are separate");
    cr_assert_not(fg_kb_listed(kb, FG_KB_PERSON, "D140105002417"));
    cr_assert_not(fg_kb_listed(kb, FG_KB_PERSON, NULL));
    cr_assert_not(fg_kb_listed(kb, (fg_kb_list_t)7, "H14010500871"), "an unknown list holds nothing");
    fg_kb_destroy(kb);
}

Test(kb, no_files_give_an_empty_kb) {
    char err[256];
    fg_kb_t *kb = fg_kb_load(NULL, "", err, sizeof(err));
    cr_assert(kb);
    cr_assert_eq(fg_kb_item_count(kb), 0);
    cr_assert_str_eq(fg_kb_version(kb), "none");
    cr_assert_null(fg_kb_item(kb, "110900001"));
    cr_assert_not(fg_kb_listed(kb, FG_KB_PERSON, "x"));
    fg_kb_destroy(kb);
    kb = fg_kb_empty();
    cr_assert_eq(fg_kb_item_count(kb), 0);
    fg_kb_destroy(kb);
    fg_kb_destroy(NULL);
}

Test(kb, blacklist_entries_may_be_objects_with_informational_fields) {
    const char *bl = write_tmp("{\"version\": \"x\", \"doctors\": [{\"id\": \"D1\", \"reason\": \"欺诈骗保\"}, \"D2\"]}");
    char err[512];
    fg_kb_t *kb = fg_kb_load(NULL, bl, err, sizeof(err));
    cr_assert(kb, "%s", err);
    cr_assert(fg_kb_listed(kb, FG_KB_DOCTOR, "D1"));
    cr_assert(fg_kb_listed(kb, FG_KB_DOCTOR, "D2"));
    cr_assert_not(fg_kb_listed(kb, FG_KB_INSTITUTION, "D1"));
    fg_kb_destroy(kb);
    remove(bl);
}

/* ---- bad files: each rejected with a precise message ---- */

typedef struct {
    char name[80];
    int which; /* 0 catalogue, 1 blacklists */
    char text[400];
    char want[120]; /* substring of the error, after the file path */
} bad_case_t;

#define ITEM0 "{\"code\": \"A1\", \"kind\": \"DRUG\""
static bad_case_t g_bad[] = {
    {"unknown item field", 0, "{\"version\": \"v\", \"items\": [" ITEM0 ", \"maxage\": 3}]}",
     "items[0]: unknown field \"maxage\""},
    {"age given as a string", 0, "{\"version\": \"v\", \"items\": [" ITEM0 ", \"max_age\": \"14\"}]}",
     "items[0].max_age: expected integer"},
    {"age given as a fraction", 0, "{\"version\": \"v\", \"items\": [" ITEM0 ", \"min_age\": 1.5}]}",
     "items[0].min_age: expected integer"},
    {"negative age", 0, "{\"version\": \"v\", \"items\": [" ITEM0 ", \"min_age\": -1}]}",
     "items[0].min_age: out of range (-1)"},
    {"min_age above max_age", 0, "{\"version\": \"v\", \"items\": [" ITEM0 ", \"min_age\": 60, \"max_age\": 14}]}",
     "items[0] (A1): min_age 60 is above max_age 14"},
    {"flag given as a string", 0, "{\"version\": \"v\", \"items\": [" ITEM0 ", \"prescription_only\": \"yes\"}]}",
     "items[0].prescription_only: expected true or false"},
    {"duplicate code", 0, "{\"version\": \"v\", \"items\": [" ITEM0 "}, {\"code\": \"B2\", \"kind\": \"EXAM\"}, " ITEM0
     "}]}", "items[2]: code A1 appears twice"},
    {"bad gender", 0, "{\"version\": \"v\", \"items\": [" ITEM0 ", \"gender_only\": \"male\"}]}",
     "items[0] (A1): gender_only must be \"M\", \"F\" or null"},
    {"lower-case gender", 0, "{\"version\": \"v\", \"items\": [" ITEM0 ", \"gender_only\": \"f\"}]}",
     "gender_only must be \"M\", \"F\" or null"},
    {"bad kind", 0, "{\"version\": \"v\", \"items\": [{\"code\": \"A1\", \"kind\": \"PILL\"}]}",
     "items[0] (A1): \"kind\" must be DRUG, SERVICE, CONSUMABLE, BED or EXAM"},
    {"missing code", 0, "{\"version\": \"v\", \"items\": [{\"kind\": \"DRUG\"}]}", "items[0]: missing \"code\""},
    {"numeric code", 0, "{\"version\": \"v\", \"items\": [{\"code\": 17, \"kind\": \"DRUG\"}]}",
     "items[0].code: expected a non-empty string"},
    {"numeric name", 0, "{\"version\": \"v\", \"items\": [" ITEM0 ", \"name\": 5}]}",
     "items[0] (A1).name: expected a string"},
    {"zero max_daily_qty", 0, "{\"version\": \"v\", \"items\": [" ITEM0 ", \"max_daily_qty\": 0}]}",
     "items[0] (A1): max_daily_qty must be a positive number"},
    {"negative price ceiling", 0, "{\"version\": \"v\", \"items\": [" ITEM0 ", \"price_ceiling_fen\": -5}]}",
     "price_ceiling_fen must be an integer >= 0"},
    {"item not an object", 0, "{\"version\": \"v\", \"items\": [\"A1\"]}", "items[0]: expected an object"},
    {"missing version", 0, "{\"items\": []}", "needs \"version\" (string) and \"items\" (array)"},
    {"unknown top-level field", 0, "{\"version\": \"v\", \"items\": [], \"itemz\": []}", "unknown field \"itemz\""},
    {"syntax error", 0, "{\"version\": \"v\", \"items\": [}", "line 1 column"},
    {"duplicate JSON key", 0, "{\"version\": \"v\", \"version\": \"w\", \"items\": []}", "duplicate"},
    {"top level not an object", 0, "[1, 2]", "expected a JSON object at the top"},
    {"unknown list", 1, "{\"version\": \"v\", \"pharmacists\": [\"X\"]}", "\"pharmacists\": expected one of"},
    {"list name off by its last letter", 1, "{\"doctorz\": [\"X\"]}", "\"doctorz\": expected one of"},
    {"singular list name", 1, "{\"doctor\": [\"X\"]}", "\"doctor\": expected one of"},
    {"list not an array", 1, "{\"institutions\": \"H1\"}", "\"institutions\": expected one of"},
    {"numeric id", 1, "{\"persons\": [\"P1\", 5]}", "persons[1]: expected an id string or {\"id\": ...}"},
    {"empty id", 1, "{\"persons\": [{\"id\": \"\"}]}", "persons[0]: expected an id string"},
    {"numeric version", 1, "{\"version\": 3, \"persons\": []}", "\"version\": expected a string"},
};

ParameterizedTestParameters(kb, bad_files) {
    return cr_make_param_array(bad_case_t, g_bad, sizeof(g_bad) / sizeof(g_bad[0]));
}

ParameterizedTest(bad_case_t *c, kb, bad_files) {
    const char *path = write_tmp(c->text);
    char err[512] = "";
    fg_kb_t *kb = c->which ? fg_kb_load(NULL, path, err, sizeof(err)) : fg_kb_load(path, NULL, err, sizeof(err));
    cr_assert_null(kb, "%s: must be rejected", c->name);
    cr_assert(strstr(err, path) == err, "%s: the message starts with the file name: %s", c->name, err);
    cr_assert(strstr(err, c->want), "%s: expected \"%s\" in: %s", c->name, c->want, err);
    remove(path);
}

Test(kb, a_missing_file_is_named) {
    char err[512] = "";
    cr_assert_null(fg_kb_load("/nonexistent/catalogue.json", NULL, err, sizeof(err)));
    cr_assert(strstr(err, "/nonexistent/catalogue.json"), "%s", err);
    /* a good catalogue with a bad blacklist: nothing is returned (never half-applied) */
    char cat[1200];
    snprintf(cat, sizeof(cat), "%s/reference/catalogue.json", src_dir());
    cr_assert_null(fg_kb_load(cat, "/nonexistent/blacklists.json", err, sizeof(err)));
    cr_assert(strstr(err, "/nonexistent/blacklists.json"), "%s", err);
}

/* ---- clones and list changes ---- */

Test(kb, clone_is_independent) {
    fg_kb_t *kb = load_sample();
    fg_kb_t *cl = fg_kb_clone(kb);
    cr_assert_eq(fg_kb_item_count(cl), fg_kb_item_count(kb));
    cr_assert_str_eq(fg_kb_version(cl), fg_kb_version(kb));
    cr_assert(fg_kb_item(cl, "XC10AAA087A001010101445") != fg_kb_item(kb, "XC10AAA087A001010101445"),
              "items are copies");

    cr_assert_eq(fg_kb_list_add(cl, FG_KB_DOCTOR, "D-NEW"), 0);
    cr_assert(fg_kb_listed(cl, FG_KB_DOCTOR, "D-NEW"));
    cr_assert_not(fg_kb_listed(kb, FG_KB_DOCTOR, "D-NEW"), "adding to the clone leaves the original alone");
    cr_assert_eq(fg_kb_list_remove(kb, FG_KB_INSTITUTION, "H14010500871"), 0);
    cr_assert_not(fg_kb_listed(kb, FG_KB_INSTITUTION, "H14010500871"));
    cr_assert(fg_kb_listed(cl, FG_KB_INSTITUTION, "H14010500871"), "removing from the original leaves the clone");

    /* a clone of a clone carries the removal; the clone outlives its source */
    fg_kb_t *cl2 = fg_kb_clone(kb);
    fg_kb_destroy(kb);
    cr_assert_not(fg_kb_listed(cl2, FG_KB_INSTITUTION, "H14010500871"));
    cr_assert(fg_kb_listed(cl2, FG_KB_INSTITUTION, "P14010600045"));
    const fg_kb_item_t *it = fg_kb_item(cl, "110900001");
    cr_assert(it && !strcmp(it->name, "普通病房床位费") && it->daily_limit == 1);
    fg_kb_destroy(cl);
    fg_kb_destroy(cl2);

    fg_kb_t *e = fg_kb_empty(), *ec = fg_kb_clone(e);
    cr_assert_eq(fg_kb_item_count(ec), 0);
    cr_assert_eq(fg_kb_list_add(ec, FG_KB_PERSON, "P1"), 0);
    fg_kb_destroy(e);
    fg_kb_destroy(ec);
}

Test(kb, list_add_and_remove) {
    fg_kb_t *kb = fg_kb_empty();
    cr_assert_eq(fg_kb_list_add(kb, FG_KB_PERSON, "P1"), 0);
    cr_assert_eq(fg_kb_list_add(kb, FG_KB_PERSON, "P1"), -1, "already listed: nothing changed");
    cr_assert(fg_kb_listed(kb, FG_KB_PERSON, "P1"));
    cr_assert_eq(fg_kb_list_remove(kb, FG_KB_PERSON, "P1"), 0);
    cr_assert_not(fg_kb_listed(kb, FG_KB_PERSON, "P1"));
    cr_assert_eq(fg_kb_list_remove(kb, FG_KB_PERSON, "P1"), -1, "removing twice changes nothing");
    cr_assert_eq(fg_kb_list_add(kb, FG_KB_PERSON, "P1"), 0, "a removed entry can come back");
    cr_assert(fg_kb_listed(kb, FG_KB_PERSON, "P1"));
    cr_assert_eq(fg_kb_list_remove(kb, FG_KB_DOCTOR, "P1"), -1, "not on that list");
    cr_assert_eq(fg_kb_list_add(kb, FG_KB_DOCTOR, ""), -1);
    cr_assert_eq(fg_kb_list_add(kb, FG_KB_DOCTOR, NULL), -1);
    cr_assert_eq(fg_kb_list_add(kb, (fg_kb_list_t)FG_KB_LIST_COUNT, "X"), -1);
    cr_assert_eq(fg_kb_list_remove(kb, (fg_kb_list_t)-1, "X"), -1);

    /* many entries (the table grows several times), half removed */
    char id[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(id, sizeof(id), "INST-%d", i);
        cr_assert_eq(fg_kb_list_add(kb, FG_KB_INSTITUTION, id), 0);
    }
    for (int i = 0; i < 1000; i += 2) {
        snprintf(id, sizeof(id), "INST-%d", i);
        cr_assert_eq(fg_kb_list_remove(kb, FG_KB_INSTITUTION, id), 0);
    }
    for (int i = 0; i < 1000; i++) {
        snprintf(id, sizeof(id), "INST-%d", i);
        cr_assert_eq(fg_kb_listed(kb, FG_KB_INSTITUTION, id), i % 2 == 1, "%s", id);
    }
    fg_kb_destroy(kb);
}

Test(kb, list_names_parse) {
    cr_assert_eq(fg_kb_list_parse("institution"), FG_KB_INSTITUTION);
    cr_assert_eq(fg_kb_list_parse("doctor"), FG_KB_DOCTOR);
    cr_assert_eq(fg_kb_list_parse("person"), FG_KB_PERSON);
    cr_assert_eq(fg_kb_list_parse("persons"), -1);
    cr_assert_eq(fg_kb_list_parse("Doctor"), -1);
    cr_assert_eq(fg_kb_list_parse(""), -1);
    cr_assert_eq(fg_kb_list_parse(NULL), -1);
}

/* ---- ages ---- */

typedef struct {
    char name[80];
    int by, bm, bd;       /* birth date; by == 0: unknown */
    int ey, em, ed;       /* event date */
    int64_t ms_into_day;  /* time of day of the event */
    int want;
} age_case_t;

static age_case_t g_ages[] = {
    {"the day before the 14th birthday: 13", 2012, 3, 15, 2026, 3, 14, 0, 13},
    {"the last millisecond before the 14th birthday: 13", 2012, 3, 15, 2026, 3, 14, FG_MS_PER_DAY - 1, 13},
    {"on the 14th birthday: 14", 2012, 3, 15, 2026, 3, 15, 0, 14},
    {"the day after the 14th birthday: 14", 2012, 3, 15, 2026, 3, 16, 0, 14},
    {"the day before the 15th birthday: still 14", 2012, 3, 15, 2027, 3, 14, 0, 14},
    {"birthday later in the year: month decides", 2000, 12, 1, 2026, 11, 30, 0, 25},
    {"born on 29 Feb, 28 Feb of a common year: not yet", 2012, 2, 29, 2026, 2, 28, 0, 13},
    {"born on 29 Feb, 1 Mar of a common year: a year older", 2012, 2, 29, 2026, 3, 1, 0, 14},
    {"born on 29 Feb, 29 Feb of a leap year", 2012, 2, 29, 2028, 2, 29, 0, 16},
    {"newborn on the day of birth: 0", 2026, 1, 3, 2026, 1, 3, 0, 0},
    {"11 months old: 0", 2025, 2, 1, 2026, 1, 3, 0, 0},
    {"born before 1970", 1950, 6, 30, 2026, 6, 29, 0, 75},
    {"born before 1970, on the birthday", 1950, 6, 30, 2026, 6, 30, 0, 76},
    {"event before birth: unknown", 2026, 5, 1, 2026, 4, 30, 0, -1},
    {"birth date unknown", 0, 0, 0, 2026, 4, 30, 0, -1},
};

ParameterizedTestParameters(kb, age_years) {
    return cr_make_param_array(age_case_t, g_ages, sizeof(g_ages) / sizeof(g_ages[0]));
}

ParameterizedTest(age_case_t *c, kb, age_years) {
    int32_t b = c->by ? born(c->by, (unsigned)c->bm, (unsigned)c->bd) : FG_DATE_ABSENT;
    int got = fg_kb_age_years(b, at(c->ey, (unsigned)c->em, (unsigned)c->ed) + c->ms_into_day);
    cr_assert_eq(got, c->want, "%s: expected %d, got %d", c->name, c->want, got);
}
