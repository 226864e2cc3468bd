/* processor.c - runs a batch of events through the enabled detectors with two Redis exchanges. */
#include "processor.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/pseudo.h"
#include "detectors/detector.h"
#include "reference/kb.h"

typedef struct {
    const fg_detector_t *det;
    void *priv;
} fg_active_t;

typedef struct {
    char key[96];
    char digest[17];
} fg_marker_t;

struct fg_processor {
    fg_state_t *st;
    const fg_config_t *cf;
    const fg_kb_t *kb;
    unsigned kb_generation; /* how many times reference data was replaced */
    char version_override[64];
    fg_kb_t *empty_kb;
    fg_active_t active[64];
    size_t n_active;
    char ruleset_version[64];
    int64_t lateness_ms;
    int64_t marker_ttl_ms;

    fg_alerts_t alerts;     /* this run's findings */
    fg_alerts_t out;        /* the subset to publish */
    fg_marker_t *cand;      /* per finding: marker key + digest, parallel to alerts */
    int *cand_idx;          /* per finding: fg_state_flush_get index */
    fg_marker_t *pending;   /* published, marker not yet written */
    size_t n_pending, cap_pending, cap_cand;
    fg_marker_t *out_markers; /* markers of `out`, parallel */
    size_t cap_out_markers;

    char (*pseudo)[2][FG_PSEUDO_LEN + 1]; /* per event: patient, card */
    size_t cap_pseudo;
    fg_processor_stats_t stats;
};

static void *grow(void *p, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return p;
    size_t c = *cap ? *cap : 64;
    while (c < need) c *= 2;
    void *q = realloc(p, c * elem);
    if (!q) abort();
    *cap = c;
    return q;
}

/* A digest of every rule's effective thresholds: alerts say which rule set produced them. */
static void ruleset_digest(const fg_config_t *cf, const char *kb_version, unsigned kb_generation, char *out,
                           size_t size) {
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    char kb[96];
    int kn = snprintf(kb, sizeof(kb), "kb=%s;%u;", kb_version, kb_generation);
    EVP_DigestUpdate(md, kb, (size_t)kn);
    for (size_t i = 0; fg_detectors[i]; i++) {
        const fg_detector_t *det = fg_detectors[i];
        char k[192], v[64];
        snprintf(k, sizeof(k), "detectors.%s.enabled", det->name);
        int n = snprintf(v, sizeof(v), "%s=%d;", k, fg_config_bool(cf, k));
        EVP_DigestUpdate(md, v, (size_t)n);
        for (size_t j = 0; j < det->n_conf; j++) {
            const fg_conf_decl_t *d = &det->conf[j];
            snprintf(k, sizeof(k), "detectors.%s.%s", det->name, d->key);
            EVP_DigestUpdate(md, k, strlen(k));
            switch (d->type) {
            case FG_CONF_BOOL: n = snprintf(v, sizeof(v), "=%d;", fg_config_bool(cf, k)); break;
            case FG_CONF_INT: n = snprintf(v, sizeof(v), "=%lld;", (long long)fg_config_int(cf, k)); break;
            case FG_CONF_DOUBLE: n = snprintf(v, sizeof(v), "=%.17g;", fg_config_double(cf, k)); break;
            case FG_CONF_STRING: {
                const char *s = fg_config_str(cf, k);
                EVP_DigestUpdate(md, s ? s : "", s ? strlen(s) : 0);
                n = snprintf(v, sizeof(v), ";");
                break;
            }
            default: n = 0;
            }
            EVP_DigestUpdate(md, v, (size_t)n);
        }
    }
    unsigned char h[EVP_MAX_MD_SIZE];
    unsigned int hl = 0;
    EVP_DigestFinal_ex(md, h, &hl);
    EVP_MD_CTX_free(md);
    snprintf(out, size, "rs-%02x%02x%02x%02x%02x%02x", h[0], h[1], h[2], h[3], h[4], h[5]);
}

static void update_version(fg_processor_t *p) {
    if (p->version_override[0])
        snprintf(p->ruleset_version, sizeof(p->ruleset_version), "%s", p->version_override);
    else
        ruleset_digest(p->cf, fg_kb_version(p->kb), p->kb_generation, p->ruleset_version, sizeof(p->ruleset_version));
}

static int init_detectors(fg_processor_t *p, const fg_config_t *cf, fg_active_t *active, size_t *n_active,
                          char *errstr, size_t errstr_size);

