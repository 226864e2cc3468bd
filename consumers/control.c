/* control.c - reading and parsing the control topic (see control.h). */
#include "control.h"

#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "core/log.h"
#include "reference/kb.h"

struct fg_control {
    rd_kafka_t *rk;
    char topic[256];
};

typedef struct {
    rd_kafka_conf_t *conf;
} fg_cconf_t;

static void copy_kafka(const char *k, const char *v, void *ud) {
    fg_cconf_t *c = ud;
    /* group membership is deliberately absent: every replica reads everything */
    if (!strcmp(k, "group.id") || !strncmp(k, "enable.auto", 11) || !strcmp(k, "auto.offset.reset")) return;
    char e[256];
    if (rd_kafka_conf_set(c->conf, k, v, e, sizeof(e)) != RD_KAFKA_CONF_OK) FG_DEBUG("control: %s: %s", k, e);
}

fg_control_t *fg_control_create(const fg_config_t *cf, char *errstr, size_t errstr_size) {
    fg_control_t *c = calloc(1, sizeof(*c));
    if (!c) return NULL;
    snprintf(c->topic, sizeof(c->topic), "%s", fg_config_str(cf, "topics.control"));
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char e[512];
    rd_kafka_conf_set(conf, "client.id", "fundguard-control", e, sizeof(e));
    rd_kafka_conf_set(conf, "fetch.wait.max.ms", "100", e, sizeof(e));
    fg_cconf_t cc = {conf};
    fg_config_kafka_foreach(cf, "consumer", copy_kafka, &cc);
    /* consumer_poll needs a group.id even for manual assignment; it never joins or commits */
    rd_kafka_conf_set(conf, "group.id", "fundguard-control-reader", e, sizeof(e));
    rd_kafka_conf_set(conf, "enable.auto.commit", "false", e, sizeof(e));
    if (!(c->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, e, sizeof(e)))) {
        fg_err(errstr, errstr_size, FG_ERR, "control consumer: %s", e);
        free(c);
        return NULL;
    }
    rd_kafka_topic_t *t = rd_kafka_topic_new(c->rk, c->topic, NULL);
    const rd_kafka_metadata_t *md = NULL;
    rd_kafka_resp_err_t err = rd_kafka_metadata(c->rk, 0, t, &md, 10000);
    rd_kafka_topic_destroy(t);
    if (err || md->topic_cnt != 1 || md->topics[0].err) {
        fg_err(errstr, errstr_size, FG_ERR, "control topic %s: %s", c->topic,
               rd_kafka_err2str(err ? err : md->topics[0].err));
        if (md) rd_kafka_metadata_destroy(md);
        fg_control_destroy(c);
        return NULL;
    }
    int np = md->topics[0].partition_cnt;
    rd_kafka_metadata_destroy(md);
    if (np > 1)
        FG_WARN("control topic %s has %d partitions: messages on different partitions are applied in no "
                "particular order; give it one partition",
                c->topic, np);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(np);
    for (int p = 0; p < np; p++) rd_kafka_topic_partition_list_add(l, c->topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_assign(c->rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    return c;
}

void fg_control_destroy(fg_control_t *c) {
    if (!c) return;
    if (c->rk) {
        rd_kafka_consumer_close(c->rk);
        rd_kafka_destroy(c->rk);
    }
    free(c);
}

int fg_control_parse(const char *json, size_t len, fg_control_msg_t *m, char *reason, size_t reason_size) {
    memset(m, 0, sizeof(*m));
    json_error_t je;
    json_t *o = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
    if (!o || !json_is_object(o)) {
        json_decref(o);
        return fg_err(reason, reason_size, -1, "not a JSON object (%s)", o ? "wrong type" : je.text);
    }
    int rc = 0;
    const char *op = json_string_value(json_object_get(o, "op"));
    const char *ver = json_string_value(json_object_get(o, "version"));
    if (ver) snprintf(m->version, sizeof(m->version), "%s", ver);
    if (!op) {
        rc = fg_err(reason, reason_size, -1, "missing \"op\"");
    } else if (!strcmp(op, "set")) {
        m->op = FG_CTL_SET;
        const char *key = json_string_value(json_object_get(o, "key"));
        json_t *v = json_object_get(o, "value");
        if (!key || !v)
            rc = fg_err(reason, reason_size, -1, "set needs \"key\" and \"value\"");
        else if (strncmp(key, "detectors.", 10))
            rc = fg_err(reason, reason_size, -1, "set: only detectors.* keys change at run time, not \"%s\"", key);
        else {
            snprintf(m->key, sizeof(m->key), "%s", key);
            if (json_is_string(v)) snprintf(m->value, sizeof(m->value), "%s", json_string_value(v));
            else if (json_is_true(v)) snprintf(m->value, sizeof(m->value), "true");
            else if (json_is_false(v)) snprintf(m->value, sizeof(m->value), "false");
            else if (json_is_integer(v)) snprintf(m->value, sizeof(m->value), "%lld", (long long)json_integer_value(v));
            else if (json_is_real(v)) snprintf(m->value, sizeof(m->value), "%.17g", json_real_value(v));
            else rc = fg_err(reason, reason_size, -1, "set: \"value\" must be a string, number or boolean");
        }
    } else if (!strcmp(op, "blacklist_add") || !strcmp(op, "blacklist_remove")) {
        m->op = op[10] == 'a' ? FG_CTL_BLACKLIST_ADD : FG_CTL_BLACKLIST_REMOVE;
        const char *list = json_string_value(json_object_get(o, "list"));
        const char *id = json_string_value(json_object_get(o, "id"));
        m->list = fg_kb_list_parse(list);
        if (m->list < 0 || !id || !*id)
            rc = fg_err(reason, reason_size, -1, "%s needs \"list\" (institution, doctor or person) and \"id\"", op);
        else
            snprintf(m->id, sizeof(m->id), "%s", id);
    } else if (!strcmp(op, "reload")) {
        m->op = FG_CTL_RELOAD;
    } else {
        rc = fg_err(reason, reason_size, -1, "unknown op \"%s\" (set, blacklist_add, blacklist_remove, reload)", op);
    }
    json_decref(o);
    return rc;
}

int fg_control_poll(fg_control_t *c, fg_control_msg_t *m) {
    rd_kafka_message_t *msg = rd_kafka_consumer_poll(c->rk, 0);
    if (!msg) return 0;
    int rc = 0;
    if (msg->err) {
        if (msg->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) FG_WARN("control: %s", rd_kafka_message_errstr(msg));
    } else {
        char reason[256];
        if (fg_control_parse(msg->payload, msg->len, m, reason, sizeof(reason)) == 0) {
            m->offset = msg->offset;
            rc = 1;
        } else {
            FG_ERROR("control %s[%d]@%lld ignored: %s", c->topic, (int)msg->partition, (long long)msg->offset, reason);
            rc = -1;
        }
    }
    rd_kafka_message_destroy(msg);
    return rc;
}
