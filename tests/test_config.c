/*
 * test_config.c - the config file contract: declared tables, validation
 * messages, ${ENV} secrets, the kafka passthrough, --set, dump masking and
 * the generated reference. Uses small test-local tables, not the real ones,
 * so a component's table change never breaks these tests.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/config.h"

static const fg_conf_decl_t core_decls[] = {
    {"redis.host", FG_CONF_STRING, "127.0.0.1", 0, 0, 0, "Redis host."},
    {"redis.port", FG_CONF_INT, "6379", 1, 65535, 0, "Redis port."},
    {"redis.password", FG_CONF_STRING, NULL, 0, 0, FG_CONF_SECRET, "Redis AUTH password."},
    {"log.json", FG_CONF_BOOL, "false", 0, 0, 0, "JSON log lines."},
    {"engine.sample_ratio", FG_CONF_DOUBLE, "0.5", 0, 1, 0, "Share of events | sampled."},
    {"schemas.ids", FG_CONF_MAP, NULL, 0, 0, 0, "Schema registry ids by stream."},
};

static const fg_conf_decl_t burst_decls[] = {
    {"enabled", FG_CONF_BOOL, "true", 0, 0, 0, "Run this detector."},
    {"readmit_days", FG_CONF_INT, "30", 1, 365, 0, "Readmission window in days."},
    {"min_amount", FG_CONF_DOUBLE, "100", 0, 0, 0, "Smallest claim considered (unbounded)."},
};

#define BURST "detectors.readmission_burst."

static fg_config_t *new_cf(void) {
    fg_config_t *cf = fg_config_create();
    fg_config_declare(cf, "", core_decls, sizeof(core_decls) / sizeof(core_decls[0]), "Core");
    fg_config_declare(cf, BURST, burst_decls, sizeof(burst_decls) / sizeof(burst_decls[0]),
                      "Detector: readmission_burst");
    return cf;
}

/* ---- defaults and loading ------------------------------------------------ */

Test(config, defaults_apply_at_declare_time) {
    fg_config_t *cf = new_cf();
    cr_expect_str_eq(fg_config_str(cf, "redis.host"), "127.0.0.1");
    cr_expect_eq(fg_config_int(cf, "redis.port"), 6379);
    cr_expect_null(fg_config_str(cf, "redis.password"), "a key without default is unset");
    cr_expect_eq(fg_config_bool(cf, "log.json"), false);
    cr_expect_float_eq(fg_config_double(cf, "engine.sample_ratio"), 0.5, 1e-12);
    cr_expect_eq(fg_config_bool(cf, BURST "enabled"), true);
    cr_expect_eq(fg_config_int(cf, BURST "readmit_days"), 30);
    cr_expect_float_eq(fg_config_double(cf, BURST "min_amount"), 100.0, 1e-12);
    fg_config_destroy(cf);
}

static void collect(const char *k, const char *v, void *ud) {
    char *buf = ud;
    size_t len = strlen(buf);
    snprintf(buf + len, 1024 - len, "%s=%s;", k, v);
}

