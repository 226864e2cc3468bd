/*
 * codec.c - the codec object: compiled-in reader schemas, the registry of
 * writer schemas by Confluent id, and the decode entry point that tells JSON
 * from Avro and runs validation on whatever was decoded.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/log.h"
#include "codec_internal.h"

static const char *const *schema_texts(void) {
    static const char *const texts[FG_STREAM_COUNT + 1] = {fg_schema_claims_avsc, fg_schema_inpatient_avsc,
                                                           fg_schema_invoicing_avsc, fg_schema_alert_avsc};
    return texts;
}

const char *fg_schema_text(fg_stream_t s) { return (unsigned)s <= FG_STREAM_COUNT ? schema_texts()[s] : NULL; }

/*
 * The encoder writes enum values as symbol indexes, field i of a table as
 * field i of the record and the null branch of an optional as branch 0. That
 * holds only if the .avsc files agree with event.h and fields.c: check it
 * once here so a schema edit that breaks it fails loudly at start-up.
 */
static int check_record(avro_schema_t rec, const fg_record_desc_t *d, char *errstr, size_t errstr_size) {
    if ((size_t)avro_schema_record_size(rec) != d->n_fields)
        return fg_err(errstr, errstr_size, FG_ERR, "compiled-in %s: %zu fields in the schema, %zu in the table",
                      d->record_name, (size_t)avro_schema_record_size(rec), d->n_fields);
    for (size_t i = 0; i < d->n_fields; i++) {
        const fg_field_t *f = &d->fields[i];
        const char *name = avro_schema_record_field_name(rec, (int)i);
        if (!name || strcmp(name, f->name))
            return fg_err(errstr, errstr_size, FG_ERR, "compiled-in %s: field %zu is \"%s\", the table says \"%s\"",
                          d->record_name, i, name ? name : "?", f->name);
        avro_schema_t fs = avro_schema_record_field_get_by_index(rec, (int)i);
        if (f->kind == FG_K_OPT_STRING || f->kind == FG_K_OPT_BOOL || f->kind == FG_K_OPT_INT ||
            f->kind == FG_K_OPT_DATE) {
            if (!is_avro_union(fs) || avro_schema_union_size(fs) != 2 || !is_avro_null(avro_schema_union_branch(fs, 0)))
                return fg_err(errstr, errstr_size, FG_ERR, "compiled-in %s.%s: optional fields must be [\"null\", T]",
                              d->record_name, f->name);
        }
        if (f->kind == FG_K_ENUM) {
            int n = avro_schema_enum_number_of_symbols(fs);
            for (int k = 0; k < n; k++)
                if (f->parse(avro_schema_enum_get(fs, k)) != k)
                    return fg_err(errstr, errstr_size, FG_ERR,
                                  "compiled-in %s.%s: symbol %d \"%s\" does not match event.h", d->record_name, f->name,
                                  k, avro_schema_enum_get(fs, k));
        }
        if (f->kind == FG_K_ITEMS) {
            avro_schema_t item = avro_schema_array_items(fs);
            int rc = check_record(item, fg_item_desc(), errstr, errstr_size);
            if (rc != FG_OK) return rc;
        }
    }
    return FG_OK;
}

fg_codec_t *fg_codec_create(char *errstr, size_t errstr_size) {
    fg_codec_t *c = calloc(1, sizeof(*c));
    if (!c) {
        fg_err(errstr, errstr_size, FG_ERR, "out of memory");
        return NULL;
    }
    for (int s = 0; s < FG_STREAM_COUNT; s++) {
        const char *text = fg_schema_text((fg_stream_t)s);
        if (avro_schema_from_json_length(text, strlen(text), &c->reader[s]) != 0) {
            fg_err(errstr, errstr_size, FG_ERR, "compiled-in %s schema: %s", fg_stream_name((fg_stream_t)s),
                   avro_strerror());
            goto fail;
        }
        if (check_record(c->reader[s], fg_record_desc((fg_stream_t)s), errstr, errstr_size) != FG_OK) goto fail;
        if (fg_avro_plan_build(c->reader[s], (fg_stream_t)s, &c->reader_plan[s], errstr, errstr_size) != FG_OK)
            goto fail;
        c->enc_iface[s] = avro_generic_class_from_schema(c->reader[s]);
        if (!c->enc_iface[s] || avro_generic_value_new(c->enc_iface[s], &c->enc_value[s]) != 0) {
            fg_err(errstr, errstr_size, FG_ERR, "avro generic value for %s: %s", fg_stream_name((fg_stream_t)s),
                   avro_strerror());
            goto fail;
        }
    }
    c->rd = avro_reader_memory("", 0);
    c->wr = avro_writer_memory("", 0);
    if (!c->rd || !c->wr) {
        fg_err(errstr, errstr_size, FG_ERR, "avro memory reader/writer: %s", avro_strerror());
        goto fail;
    }
    return c;
fail:
    fg_codec_destroy(c);
    return NULL;
}

