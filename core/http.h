/*
 * http.h - the operations endpoint (libmicrohttpd, its own thread):
 *   GET /metrics      Prometheus text exposition of the fundguard_* metrics
 *   GET /healthz      200 "ok" while the process runs
 *   GET /readyz       200 "ready" when Kafka is connected, Redis answered the last
 *                     exchange and a partition assignment was received; else 503
 *                     with a one-line reason
 *   GET /api/summary  JSON for the live monitoring page (the page is written against exactly this):
 *       {"now": wall ms, "ruleset_version": "...", "ready": bool,
 *        "streams": [{"stream": "claims", "topic": "...", "consumed": N,
 *                     "rate_per_s": x (over the last ~10 s), "lag": L (sum over partitions)}],
 *        "alerts_last_hour_by_rule": [{"rule_id", "rule_name_zh", "count"}] (detection wall time, 60 min),
 *        "recent_alerts": [newest 50 published alert objects, newest first],
 *        "institutions": [latest risk records as published on topics.risk, top 20 by score desc],
 *        "dead_lettered": N, "late_events": N}
 *   GET /, /app.js, /style.css   the monitoring page: web/index.html, web/app.js,
 *                     web/style.css, embedded at build time (or read from
 *                     http.web_root when set); 404 if missing
 * Everything it serves is read from the fg_mon_* instruments (core/metrics.h).
 */
#ifndef FG_HTTP_H
#define FG_HTTP_H

#include <stddef.h>

typedef struct fg_http fg_http_t;

/**
 * @brief Starts serving on listen ("host:port"; "127.0.0.1:9464", "[::1]:9464", port 0 picks one).
 * @param web_root directory holding index.html, app.js, style.css; NULL or "": the embedded copies.
 * @returns the server, or NULL with errstr set.
 */
fg_http_t *fg_http_start(const char *listen, const char *web_root, char *errstr, size_t errstr_size);
/** @returns the port actually bound. */
int fg_http_port(const fg_http_t *h);
void fg_http_stop(fg_http_t *h); /* accepts NULL */

/** @returns the embedded copy of web/<name> (generated at build time), or NULL if it was missing. */
const unsigned char *fg_web_embedded(const char *name, size_t *len);

#endif
