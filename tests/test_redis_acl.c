/*
 * test_redis_acl.c - fundguard against a redis-server configured the way
 * production should be: the default user off, and a named ACL user allowed
 * only fundguard's key prefix and the commands the state store sends
 * (HGETALL, HSET, HDEL, HINCRBY, PEXPIRE, MULTI, EXEC, GET, SET, PING, SELECT).
 * A full batch works through that user; anything else is refused; a wrong
 * password fails at once with a clear error that does not contain it.
 */
#include <criterion/criterion.h>
#include <hiredis/hiredis.h>
#include <string.h>

#include "alerts/alert.h"
#include "consumers/processor.h"
#include "core/settings.h"
#include "state/state.h"
#include "support/redis_priv.h"
#include "support/scenario.h"

#define ACL_PW "acl-S3cret-pw"
#define ACL_ARGS                                                                                                     \
    "--user default off "                                                                                          \
    "--user fundguard on '>" ACL_PW "' '~fg-acl:*' resetchannels -@all +hgetall +hset +hdel +hincrby +pexpire "     \
    "+watch +unwatch +multi +exec +get +set +ping +select "                                                                        \
    "--user admin on '>admin-pw' '~*' '&*' +@all"

static fg_tredis_t g_acl;
static void acl_fini(void) { fg_tredis_kill(&g_acl); }

static fg_state_t *connect_as(const char *user, const char *pw, char *err, size_t n) {
    fg_state_opts_t o = {.host = "127.0.0.1", .port = g_acl.port, .username = user, .password = pw,
                         .prefix = "fg-acl", .timeout_ms = 2000};
    return fg_state_create(&o, err, n);
}

Test(redis_acl, a_whole_batch_runs_as_the_least_privilege_user, .fini = acl_fini) {
    fg_tredis_start(&g_acl, ACL_ARGS);
    char err[512];
    fg_state_t *st = connect_as("fundguard", ACL_PW, err, sizeof(err));
    cr_assert(st, "connect as fundguard: %s", err);
    char *sets[] = {"redis.prefix=fg-acl"};
    fg_config_t *cf = fg_settings_load(NULL, sets, 1, err, sizeof(err));
    cr_assert(cf, "%s", err);
    fg_processor_t *p = fg_processor_create(cf, st, err, sizeof(err));
    cr_assert(p, "%s", err);

    /* a split stay: fetch, transactional flush, TTLs and alert markers all go through the ACL */
    fg_event_t evs[] = {fg_ev_inpatient("a1", FG_IP_ADMIT, "ACL-P1", "H1", "S1", 0),
                        fg_ev_inpatient("d1", FG_IP_DISCHARGE, "ACL-P1", "H1", "S1", 2),
                        fg_ev_inpatient("a2", FG_IP_ADMIT, "ACL-P1", "H1", "S2", 4)};
    const fg_alerts_t *out = NULL;
    cr_assert_eq(fg_processor_run(p, evs, 3, 1800000000000LL, &out, err, sizeof(err)), FG_OK, "run: %s", err);
    cr_assert_eq(out->n, 1, "the split stay fires through the restricted user");
    fg_processor_published(p);
    cr_assert_eq(fg_processor_sync(p, err, sizeof(err)), FG_OK, "markers: %s", err);
    cr_assert_eq(fg_processor_run(p, evs, 3, 1800000000000LL, &out, err, sizeof(err)), FG_OK, "%s", err);
    cr_assert_eq(out->n, 0, "its marker was written: a re-delivery publishes nothing");

    /* and nothing beyond fundguard's prefix and commands */
    redisContext *c = redisConnect("127.0.0.1", g_acl.port);
    redisReply *r = redisCommand(c, "AUTH fundguard %s", ACL_PW);
    cr_assert(r && r->type == REDIS_REPLY_STATUS);
    freeReplyObject(r);
    r = redisCommand(c, "SET other:key x");
    cr_assert(r && r->type == REDIS_REPLY_ERROR && strstr(r->str, "NOPERM"), "a key outside fg-acl:* must be refused");
    freeReplyObject(r);
    r = redisCommand(c, "FLUSHALL");
    cr_assert(r && r->type == REDIS_REPLY_ERROR && strstr(r->str, "NOPERM"), "FLUSHALL must be refused");
    freeReplyObject(r);
    r = redisCommand(c, "KEYS *");
    cr_assert(r && r->type == REDIS_REPLY_ERROR && strstr(r->str, "NOPERM"), "KEYS must be refused");
    freeReplyObject(r);
    redisFree(c);

    fg_processor_destroy(p);
    fg_config_destroy(cf);
    fg_state_destroy(st);
    fg_tredis_stop(&g_acl, "admin", "admin-pw");
}

Test(redis_acl, a_wrong_password_is_refused_at_once_without_echoing_it, .fini = acl_fini) {
    fg_tredis_start(&g_acl, ACL_ARGS);
    char err[512] = "";
    cr_assert_null(connect_as("fundguard", "not-the-password-xyz", err, sizeof(err)));
    cr_assert(strstr(err, "redis AUTH as user 'fundguard' failed: WRONGPASS"), "%s", err);
    cr_assert_null(strstr(err, "not-the-password-xyz"), "the password leaked into the error: %s", err);
    err[0] = '\0';
    cr_assert_null(connect_as(NULL, NULL, err, sizeof(err)), "the default user is off");
    cr_assert(err[0], "a refused connection explains itself");
    fg_tredis_stop(&g_acl, "admin", "admin-pw");
}