void fg_codec_destroy(fg_codec_t *c) {
    if (!c) return;
    for (size_t i = 0; i < c->n_writers; i++) {
        fg_writer_t *w = &c->writers[i];
        avro_value_decref(&w->value);
        avro_value_iface_decref(w->iface);
        fg_wnode_free(w->walk);
        avro_schema_decref(w->schema);
    }
    free(c->writers);
    for (int s = 0; s < FG_STREAM_COUNT; s++) {
        if (c->enc_value[s].self) avro_value_decref(&c->enc_value[s]);
        if (c->enc_iface[s]) avro_value_iface_decref(c->enc_iface[s]);
        if (c->reader[s]) avro_schema_decref(c->reader[s]);
    }
    if (c->rd) avro_reader_free(c->rd);
    if (c->wr) avro_writer_free(c->wr);
    free(c);
}

int fg_codec_register_schema(fg_codec_t *c, int32_t schema_id, const char *schema_json, char *errstr,
                             size_t errstr_size) {
    if (!c || !schema_json) return fg_err(errstr, errstr_size, FG_ERR, "schema id %d: no schema text", schema_id);
    for (size_t i = 0; i < c->n_writers; i++)
        if (c->writers[i].id == schema_id)
            return fg_err(errstr, errstr_size, FG_ERR, "schema id %d: already registered", schema_id);

    avro_schema_t schema;
    if (avro_schema_from_json_length(schema_json, strlen(schema_json), &schema) != 0)
        return fg_err(errstr, errstr_size, FG_ERR, "schema id %d: unparsable: %s", schema_id, avro_strerror());
    int stream = -1;
    if (is_avro_record(schema))
        for (int s = 0; s < FG_STREAM_COUNT; s++)
            if (!strcmp(avro_schema_name(schema), fg_record_desc((fg_stream_t)s)->record_name)) stream = s;
    if (stream < 0) {
        fg_err(errstr, errstr_size, FG_ERR,
               "schema id %d: record %s is not an input stream (want Claim, InpatientEvent or InvoicingEvent)",
               schema_id, is_avro_record(schema) ? avro_schema_name(schema) : avro_schema_type_name(schema));
        avro_schema_decref(schema);
        return FG_ERR;
    }

    fg_writer_t w = {.id = schema_id, .stream = (fg_stream_t)stream, .schema = schema};
    char why[256];
    if (fg_avro_plan_build(schema, w.stream, &w.plan, why, sizeof(why)) != FG_OK) {
        fg_err(errstr, errstr_size, FG_ERR, "schema id %d: not readable as the %s schema: %s", schema_id,
               fg_stream_name(w.stream), why);
        avro_schema_decref(schema);
        return FG_ERR;
    }
    w.walk = fg_wnode_build(schema, why, sizeof(why));
    if (!w.walk) {
        fg_err(errstr, errstr_size, FG_ERR, "schema id %d: %s", schema_id, why);
        avro_schema_decref(schema);
        return FG_ERR;
    }
    w.iface = avro_generic_class_from_schema(schema);
    if (!w.iface || avro_generic_value_new(w.iface, &w.value) != 0) {
        fg_err(errstr, errstr_size, FG_ERR, "schema id %d: %s", schema_id, avro_strerror());
        if (w.iface) avro_value_iface_decref(w.iface);
        fg_wnode_free(w.walk);
        avro_schema_decref(schema);
        return FG_ERR;
    }
    if (c->n_writers == c->cap_writers) {
        size_t cap = c->cap_writers ? c->cap_writers * 2 : 8;
        fg_writer_t *nw = realloc(c->writers, cap * sizeof(*nw));
        if (!nw) {
            fg_wnode_free(w.walk);
            avro_value_decref(&w.value);
            avro_value_iface_decref(w.iface);
            avro_schema_decref(schema);
            return fg_err(errstr, errstr_size, FG_ERR, "schema id %d: out of memory", schema_id);
        }
        c->writers = nw;
        c->cap_writers = cap;
    }
    c->writers[c->n_writers++] = w;
    FG_DEBUG("codec: schema id %d registered for stream %s", schema_id, fg_stream_name(w.stream));
    return FG_OK;
}

