/*
 * kafka_conf.h - what the config file says about talking to Kafka, applied
 * the same way by `run` (pipeline.c), `record` and `replay`: the kafka.*
 * client properties, and the Confluent schema ids (schemas.avro_ids) the
 * messages are decoded with.
 */
#ifndef FG_KAFKA_CONF_H
#define FG_KAFKA_CONF_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>

#include "core/config.h"
#include "schemas/codec.h"

/*
 * Passing the config's kafka.* properties into a librdkafka configuration.
 * fundguard owns auto.offset.reset, enable.auto.commit and
 * enable.auto.offset.store (it commits after processing and never skips
 * data): they are never passed on, and saw_owned tells the caller one was given.
 */
typedef struct {
    rd_kafka_conf_t *conf; /* in, borrowed: receives the properties */
    int take_group;        /* in: 1 = group.id goes to group[] instead of conf (the caller sets the group) */
    char group[256];       /* in: default; out: the config's group.id when take_group */
    char partitioner[64];  /* in: default; out: the config's partitioner (it is also passed on) */
    int saw_owned;         /* out: one of the properties fundguard owns was given and ignored */
} fg_kafka_conf_t;

/**
 * @brief Sets the properties of client ("consumer" or "producer", shared
 *        kafka.* ones included, see fg_config_kafka_foreach) on kc->conf.
 * @returns FG_OK, or FG_ERR with errstr = kafka property "K": librdkafka's reason
 *          (the properties before K are set; stops at the first refused).
 */
int fg_kafka_conf_apply(const fg_config_t *cf, const char *client, fg_kafka_conf_t *kc, char *errstr,
                        size_t errstr_size);

/**
 * @brief Registers every schemas.avro_ids entry (schema id -> .avsc file) with codec.
 * @returns FG_OK, or FG_ERR with errstr (an id that is not one, or the codec's error);
 *          stops at the first failure.
 */
int fg_kafka_register_schema_ids(const fg_config_t *cf, fg_codec_t *codec, char *errstr, size_t errstr_size);

#endif
