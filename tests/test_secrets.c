/*
 * test_secrets.c - no secret is ever printed: not by the configuration dump
 * (`fundguard run --check-config`), not in configuration errors, not when a
 * connection fails (wrong Redis password, unreachable SASL/TLS broker with
 * librdkafka's own debug logging on), not in a short real run. Every secret
 * is a distinctive marker string; the test greps fundguard's whole stdout and
 * stderr for each.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/e2e.h"
#include "support/harness.h"
#include "support/kafka.h"
#include "support/proc.h"
#include "support/redis_priv.h"

#define REDIS_PW "MkRedisPw-0a91c"
#define SASL_PW "MkSaslPw-77d2e"
#define SSL_KEY_PW "MkSslKeyPw-5be40"
#define HMAC_KEY "MkHmacKey-c3f18-0123456789abcdef"
#define ENV_SASL_PW "MkEnvSaslPw-2e6f0"

static const char *const g_markers[] = {REDIS_PW, SASL_PW, SSL_KEY_PW, HMAC_KEY, ENV_SASL_PW};

/* what fundguard printed (stdout and stderr share the log) contains no marker */
static void assert_no_secret(const char *log_path, const char *what) {
    char *log = fg_tp_read(log_path);
    cr_assert(log, "%s: no output captured at %s", what, log_path);
    for (size_t i = 0; i < sizeof(g_markers) / sizeof(g_markers[0]); i++)
        cr_assert_null(strstr(log, g_markers[i]), "%s printed the secret %s (see %s)", what, g_markers[i], log_path);
    free(log);
}

static char g_keyfile[256];

/* the secrets every case configures: HMAC key in a file, the rest in the config or the environment */
static void secrets_init(void) {
    snprintf(g_keyfile, sizeof(g_keyfile), "/tmp/%s.key", fg_test_unique("secrets"));
    fg_tp_write(g_keyfile, HMAC_KEY "\n");
    setenv("FG_TEST_SASL_PASSWORD", ENV_SASL_PW, 1);
}

/*
 * Config with every secret set: Redis at redis_port with REDIS_PW, the Kafka SASL password from the
 * environment for the consumer and written in the file for the producer, an SSL key password and the
 * HMAC key file. kafka_extra: more members of the "kafka" object (leading comma), may be "".
 */
static void write_config(fg_e2e_t *e, const char *group, int redis_port, const char *kafka_extra) {
    char extra[2048];
    snprintf(extra, sizeof(extra),
             "\"security\": {\"hmac_key_file\": \"%s\"},\n"
             "  \"kafka_consumer\": {\"sasl.username\": \"fundguard\", \"sasl.password\": \"${FG_TEST_SASL_PASSWORD}\","
             " \"ssl.key.password\": \"" SSL_KEY_PW "\"%s},\n"
             "  \"kafka_producer\": {\"sasl.username\": \"fundguard\", \"sasl.password\": \"" SASL_PW "\","
             " \"ssl.key.password\": \"" SSL_KEY_PW "\"%s}",
             g_keyfile, kafka_extra, kafka_extra);
    fg_e2e_config(e, group, extra);
    /* fg_e2e_config writes the harness's Redis port and no password: put ours in */
    char *text = fg_tp_read(e->cfg);
    cr_assert(text);
    char port[32], repl[160];
    snprintf(port, sizeof(port), "\"port\": %d,", fg_test_redis_port());
    snprintf(repl, sizeof(repl), "\"port\": %d, \"password\": \"" REDIS_PW "\",", redis_port);
    char *at = strstr(text, port);
    cr_assert(at, "unexpected e2e config layout: %s", text);
    size_t out_n = strlen(text) + strlen(repl) + 1;
    char *out = malloc(out_n);
    snprintf(out, out_n, "%.*s%s%s", (int)(at - text), text, repl, at + strlen(port));
    fg_tp_write(e->cfg, out);
    free(out);
    free(text);
}

Test(secrets, check_config_dump_masks_every_secret) {
    secrets_init();
    fg_e2e_t e;
    fg_e2e_setup(&e);
    write_config(&e, "g-unused", 6379, ", \"security.protocol\": \"sasl_ssl\", \"sasl.mechanism\": \"SCRAM-SHA-512\"");
    const char *args[] = {"run", "--config", e.cfg, "--check-config", NULL};
    cr_assert_eq(fg_tp_run(e.log, 30, args), 0, "--check-config refused the file (log %s)", e.log);
    assert_no_secret(e.log, "--check-config");
    char *log = fg_tp_read(e.log);
    /* the dump is there and says which keys are set */
    cr_assert(strstr(log, "\"sasl.password\": \"***\"") && strstr(log, "\"ssl.key.password\": \"***\"") &&
                  strstr(log, "\"password\": \"***\"") && strstr(log, "\"hmac_key_file\": \"***\""),
              "secrets not shown as \"***\" in the dump: %s", log);
    cr_assert(strstr(log, "\"sasl.username\": \"fundguard\""), "non-secret values are shown");
    free(log);
}