Test(config, nested_file_values_override_defaults) {
    char path[] = "/tmp/fg-test-config-XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    const char *json = "{\n"
                       "  \"redis\": {\"host\": \"10.0.0.5\", \"port\": 6380},\n"
                       "  \"log\": {\"json\": true},\n"
                       "  \"engine\": {\"sample_ratio\": 1},\n"
                       "  \"schemas\": {\"ids\": {\"claims\": \"7\", \"alert\": 12}},\n"
                       "  \"detectors\": {\"readmission_burst\": {\"readmit_days\": 15, \"min_amount\": 2.5}}\n"
                       "}\n";
    cr_assert_eq(write(fd, json, strlen(json)), (ssize_t)strlen(json));
    close(fd);

    fg_config_t *cf = new_cf();
    char err[512] = "";
    int rc = fg_config_load_file(cf, path, err, sizeof(err));
    unlink(path);
    cr_assert_eq(rc, 0, "load failed: %s", err);
    cr_expect_str_eq(fg_config_str(cf, "redis.host"), "10.0.0.5");
    cr_expect_eq(fg_config_int(cf, "redis.port"), 6380);
    cr_expect_eq(fg_config_bool(cf, "log.json"), true);
    cr_expect_float_eq(fg_config_double(cf, "engine.sample_ratio"), 1.0, 1e-12,
                       "an integer where a double is expected is accepted");
    cr_expect_eq(fg_config_int(cf, BURST "readmit_days"), 15);
    cr_expect_float_eq(fg_config_double(cf, BURST "min_amount"), 2.5, 1e-12);
    cr_expect_eq(fg_config_bool(cf, BURST "enabled"), true, "keys absent from the file keep their default");
    char seen[1024] = "";
    fg_config_map_foreach(cf, "schemas.ids", collect, seen);
    cr_expect_str_eq(seen, "claims=7;alert=12;", "map values in file order, numbers as text");
    fg_config_destroy(cf);
}

Test(config, missing_file_is_reported_with_its_path) {
    fg_config_t *cf = new_cf();
    char err[512] = "";
    cr_expect_eq(fg_config_load_file(cf, "/nonexistent/fg.json", err, sizeof(err)), -1);
    cr_expect(strstr(err, "/nonexistent/fg.json") != NULL, "%s", err);
    fg_config_destroy(cf);
}

Test(config, unknown_key_in_file_names_file_key_and_suggestion) {
    char path[] = "/tmp/fg-test-config-XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    const char *json = "{\"redis\": {\"hots\": \"x\"}}";
    cr_assert_eq(write(fd, json, strlen(json)), (ssize_t)strlen(json));
    close(fd);
    fg_config_t *cf = new_cf();
    char err[512] = "", want[600];
    cr_expect_eq(fg_config_load_file(cf, path, err, sizeof(err)), -1);
    snprintf(want, sizeof(want), "%s: unknown key \"redis.hots\" (did you mean \"redis.host\"?)", path);
    cr_expect_str_eq(err, want);
    unlink(path);
    fg_config_destroy(cf);
}

/* ---- rejected configurations (table) ---------------------------------------- */

typedef struct bad_case {
    const char *scenario;
    const char *json;
    const char *want;   /* substring of the error */
    const char *absent; /* must not appear in the error (NULL: no check) */
} bad_case_t;

static const bad_case_t bad_cases[] = {
    {"unknown key suggests the nearest declared key", "{\"redis\": {\"hots\": \"x\"}}",
     "unknown key \"redis.hots\" (did you mean \"redis.host\"?)", NULL},
    {"unknown nested detector key suggests the full key",
     "{\"detectors\": {\"readmission_burst\": {\"readmit_dys\": 3}}}", "(did you mean \"" BURST "readmit_days\"?)",
     NULL},
    {"unknown key far from every key gets no suggestion", "{\"zzzzqqq\": 1}", "unknown key \"zzzzqqq\"",
     "did you mean"},
    {"misspelt kafka root suggests the root", "{\"kafak\": {\"acks\": \"all\"}}",
     "unknown key \"kafak.acks\" (did you mean \"kafka\"?)", NULL},
    {"empty object at an unknown path is an unknown key", "{\"metrics\": {}}", "unknown key \"metrics\"", NULL},
    {"string where an integer is expected", "{\"redis\": {\"port\": \"15\"}}",
     "redis.port: expected integer in [1, 65535], got \"15\"", NULL},
    {"real where an integer is expected", "{\"redis\": {\"port\": 15.5}}",
     "redis.port: expected integer in [1, 65535], got 15.5", NULL},
    {"object where a scalar is expected", "{\"redis\": {\"port\": {}}}", "redis.port: expected integer", NULL},
    {"integer below its bounds", "{\"detectors\": {\"readmission_burst\": {\"readmit_days\": 0}}}",
     BURST "readmit_days: expected integer in [1, 365], got 0", NULL},
    {"integer above its bounds", "{\"redis\": {\"port\": 70000}}",
     "redis.port: expected integer in [1, 65535], got 70000", NULL},
    {"double above its bounds", "{\"engine\": {\"sample_ratio\": 1.5}}",
     "engine.sample_ratio: expected number in [0, 1], got 1.5", NULL},
    {"number where a bool is expected", "{\"log\": {\"json\": 1}}", "log.json: expected boolean (true or false), got 1",
     NULL},
    {"string where a bool is expected", "{\"log\": {\"json\": \"true\"}}", "log.json: expected boolean", NULL},
    {"null for a number is rejected", "{\"redis\": {\"port\": null}}", "redis.port: expected integer", NULL},
    {"secret of the wrong type is not echoed", "{\"redis\": {\"password\": 271828}}",
     "redis.password: expected string, got a number", "271828"},
    {"map value must be a string or number", "{\"schemas\": {\"ids\": {\"claims\": true}}}",
     "schemas.ids.claims: expected a string or number, got true", NULL},
    {"duplicate key in an object", "{\"redis\": {\"host\": \"a\", \"host\": \"b\"}}", "duplicate object key", NULL},
    {"JSON syntax error gives line and column", "{\n  \"redis\": {\n    \"host\": \n  }\n}", "line 4, column", NULL},
    {"top level must be an object", "[1, 2]", "top level", NULL},
    {"kafka property must be a scalar", "{\"kafka\": {\"bootstrap.servers\": [\"a\"]}}",
     "kafka.bootstrap.servers: expected a string, number or boolean", NULL},
    {"kafka subtree must be an object", "{\"kafka_producer\": \"acks=all\"}",
     "kafka_producer: expected an object of librdkafka properties", NULL},
};

/*
 * Criterion runs each case in a fresh worker process, where the pointers in
 * the case structs would not be valid: the parameter is the case's index.
 */
#define NCASES(t) (sizeof(t) / sizeof((t)[0]))
static size_t bad_idx[NCASES(bad_cases)];

ParameterizedTestParameters(config, bad_config_is_rejected) {
    for (size_t i = 0; i < NCASES(bad_cases); i++)
        bad_idx[i] = i;
    return cr_make_param_array(size_t, bad_idx, NCASES(bad_cases));
}

ParameterizedTest(size_t *idx, config, bad_config_is_rejected) {
    const bad_case_t *c = &bad_cases[*idx];
    fg_config_t *cf = new_cf();
    char err[512] = "";
    int rc = fg_config_load_string(cf, c->json, err, sizeof(err));
    cr_expect_eq(rc, -1, "[%s] should be rejected", c->scenario);
    cr_expect(strstr(err, c->want) != NULL, "[%s] error \"%s\" lacks \"%s\"", c->scenario, err, c->want);
    if (c->absent)
        cr_expect(strstr(err, c->absent) == NULL, "[%s] error \"%s\" has \"%s\"", c->scenario, err, c->absent);
    fg_config_destroy(cf);
}

Test(config, rejected_load_leaves_previous_values) {
    fg_config_t *cf = new_cf();
    char err[512] = "";
    cr_expect_eq(fg_config_load_string(cf, "{\"redis\": {\"host\": \"new\", \"port\": 0}, \"kafka\": {\"acks\": 1}}",
                                       err, sizeof(err)),
                 -1);
    cr_expect_str_eq(fg_config_str(cf, "redis.host"), "127.0.0.1", "the valid half of a bad file is not applied");
    char seen[1024] = "";
    fg_config_kafka_foreach(cf, "producer", collect, seen);
    cr_expect_str_eq(seen, "");
    fg_config_destroy(cf);
}

Test(config, null_unsets_a_string_with_default) {
    fg_config_t *cf = new_cf();
    char err[512] = "";
    cr_assert_eq(fg_config_load_string(cf, "{\"redis\": {\"host\": null}}", err, sizeof(err)), 0, "%s", err);
    cr_expect_null(fg_config_str(cf, "redis.host"));
    fg_config_destroy(cf);
}

/* ---- ${ENV} ------------------------------------------------------------- */

Test(config, env_reference_is_expanded_in_strings_and_kafka_values) {
    setenv("FG_TEST_CONF_PW", "hunter2-from-env", 1);
    setenv("FG_TEST_CONF_SERVERS", "k1:9092", 1);
    fg_config_t *cf = new_cf();
    char err[512] = "";
    int rc = fg_config_load_string(cf,
                                   "{\"redis\": {\"password\": \"${FG_TEST_CONF_PW}\", \"host\": \"pre-${X}\"},"
                                   " \"kafka\": {\"bootstrap.servers\": \"${FG_TEST_CONF_SERVERS}\"}}",
                                   err, sizeof(err));
    cr_assert_eq(rc, 0, "%s", err);
    cr_expect_str_eq(fg_config_str(cf, "redis.password"), "hunter2-from-env");
    cr_expect_str_eq(fg_config_str(cf, "redis.host"), "pre-${X}", "only a whole-value reference is expanded");
    char seen[1024] = "";
    fg_config_kafka_foreach(cf, "consumer", collect, seen);
    cr_expect_str_eq(seen, "bootstrap.servers=k1:9092;");
    fg_config_destroy(cf);
}

Test(config, unset_env_reference_is_an_error_naming_the_variable) {
    unsetenv("FG_TEST_CONF_UNSET");
    const char *cases[][2] = {
        {"declared string", "{\"redis\": {\"password\": \"${FG_TEST_CONF_UNSET}\"}}"},
        {"kafka property", "{\"kafka_consumer\": {\"sasl.password\": \"${FG_TEST_CONF_UNSET}\"}}"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        fg_config_t *cf = new_cf();
        char err[512] = "";
        cr_expect_eq(fg_config_load_string(cf, cases[i][1], err, sizeof(err)), -1, "[%s]", cases[i][0]);
        cr_expect(strstr(err, "environment variable FG_TEST_CONF_UNSET is not set") != NULL, "[%s] %s", cases[i][0],
                  err);
        fg_config_destroy(cf);
    }
}

/* ---- kafka passthrough -------------------------------------------------- */

Test(config, kafka_client_properties_override_shared_ones_in_stable_order) {
    fg_config_t *cf = new_cf();
    char err[512] = "";
    int rc =
        fg_config_load_string(cf,
                              "{\"kafka\": {\"bootstrap.servers\": \"a:9092\", \"client.id\": \"fg\", \"linger.ms\": 5,"
                              "             \"socket.keepalive.enable\": true},"
                              " \"kafka_consumer\": {\"client.id\": \"fg-c\", \"group.id\": \"g\","
                              "                      \"enable.auto.commit\": false},"
                              " \"kafka_producer\": {\"linger.ms\": 20.5}}",
                              err, sizeof(err));
    cr_assert_eq(rc, 0, "%s", err);
    char seen[1024] = "";
    fg_config_kafka_foreach(cf, "consumer", collect, seen);
    cr_expect_str_eq(seen, "bootstrap.servers=a:9092;client.id=fg-c;linger.ms=5;socket.keepalive.enable=true;"
                           "group.id=g;enable.auto.commit=false;");
    seen[0] = '\0';
    fg_config_kafka_foreach(cf, "producer", collect, seen);
    cr_expect_str_eq(seen, "bootstrap.servers=a:9092;client.id=fg;linger.ms=20.5;socket.keepalive.enable=true;");

    /* --set after the file: replaces in place, adds at the end. */
    cr_assert_eq(fg_config_set(cf, "kafka_consumer.group.id", "g2", err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(fg_config_set(cf, "kafka.bootstrap.servers", "b:9092", err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(fg_config_set(cf, "kafka.acks", "all", err, sizeof(err)), 0, "%s", err);
    seen[0] = '\0';
    fg_config_kafka_foreach(cf, "consumer", collect, seen);
    cr_expect_str_eq(seen, "bootstrap.servers=b:9092;client.id=fg-c;linger.ms=5;socket.keepalive.enable=true;acks=all;"
                           "group.id=g2;enable.auto.commit=false;");
    fg_config_destroy(cf);
}

/* ---- --set -------------------------------------------------------------- */

typedef struct set_case {
    const char *scenario;
    const char *key, *value;
    int rc;
    const char *want; /* error substring when rc != 0 */
} set_case_t;

static const set_case_t set_cases[] = {
    {"bool true", "log.json", "true", 0, NULL},
    {"bool 1", "log.json", "1", 0, NULL},
    {"bool 0", "log.json", "0", 0, NULL},
    {"bool yes is not a bool", "log.json", "yes", -1, "log.json: expected boolean (true or false), got \"yes\""},
    {"int in bounds", "redis.port", "6380", 0, NULL},
    {"int with trailing junk", "redis.port", "63a", -1, "redis.port: expected integer in [1, 65535], got \"63a\""},
    {"int empty", "redis.port", "", -1, "redis.port: expected integer"},
    {"int leading blank", "redis.port", " 80", -1, "redis.port: expected integer"},
    {"int overflow", BURST "readmit_days", "99999999999999999999", -1, "expected integer in [1, 365]"},
    {"int out of bounds", BURST "readmit_days", "0", -1, BURST "readmit_days: expected integer in [1, 365], got \"0\""},
    {"double", "engine.sample_ratio", "0.25", 0, NULL},
    {"double not a number", "engine.sample_ratio", "abc", -1, "engine.sample_ratio: expected number in [0, 1]"},
    {"double nan", BURST "min_amount", "nan", -1, "expected number"},
    {"double out of bounds", "engine.sample_ratio", "2", -1, "expected number in [0, 1], got \"2\""},
    {"string verbatim", "redis.host", "redis.internal", 0, NULL},
    {"bad non-secret value is echoed", "redis.port", "s3cr3t", -1, "got \"s3cr3t\""},
    {"secret string", "redis.password", "pw", 0, NULL},
    {"unknown key suggests", "redis.prot", "1", -1, "unknown key \"redis.prot\" (did you mean \"redis.port\"?)"},
    {"kafka root alone", "kafka", "x", -1, "kafka: expected kafka.<librdkafka property>"},
    {"kafka empty property", "kafka_consumer.", "x", -1, "expected kafka_consumer.<librdkafka property>"},
    {"kafka property", "kafka_producer.compression.codec", "lz4", 0, NULL},
    {"map entry", "schemas.ids.claims", "7", 0, NULL},
    {"whole map as JSON", "schemas.ids", "{\"claims\": \"8\"}", 0, NULL},
    {"whole map not JSON", "schemas.ids", "claims=8", -1, "schemas.ids: expected object of string values"},
};

static size_t set_idx[NCASES(set_cases)];

ParameterizedTestParameters(config, set_parses_by_declared_type) {
    for (size_t i = 0; i < NCASES(set_cases); i++)
        set_idx[i] = i;
    return cr_make_param_array(size_t, set_idx, NCASES(set_cases));
}

ParameterizedTest(size_t *idx, config, set_parses_by_declared_type) {
    const set_case_t *c = &set_cases[*idx];
    fg_config_t *cf = new_cf();
    char err[512] = "";
    int rc = fg_config_set(cf, c->key, c->value, err, sizeof(err));
    cr_expect_eq(rc, c->rc, "[%s] rc %d (%s)", c->scenario, rc, err);
    if (c->want)
        cr_expect(strstr(err, c->want) != NULL, "[%s] error \"%s\" lacks \"%s\"", c->scenario, err, c->want);
    fg_config_destroy(cf);
}

Test(config, set_values_are_read_back_typed) {
    fg_config_t *cf = new_cf();
    char err[512] = "";
    cr_assert_eq(fg_config_set(cf, "log.json", "TRUE", err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(fg_config_set(cf, "redis.port", "6380", err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(fg_config_set(cf, "engine.sample_ratio", "0.25", err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(fg_config_set(cf, "redis.host", "redis.internal", err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(fg_config_set(cf, "schemas.ids", "{\"claims\": 1, \"alert\": \"2\"}", err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(fg_config_set(cf, "schemas.ids.claims", "7", err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(fg_config_set(cf, "schemas.ids.inpatient", "9", err, sizeof(err)), 0, "%s", err);
    cr_expect_eq(fg_config_bool(cf, "log.json"), true);
    cr_expect_eq(fg_config_int(cf, "redis.port"), 6380);
    cr_expect_float_eq(fg_config_double(cf, "engine.sample_ratio"), 0.25, 1e-12);
    cr_expect_str_eq(fg_config_str(cf, "redis.host"), "redis.internal");
    char seen[1024] = "";
    fg_config_map_foreach(cf, "schemas.ids", collect, seen);
    cr_expect_str_eq(seen, "claims=7;alert=2;inpatient=9;", "a map entry set keeps the other entries");
    cr_expect_eq(fg_config_set(cf, "redis.port", "0", err, sizeof(err)), -1);
    cr_expect_eq(fg_config_int(cf, "redis.port"), 6380, "a rejected --set keeps the previous value");
    fg_config_destroy(cf);
}

/* ---- getters misuse is a programming error ------------------------------ */

Test(config, getter_of_undeclared_key_aborts, .signal = SIGABRT) {
    fg_config_t *cf = new_cf();
    fg_config_int(cf, "redis.prot");
}

Test(config, getter_of_wrong_type_aborts, .signal = SIGABRT) {
    fg_config_t *cf = new_cf();
    fg_config_str(cf, "redis.port");
}

Test(config, declaring_a_key_twice_aborts, .signal = SIGABRT) {
    fg_config_t *cf = new_cf();
    fg_config_declare(cf, "", core_decls, 1, "Again");
}

/* ---- dump and reference ------------------------------------------------- */

static char *capture_dump(const fg_config_t *cf, void (*fn)(const fg_config_t *, FILE *)) {
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    cr_assert_not_null(out);
    fn(cf, out);
    fclose(out);
    return buf;
}

Test(config, dump_masks_secrets_and_nests_keys) {
    fg_config_t *cf = new_cf();
    char err[512] = "";
    int rc = fg_config_load_string(
        cf,
        "{\"redis\": {\"password\": \"redis-pw-SENTINEL\"},"
        " \"kafka\": {\"bootstrap.servers\": \"a:9092\", \"sasl.password\": \"kafka-pw-SENTINEL\","
        "             \"ssl.key.pem\": \"PEM-SENTINEL\", \"ssl.key.password\": \"keypw-SENTINEL\","
        "             \"sasl.oauthbearer.config\": \"principal=SENTINEL\","
        "             \"sasl.oauthbearer.client.secret\": \"oauth-SENTINEL\"},"
        " \"kafka_producer\": {\"ssl.key\": \"sslkey-SENTINEL\", \"acks\": \"all\"}}",
        err, sizeof(err));
    cr_assert_eq(rc, 0, "%s", err);
    char *text = capture_dump(cf, fg_config_dump);
    cr_expect(strstr(text, "SENTINEL") == NULL, "a secret leaked into the dump:\n%s", text);

    json_error_t jerr;
    json_t *root = json_loads(text, 0, &jerr);
    cr_assert_not_null(root, "dump is not JSON: %s\n%s", jerr.text, text);
    cr_expect_str_eq(json_string_value(json_object_get(json_object_get(root, "redis"), "password")), "***");
    cr_expect_str_eq(json_string_value(json_object_get(json_object_get(root, "redis"), "host")), "127.0.0.1");
    json_t *burst = json_object_get(json_object_get(root, "detectors"), "readmission_burst");
    cr_expect_eq(json_integer_value(json_object_get(burst, "readmit_days")), 30);
    json_t *kafka = json_object_get(root, "kafka");
    cr_expect_str_eq(json_string_value(json_object_get(kafka, "bootstrap.servers")), "a:9092");
    cr_expect_str_eq(json_string_value(json_object_get(kafka, "sasl.password")), "***");
    cr_expect_str_eq(json_string_value(json_object_get(json_object_get(root, "kafka_producer"), "acks")), "all");
    cr_expect(json_is_null(json_object_get(json_object_get(root, "schemas"), "ids")), "unset map dumps as null");
    json_decref(root);
    free(text);
    fg_config_destroy(cf);
}

Test(config, unset_secret_dumps_as_null) {
    fg_config_t *cf = new_cf();
    char *text = capture_dump(cf, fg_config_dump);
    json_t *root = json_loads(text, 0, NULL);
    cr_assert_not_null(root);
    cr_expect(json_is_null(json_object_get(json_object_get(root, "redis"), "password")));
    json_decref(root);
    free(text);
    fg_config_destroy(cf);
}

Test(config, doc_markdown_lists_every_declared_key) {
    fg_config_t *cf = new_cf();
    char *text = capture_dump(cf, fg_config_doc_markdown);
    char want[256];
    for (size_t i = 0; i < sizeof(core_decls) / sizeof(core_decls[0]); i++) {
        snprintf(want, sizeof(want), "| `%s` |", core_decls[i].key);
        cr_expect(strstr(text, want) != NULL, "doc lacks %s", want);
    }
    for (size_t i = 0; i < sizeof(burst_decls) / sizeof(burst_decls[0]); i++) {
        snprintf(want, sizeof(want), "| `" BURST "%s` |", burst_decls[i].key);
        cr_expect(strstr(text, want) != NULL, "doc lacks %s", want);
    }
    cr_expect(strstr(text, "## Core\n") != NULL);
    cr_expect(strstr(text, "## Detector: readmission_burst\n") != NULL);
    cr_expect(strstr(text, "| `redis.port` | int | `6379` | 1 .. 65535 | Redis port. |") != NULL);
    cr_expect(strstr(text, "Share of events \\| sampled.") != NULL, "a '|' in a description is escaped");
    cr_expect(strstr(text, "| `redis.password` | string, secret | (unset) |") != NULL);
    cr_expect(strstr(text, "kafka_consumer") != NULL && strstr(text, "${NAME}") != NULL,
              "passthrough and ${ENV} are explained");
    free(text);
    fg_config_destroy(cf);
}