fg_processor_t *fg_processor_create(const fg_config_t *cf, fg_state_t *st, char *errstr, size_t errstr_size) {
    fg_processor_t *p = calloc(1, sizeof(*p));
    if (!p) return NULL;
    p->st = st;
    p->empty_kb = fg_kb_empty();
    p->kb = p->empty_kb;
    fg_alerts_init(&p->alerts);
    fg_alerts_init(&p->out);
    p->lateness_ms = fg_config_int(cf, "events.allowed_lateness_days") * FG_MS_PER_DAY;
    p->marker_ttl_ms = fg_config_int(cf, "alerts.dedup_ttl_days") * FG_MS_PER_DAY;
    p->cf = cf;
    const char *rv = fg_config_str(cf, "alerts.ruleset_version");
    if (rv) snprintf(p->version_override, sizeof(p->version_override), "%s", rv);
    update_version(p);
    if (init_detectors(p, cf, p->active, &p->n_active, errstr, errstr_size) != FG_OK) {
        fg_processor_destroy(p);
        return NULL;
    }
    return p;
}

static void destroy_detectors(fg_active_t *active, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (active[i].det->destroy) active[i].det->destroy(active[i].priv);
}

static int init_detectors(fg_processor_t *p, const fg_config_t *cf, fg_active_t *active, size_t *n_active,
                          char *errstr, size_t errstr_size) {
    (void)p;
    *n_active = 0;
    for (size_t i = 0; fg_detectors[i]; i++) {
        const fg_detector_t *det = fg_detectors[i];
        char prefix[160], k[192];
        snprintf(prefix, sizeof(prefix), "detectors.%s.", det->name);
        snprintf(k, sizeof(k), "%senabled", prefix);
        if (!fg_config_bool(cf, k)) continue;
        if (*n_active == FG_ARRAY_SIZE(p->active)) {
            destroy_detectors(active, *n_active);
            return fg_err(errstr, errstr_size, FG_ERR, "too many detectors");
        }
        fg_active_t *a = &active[*n_active];
        a->det = det;
        a->priv = NULL;
        if (det->init && det->init(cf, prefix, &a->priv, errstr, errstr_size) != FG_OK) {
            destroy_detectors(active, *n_active);
            *n_active = 0;
            return FG_ERR;
        }
        (*n_active)++;
    }
    return FG_OK;
}

int fg_processor_reconfigure(fg_processor_t *p, const fg_config_t *cf, char *errstr, size_t errstr_size) {
    fg_active_t fresh[FG_ARRAY_SIZE(p->active)];
    size_t n = 0;
    if (init_detectors(p, cf, fresh, &n, errstr, errstr_size) != FG_OK) return FG_ERR;
    destroy_detectors(p->active, p->n_active);
    memcpy(p->active, fresh, n * sizeof(fresh[0]));
    p->n_active = n;
    p->cf = cf;
    update_version(p);
    return FG_OK;
}

void fg_processor_set_version(fg_processor_t *p, const char *version) {
    snprintf(p->version_override, sizeof(p->version_override), "%s", version ? version : "");
    update_version(p);
}

void fg_processor_destroy(fg_processor_t *p) {
    if (!p) return;
    destroy_detectors(p->active, p->n_active);
    fg_alerts_free(&p->alerts);
    fg_alerts_free(&p->out);
    free(p->cand);
    free(p->cand_idx);
    free(p->pending);
    free(p->out_markers);
    free(p->pseudo);
    fg_kb_destroy(p->empty_kb);
    free(p);
}

void fg_processor_set_kb(fg_processor_t *p, const fg_kb_t *kb) {
    p->kb = kb ? kb : p->empty_kb;
    p->kb_generation++;
    update_version(p);
}

static void marker_key(fg_processor_t *p, const char *alert_id, char *buf, size_t size) {
    fg_state_key(p->st, buf, size, "al", 'a', alert_id);
}

static void queue_pending(fg_processor_t *p) {
    for (size_t i = 0; i < p->n_pending; i++)
        fg_state_flush_set(p->st, p->pending[i].key, p->pending[i].digest, p->marker_ttl_ms);
}

