/*
 * kafka_conf.c - the config's kafka.* properties and schema ids, shared by
 * `run`, `record` and `replay`. See kafka_conf.h.
 */
#include "kafka_conf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    fg_kafka_conf_t *kc;
    char *errstr;
    size_t errstr_size;
    int failed;
} fg_kafka_conf_pass_t;

static void fg_kafka_conf_set(const char *k, const char *v, void *ud) {
    fg_kafka_conf_pass_t *p = ud;
    fg_kafka_conf_t *kc = p->kc;
    if (p->failed) return;
    if (kc->take_group && !strcmp(k, "group.id")) {
        snprintf(kc->group, sizeof(kc->group), "%s", v);
        return;
    }
    if (!strcmp(k, "partitioner")) snprintf(kc->partitioner, sizeof(kc->partitioner), "%s", v);
    if (!strcmp(k, "auto.offset.reset") || !strcmp(k, "enable.auto.commit") ||
        !strcmp(k, "enable.auto.offset.store")) {
        kc->saw_owned = 1; /* fundguard owns these; see pipeline.h */
        return;
    }
    char e[512];
    if (rd_kafka_conf_set(kc->conf, k, v, e, sizeof(e)) != RD_KAFKA_CONF_OK) {
        snprintf(p->errstr, p->errstr_size, "kafka property \"%s\": %s", k, e);
        p->failed = 1;
    }
}

int fg_kafka_conf_apply(const fg_config_t *cf, const char *client, fg_kafka_conf_t *kc, char *errstr,
                        size_t errstr_size) {
    fg_kafka_conf_pass_t p = {kc, errstr, errstr_size, 0};
    fg_config_kafka_foreach(cf, client, fg_kafka_conf_set, &p);
    return p.failed ? FG_ERR : FG_OK;
}

typedef struct {
    fg_codec_t *codec;
    char *errstr;
    size_t errstr_size;
    int failed;
} fg_kafka_ids_t;

static void fg_kafka_register_id(const char *k, const char *v, void *ud) {
    fg_kafka_ids_t *ids = ud;
    if (ids->failed) return;
    char *end;
    long id = strtol(k, &end, 10);
    if (*end || id < 0 || id > INT32_MAX) {
        snprintf(ids->errstr, ids->errstr_size, "schemas.avro_ids: \"%s\" is not a schema id", k);
        ids->failed = 1;
    } else if (fg_codec_register_schema_file(ids->codec, (int32_t)id, v, ids->errstr, ids->errstr_size) != FG_OK) {
        ids->failed = 1;
    }
}

int fg_kafka_register_schema_ids(const fg_config_t *cf, fg_codec_t *codec, char *errstr, size_t errstr_size) {
    fg_kafka_ids_t ids = {codec, errstr, errstr_size, 0};
    fg_config_map_foreach(cf, "schemas.avro_ids", fg_kafka_register_id, &ids);
    return ids.failed ? FG_ERR : FG_OK;
}
