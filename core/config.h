/*
 * config.h - one JSON file, every key declared once.
 *
 * Each component declares a table of its keys (type, default, bounds,
 * description); the config is validated against the union of the tables and
 * unknown keys are rejected with the nearest declared key suggested. The
 * reference documentation (docs/CONFIGURATION.md) is generated from the same
 * tables by `fundguard config-doc`.
 *
 * File layout: nested JSON objects whose paths are the dotted keys, e.g.
 *   {"redis": {"host": "127.0.0.1"}, "detectors": {"readmission_burst": {"readmit_days": 15}}}
 * is "redis.host" and "detectors.readmission_burst.readmit_days". Two subtrees are
 * passed through rather than declared: "kafka" (verbatim librdkafka properties
 * for every client, e.g. "bootstrap.servers"), and "kafka_consumer" /
 * "kafka_producer" (the same, for one client only). String values of the form
 * "${NAME}" are replaced by the environment variable NAME (secrets).
 */
#ifndef FG_CONFIG_H
#define FG_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum { FG_CONF_BOOL = 0, FG_CONF_INT, FG_CONF_DOUBLE, FG_CONF_STRING, FG_CONF_MAP } fg_conf_type_t;

#define FG_CONF_SECRET 0x1 /**< masked in dumps and never logged */

typedef struct fg_conf_decl {
    const char *key;     /**< dotted, relative to the table's prefix */
    fg_conf_type_t type; /**< FG_CONF_MAP: an object of string -> string (e.g. schema ids) */
    const char *def;     /**< default as text ("15", "true", "fg"); NULL: no default (unset) */
    double min, max;     /**< bounds for INT/DOUBLE; ignored when min == max */
    unsigned flags;
    const char *desc;
} fg_conf_decl_t;

typedef struct fg_config fg_config_t;

/** @returns an empty config; caller frees with fg_config_destroy(). */
fg_config_t *fg_config_create(void);
void fg_config_destroy(fg_config_t *cf); /* accepts NULL */

/**
 * @brief Declares a table (borrowed, must outlive cf; static tables) under prefix
 * ("" for the core table, "detectors.readmission_burst." for a detector).
 * Defaults apply immediately.
 */
void fg_config_declare(fg_config_t *cf, const char *prefix, const fg_conf_decl_t *decls, size_t n,
                       const char *section_title);

/**
 * @brief Loads and validates a JSON file; nothing is applied unless all of it is valid.
 * @returns 0, or -1 with errstr ("config.json: unknown key \"redis.hots\" (did you mean
 * \"redis.host\"?)"; a JSON syntax error gives "config.json: line 4, column 7: ...").
 */
int fg_config_load_file(fg_config_t *cf, const char *path, char *errstr, size_t errstr_size);
/** @brief Same, from JSON text. */
int fg_config_load_string(fg_config_t *cf, const char *json, char *errstr, size_t errstr_size);
/** @brief Sets one declared key from text ("--set redis.port=6380"), or a kafka* passthrough key. */
int fg_config_set(fg_config_t *cf, const char *key, const char *value, char *errstr, size_t errstr_size);

/* Typed getters. Asking for an undeclared key or the wrong type aborts: that is a programming error. */
bool fg_config_bool(const fg_config_t *cf, const char *key);
int64_t fg_config_int(const fg_config_t *cf, const char *key);
double fg_config_double(const fg_config_t *cf, const char *key);
/** @returns the string, or NULL if unset. Borrowed, valid until cf is destroyed or changed. */
const char *fg_config_str(const fg_config_t *cf, const char *key);
/** @brief Iterates a FG_CONF_MAP key's entries. */
void fg_config_map_foreach(const fg_config_t *cf, const char *key,
                           void (*cb)(const char *k, const char *v, void *ud), void *ud);

/**
 * @brief Iterates librdkafka properties for a client: "kafka" entries, then the
 * client's own ("kafka_consumer" or "kafka_producer", which win).
 * @param client "consumer" or "producer".
 */
void fg_config_kafka_foreach(const fg_config_t *cf, const char *client,
                             void (*cb)(const char *k, const char *v, void *ud), void *ud);

/** @brief Prints the effective settings as JSON, secrets (and sasl/ssl passwords) masked as "***". */
void fg_config_dump(const fg_config_t *cf, FILE *out);
/** @brief Prints the reference of every declared key as markdown. */
void fg_config_doc_markdown(const fg_config_t *cf, FILE *out);

#endif