Test(secrets, configuration_errors_never_echo_a_secret) {
    secrets_init();
    fg_e2e_t e;
    fg_e2e_setup(&e);
    /* a secret of the wrong type, a secret overridden on the command line next to a bad key */
    fg_tp_write(e.cfg, "{\"redis\": {\"password\": [\"" REDIS_PW "\"]}}");
    const char *a1[] = {"run", "--config", e.cfg, "--check-config", NULL};
    cr_assert_eq(fg_tp_run(e.log, 30, a1), 1);
    assert_no_secret(e.log, "a wrongly typed redis.password");
    char *log = fg_tp_read(e.log);
    cr_assert(strstr(log, "redis.password"), "the error names the key: %s", log);
    free(log);

    fg_tp_write(e.cfg, "{}");
    const char *a2[] = {"run", "--config", e.cfg, "--set", "redis.password=" REDIS_PW, "--set", "redis.port=not-a-port",
                        "--check-config", NULL};
    cr_assert_eq(fg_tp_run(e.log, 30, a2), 1);
    assert_no_secret(e.log, "--set with a bad value beside a password");

    fg_tp_write(e.cfg, "{\"security\": {\"hmac_key_file\": 5}}");
    cr_assert_eq(fg_tp_run(e.log, 30, a1), 1);
    assert_no_secret(e.log, "a wrongly typed hmac_key_file");

    /* a secret file that cannot be read is named by its path */
    fg_tp_write(e.cfg, "{\"redis\": {\"password\": \"${file:/nonexistent/fundguard-redis-password}\"}}");
    cr_assert_eq(fg_tp_run(e.log, 30, a1), 1);
    log = fg_tp_read(e.log);
    cr_assert(strstr(log, "redis.password") && strstr(log, "/nonexistent/fundguard-redis-password"), "log: %s", log);
    free(log);

    /* an unset variable is named, never resolved to something printed */
    unsetenv("FG_TEST_SASL_PASSWORD");
    fg_tp_write(e.cfg, "{\"kafka\": {\"sasl.password\": \"${FG_TEST_SASL_PASSWORD}\"}, \"redis\": {\"password\": \"" REDIS_PW
                       "\", \"port\": \"x\"}}");
    cr_assert_eq(fg_tp_run(e.log, 30, a1), 1);
    assert_no_secret(e.log, "an unset variable");
}

Test(secrets, wrong_redis_password_fails_at_start_up_without_printing_it, .timeout = 60) {
    secrets_init();
    fg_tredis_t r = {0};
    fg_tredis_start(&r, "--requirepass someone-elses-password");
    fg_e2e_t e;
    fg_e2e_setup(&e);
    write_config(&e, fg_test_unique("g-secrets"), r.port, "");
    const char *args[] = {"run", "--config", e.cfg, "--idle-exit-ms", "2000", NULL};
    int rc = fg_tp_run(e.log, 45, args);
    fg_tredis_stop(&r, NULL, "someone-elses-password");
    cr_assert_eq(rc, 1, "a refused Redis login must stop start-up with exit code 1 (log %s)", e.log);
    char *log = fg_tp_read(e.log);
    cr_assert(strstr(log, "AUTH"), "the error says the login failed: %s", log);
    free(log);
    assert_no_secret(e.log, "a refused Redis password");
}