int fg_processor_run(fg_processor_t *p, const fg_event_t *evs, size_t n, int64_t now_ms, const fg_alerts_t **out,
                     char *errstr, size_t errstr_size) {
    fg_state_t *st = p->st;
    fg_state_begin(st);
    /* markers of the previous batch's acknowledged alerts go first in this flush,
     * so a finding repeated in this batch sees them */
    queue_pending(p);

    p->pseudo = grow(p->pseudo, &p->cap_pseudo, n ? n : 1, sizeof(*p->pseudo));
    fg_dctx_t dc = {.st = st,
                    .alerts = &p->alerts,
                    .ruleset_version = p->ruleset_version,
                    .detection_time_ms = now_ms,
                    .allowed_lateness_ms = p->lateness_ms,
                    .kb = p->kb};

    for (size_t i = 0; i < n; i++) {
        const fg_event_t *ev = &evs[i];
        if (ev->patient_id) fg_pseudo(ev->patient_id, p->pseudo[i][0]);
        if (ev->card_id) fg_pseudo(ev->card_id, p->pseudo[i][1]);
        dc.patient_pseudo = ev->patient_id ? p->pseudo[i][0] : NULL;
        dc.card_pseudo = ev->card_id ? p->pseudo[i][1] : NULL;
        for (size_t d = 0; d < p->n_active; d++)
            if ((p->active[d].det->streams & FG_STREAM_BIT(ev->stream)) && p->active[d].det->want)
                p->active[d].det->want(p->active[d].priv, ev, &dc);
    }
    int rc = fg_state_fetch(st, errstr, errstr_size);
    if (rc != FG_OK) return rc;

    fg_alerts_clear(&p->alerts);
    uint64_t late = 0;
    for (size_t i = 0; i < n; i++) {
        const fg_event_t *ev = &evs[i];
        dc.patient_pseudo = ev->patient_id ? p->pseudo[i][0] : NULL;
        dc.card_pseudo = ev->card_id ? p->pseudo[i][1] : NULL;
        dc.late = 0;
        dc.ev = ev;
        for (size_t d = 0; d < p->n_active; d++)
            if (p->active[d].det->streams & FG_STREAM_BIT(ev->stream))
                p->active[d].det->on_event(p->active[d].priv, ev, &dc);
        late += (uint64_t)(dc.late != 0);
    }

    /* de-duplication: publish a finding only if its content differs from what was last acknowledged */
    p->cand = grow(p->cand, &p->cap_cand, p->alerts.n + 1, sizeof(*p->cand));
    p->cand_idx = realloc(p->cand_idx, (p->alerts.n + 1) * sizeof(int));
    if (!p->cand_idx) abort();
    for (size_t i = 0; i < p->alerts.n; i++) {
        marker_key(p, p->alerts.v[i].id, p->cand[i].key, sizeof(p->cand[i].key));
        fg_alert_digest(&p->alerts.v[i], p->cand[i].digest);
        p->cand_idx[i] = fg_state_flush_get(st, p->cand[i].key);
    }
    rc = fg_state_flush(st, errstr, errstr_size);
    if (rc != FG_OK) return rc;
    p->n_pending = 0; /* they were written by this flush */

    fg_alerts_clear(&p->out);
    p->out_markers = grow(p->out_markers, &p->cap_out_markers, p->alerts.n + 1, sizeof(*p->out_markers));
    for (size_t i = 0; i < p->alerts.n; i++) {
        size_t len = 0;
        const char *prev = fg_state_flush_reply(st, p->cand_idx[i], &len);
        if (prev && len == 16 && !memcmp(prev, p->cand[i].digest, 16)) {
            p->stats.alerts_suppressed++;
            continue;
        }
        fg_alert_t *a = fg_alerts_upsert(&p->out, p->alerts.v[i].id);
        *a = p->alerts.v[i];
        p->out_markers[p->out.n - 1] = p->cand[i];
    }
    p->stats.batches++;
    p->stats.events += n;
    p->stats.late_events += late;
    p->stats.alerts_emitted += p->out.n;
    *out = &p->out;
    return FG_OK;
}

void fg_processor_published(fg_processor_t *p) {
    p->pending = grow(p->pending, &p->cap_pending, p->n_pending + p->out.n + 1, sizeof(*p->pending));
    for (size_t i = 0; i < p->out.n; i++) p->pending[p->n_pending++] = p->out_markers[i];
    p->out.n = 0;
}

int fg_processor_sync(fg_processor_t *p, char *errstr, size_t errstr_size) {
    if (!p->n_pending) return FG_OK;
    fg_state_begin(p->st);
    queue_pending(p);
    int rc = fg_state_flush(p->st, errstr, errstr_size);
    if (rc == FG_OK) p->n_pending = 0;
    return rc;
}

const char *fg_processor_ruleset_version(const fg_processor_t *p) { return p->ruleset_version; }
void fg_processor_stats(const fg_processor_t *p, fg_processor_stats_t *out) { *out = p->stats; }
size_t fg_processor_detector_count(const fg_processor_t *p) { return p->n_active; }