int fg_codec_register_schema_file(fg_codec_t *c, int32_t schema_id, const char *path, char *errstr,
                                  size_t errstr_size) {
    FILE *f = fopen(path, "rb");
    if (!f) return fg_err(errstr, errstr_size, FG_ERR, "schema id %d: %s: %s", schema_id, path, strerror(errno));
    char *text = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 8192;
            char *nt = realloc(text, cap);
            if (!nt) {
                free(text);
                fclose(f);
                return fg_err(errstr, errstr_size, FG_ERR, "schema id %d: %s: out of memory", schema_id, path);
            }
            text = nt;
        }
        size_t n = fread(text + len, 1, cap - len - 1, f);
        len += n;
        if (n == 0) break;
    }
    int err = ferror(f);
    fclose(f);
    if (err) {
        free(text);
        return fg_err(errstr, errstr_size, FG_ERR, "schema id %d: %s: read error", schema_id, path);
    }
    text[len] = '\0';
    int rc = fg_codec_register_schema(c, schema_id, text, errstr, errstr_size);
    free(text);
    return rc;
}

int fg_codec_decode(fg_codec_t *c, fg_stream_t expected, const void *buf, size_t len, fg_arena_t *arena,
                    const fg_validate_opts_t *opts, fg_event_t *ev, char *reason, size_t reason_size) {
    fg_validate_opts_t dflt;
    if (!opts) {
        fg_validate_opts_default(&dflt);
        opts = &dflt;
    }
    memset(ev, 0, sizeof(*ev));
    ev->stream = expected;
    ev->src_partition = -1;
    ev->src_offset = -1;
    if ((unsigned)expected >= FG_STREAM_COUNT)
        return fg_err(reason, reason_size, FG_DECLINED, "unknown stream %d", (int)expected);
    const char *sn = fg_stream_name(expected);
    const unsigned char *p = buf;
    if (!p || len == 0) return fg_err(reason, reason_size, FG_DECLINED, "%s: empty message", sn);

    size_t i = 0;
    while (i < len && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n'))
        i++;
    int rc;
    if (i < len && p[i] == '{') {
        rc = fg_json_decode(expected, buf, len, arena, opts, ev, reason, reason_size);
    } else if (p[0] == 0x00 && len >= 5) {
        if (!c) return fg_err(reason, reason_size, FG_DECLINED, "%s: avro: no codec to decode with", sn);
        rc = fg_avro_decode(c, expected, p, len, arena, opts, ev, reason, reason_size);
    } else if (p[0] == 0x00) {
        return fg_err(reason, reason_size, FG_DECLINED,
                      "%s: neither JSON nor Confluent Avro (first byte 0x00 but only %zu bytes, the header needs 5)",
                      sn, len);
    } else if (i == len) {
        return fg_err(reason, reason_size, FG_DECLINED, "%s: neither JSON nor Confluent Avro (only whitespace)", sn);
    } else {
        return fg_err(reason, reason_size, FG_DECLINED, "%s: neither JSON nor Confluent Avro (first byte 0x%02x)", sn,
                      p[i]);
    }
    if (rc != FG_OK) return rc;
    return fg_event_validate(ev, opts, fg_now_ms(), reason, reason_size);
}