Test(secrets, unreachable_sasl_ssl_broker_with_librdkafka_debug_logs_prints_no_secret, .timeout = 60) {
    secrets_init();
    fg_tredis_t r = {0};
    fg_tredis_start(&r, "--requirepass " REDIS_PW);
    fg_e2e_t e;
    fg_e2e_setup(&e);
    write_config(&e, fg_test_unique("g-secrets"), r.port,
                 ", \"security.protocol\": \"sasl_plaintext\", \"sasl.mechanism\": \"SCRAM-SHA-512\","
                 " \"debug\": \"conf,security,broker\"");
    /* nothing listens on port 1: every connection attempt fails and is logged */
    char *text = fg_tp_read(e.cfg);
    const char *bs = fg_test_bootstrap();
    char *at = strstr(text, bs);
    cr_assert(at);
    size_t out_n = strlen(text) + 32;
    char *out = malloc(out_n);
    snprintf(out, out_n, "%.*s127.0.0.1:1%s", (int)(at - text), text, at + strlen(bs));
    fg_tp_write(e.cfg, out);
    free(out);
    free(text);
    const char *args[] = {"run", "--config", e.cfg, "--idle-exit-ms", "3000", NULL};
    int rc = fg_tp_run(e.log, 45, args);
    fg_tredis_stop(&r, NULL, REDIS_PW);
    char *log = fg_tp_read(e.log);
    cr_assert(log && strstr(log, "127.0.0.1:1"), "the failing broker connection was not logged (rc %d): %s", rc,
              log ? log : "");
    /* librdkafka's own configuration dump (debug=conf) shows that the SASL settings reached every client:
       the pipeline's consumer and producer and the control-topic reader, the password redacted */
    const char *clients[] = {"|fundguard#producer-", "|fundguard#consumer-", "|fundguard-control#consumer-"};
    const char *props[] = {"security.protocol = sasl_plaintext", "sasl.mechanisms = SCRAM-SHA-512",
                           "sasl.password = [redacted]"};
    for (size_t c = 0; c < 3; c++)
        for (size_t k = 0; k < 3; k++) {
            int found = 0;
            for (const char *l = log; l && *l && !found;) {
                const char *nl = strchr(l, '\n');
                size_t len = nl ? (size_t)(nl - l) : strlen(l);
                char *line = strndup(l, len);
                found = strstr(line, clients[c]) && strstr(line, props[k]);
                free(line);
                l = nl ? nl + 1 : NULL;
            }
            cr_assert(found, "%s did not get \"%s\" (log %s)", clients[c] + 1, props[k], e.log);
        }
    free(log);
    assert_no_secret(e.log, "an unreachable SASL broker");
}

Test(secrets, a_short_real_run_with_every_secret_set_prints_none, .timeout = 90) {
    secrets_init();
    fg_tredis_t r = {0};
    fg_tredis_start(&r, "--requirepass " REDIS_PW);
    fg_e2e_t e;
    fg_e2e_setup(&e);
    /* the harness's broker is PLAINTEXT: the SASL and SSL properties are set but unused (librdkafka warns) */
    write_config(&e, fg_test_unique("g-secrets"), r.port, "");
    /* the Redis password from a file (a mounted secret), with the trailing newline such files have */
    char pwfile[300];
    snprintf(pwfile, sizeof(pwfile), "%s.redis-password", e.cfg);
    fg_tp_write(pwfile, REDIS_PW "\n");
    char *text = fg_tp_read(e.cfg);
    char *at = strstr(text, "\"" REDIS_PW "\"");
    cr_assert(at);
    size_t out_n = strlen(text) + strlen(pwfile) + 16;
    char *out = malloc(out_n);
    snprintf(out, out_n, "%.*s\"${file:%s}\"%s", (int)(at - text), text, pwfile, at + strlen(REDIS_PW) + 2);
    fg_tp_write(e.cfg, out);
    free(out);
    free(text);
    char line[512];
    snprintf(line, sizeof(line),
             "P-S1|{\"event_id\":\"s-1\",\"event_time\":1767225600000,\"region\":\"140100\",\"institution_id\":\"H1\","
             "\"institution_type\":\"HOSPITAL\",\"patient_id\":\"P-S1\",\"admission_id\":\"A1\",\"type\":\"ADMIT\"}\n");
    fg_tk_produce_lines(e.inpatient, line);
    fg_tk_touch(e.claims);
    fg_tk_touch(e.invoicing);
    const char *args[] = {"run", "--config", e.cfg, "--idle-exit-ms", "2000", "--set", "log.level=debug", NULL};
    int rc = fg_tp_run(e.log, 60, args);
    fg_tredis_stop(&r, NULL, REDIS_PW);
    cr_assert_eq(rc, 0, "the run failed (log %s)", e.log);
    char *log = fg_tp_read(e.log);
    cr_assert(strstr(log, "consumed") || strstr(log, "stopped"), "the run did not get going: %s", log);
    cr_assert_null(strstr(log, "development key"), "the HMAC key file was not used");
    free(log);
    assert_no_secret(e.log, "a real run");
}
