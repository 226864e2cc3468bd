/*
 * http.c - the operations endpoint on libmicrohttpd: /metrics, /healthz,
 * /readyz, /api/summary and the monitoring page's static files. Runs on
 * libmicrohttpd's internal polling thread; it only reads the fg_mon_*
 * instruments, which are thread-safe, so the consumer thread never waits on it.
 */
#include "http.h"

#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "core/common.h"
#include "core/log.h"
#include "core/metrics.h"

struct fg_http {
    struct MHD_Daemon *d;
    char *web_root;
    int port;
};

/* hands body to libmicrohttpd: freed by it when owned, else static */
static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *type, void *body, size_t len,
                             int owned) {
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, body, owned ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (!r) {
        if (owned) free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result reply_text(struct MHD_Connection *c, unsigned status, const char *text) {
    return reply(c, status, "text/plain; charset=utf-8", (void *)text, strlen(text), 0);
}

static char *read_file(const char *dir, const char *name, size_t *len) {
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n == cap) {
            cap = cap ? cap * 2 : 65536;
            char *b = realloc(buf, cap);
            if (!b) break;
            buf = b;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) break;
    }
    fclose(f);
    *len = n;
    return buf;
}

static enum MHD_Result serve_static(fg_http_t *h, struct MHD_Connection *c, const char *name, const char *type) {
    size_t len = 0;
    if (h->web_root) {
        char *body = read_file(h->web_root, name, &len);
        if (body) return reply(c, MHD_HTTP_OK, type, body, len, 1);
    } else {
        const unsigned char *body = fg_web_embedded(name, &len);
        if (body) return reply(c, MHD_HTTP_OK, type, (void *)body, len, 0);
    }
    return reply_text(c, MHD_HTTP_NOT_FOUND, "not found\n");
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                              const char *version, const char *upload_data, size_t *upload_data_size,
                              void **con_cls) {
    (void)version;
    (void)upload_data;
    (void)con_cls;
    fg_http_t *h = cls;
    if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
        return reply_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n");
    if (*upload_data_size) return reply_text(c, MHD_HTTP_BAD_REQUEST, "no body expected\n");

    if (!strcmp(url, "/metrics")) {
        char *body = fg_mon_render();
        return reply(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", body, strlen(body), 1);
    }
    if (!strcmp(url, "/healthz")) return reply_text(c, MHD_HTTP_OK, "ok\n");
    if (!strcmp(url, "/readyz")) {
        char why[160], line[170];
        int ready = fg_mon_ready(why, sizeof(why));
        int n = snprintf(line, sizeof(line), "%s\n", why);
        char *body = strndup(line, (size_t)n);
        if (!body) return MHD_NO;
        return reply(c, ready ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain; charset=utf-8", body,
                     strlen(body), 1);
    }
    if (!strcmp(url, "/api/summary")) {
        char *body = fg_mon_summary_json(fg_now_ms(), fg_mono_us() / 1000);
        if (!body) return reply_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "summary failed\n");
        return reply(c, MHD_HTTP_OK, "application/json; charset=utf-8", body, strlen(body), 1);
    }
    if (!strcmp(url, "/") || !strcmp(url, "/index.html"))
        return serve_static(h, c, "index.html", "text/html; charset=utf-8");
    if (!strcmp(url, "/app.js")) return serve_static(h, c, "app.js", "text/javascript; charset=utf-8");
    if (!strcmp(url, "/style.css")) return serve_static(h, c, "style.css", "text/css; charset=utf-8");
    return reply_text(c, MHD_HTTP_NOT_FOUND, "not found\n");
}

__attribute__((format(printf, 2, 0))) static void mhd_log(void *cls, const char *fmt, va_list ap) {
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    size_t n = strlen(msg);
    while (n && msg[n - 1] == '\n') msg[--n] = '\0';
    FG_WARN("http: %s", msg);
}

fg_http_t *fg_http_start(const char *listen, const char *web_root, char *errstr, size_t errstr_size) {
    char host[256];
    const char *colon = listen ? strrchr(listen, ':') : NULL;
    if (!colon || !colon[1] || (size_t)(colon - listen) >= sizeof(host)) {
        fg_err(errstr, errstr_size, FG_ERR, "http.listen \"%s\": expected host:port", listen ? listen : "");
        return NULL;
    }
    memcpy(host, listen, (size_t)(colon - listen));
    host[colon - listen] = '\0';
    char *h0 = host;
    size_t hl = strlen(host);
    if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') { /* [v6]:port */
        host[hl - 1] = '\0';
        h0 = host + 1;
    }
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || port < 0 || port > 65535) {
        fg_err(errstr, errstr_size, FG_ERR, "http.listen \"%s\": bad port", listen);
        return NULL;
    }
    struct addrinfo hints = {0}, *ai = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    int gai = getaddrinfo(*h0 ? h0 : NULL, colon + 1, &hints, &ai);
    if (gai || !ai) {
        fg_err(errstr, errstr_size, FG_ERR, "http.listen \"%s\": %s", listen, gai_strerror(gai));
        return NULL;
    }
    fg_http_t *h = calloc(1, sizeof(*h));
    if (!h) abort();
    if (web_root && *web_root) h->web_root = strdup(web_root);
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG;
    if (ai->ai_family == AF_INET6) flags |= MHD_USE_IPv6;
    h->d = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, handle, h, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
                            MHD_OPTION_SOCK_ADDR, ai->ai_addr, MHD_OPTION_CONNECTION_LIMIT, (unsigned)64,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10, MHD_OPTION_END);
    int saved = errno;
    freeaddrinfo(ai);
    if (!h->d) {
        fg_err(errstr, errstr_size, FG_ERR, "http.listen \"%s\": cannot listen: %s", listen,
               saved ? strerror(saved) : "libmicrohttpd refused");
        fg_http_stop(h);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
    h->port = info ? (int)info->port : (int)port;
    FG_INFO("http: serving /metrics, /healthz, /readyz, /api/summary and the monitoring page on %s%s%s:%d",
            h0 != host ? "[" : "", h0, h0 != host ? "]" : "", h->port);
    return h;
}

int fg_http_port(const fg_http_t *h) { return h ? h->port : 0; }

void fg_http_stop(fg_http_t *h) {
    if (!h) return;
    if (h->d) MHD_stop_daemon(h->d);
    free(h->web_root);
    free(h);
}
