/* log.c - leveled stderr logging, plain or JSON lines. */
#define _POSIX_C_SOURCE 200809L
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static fg_log_level_t g_level = FG_LOG_INFO;
static int g_json = 0;
static const char *const g_names[] = {"DEBUG", "INFO", "WARN", "ERROR"};

void fg_log_set_level(fg_log_level_t lvl) { g_level = lvl; }
void fg_log_set_json(int on) { g_json = on; }

int fg_log_level_parse(const char *s) {
    for (int i = 0; i < 4; i++)
        if (s && !strcasecmp(s, g_names[i])) return i;
    return -1;
}

static void json_escape(FILE *f, const char *s) {
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
        else if (c < 0x20) fprintf(f, "\\u%04x", c);
        else fputc(c, f);
    }
}

void fg_log(fg_log_level_t lvl, const char *fmt, ...) {
    if (lvl < g_level) return;
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);

    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char when[32];
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);

    flockfile(stderr);
    if (g_json) {
        fprintf(stderr, "{\"ts\":\"%s.%03ldZ\",\"level\":\"%s\",\"msg\":\"", when,
                ts.tv_nsec / 1000000, g_names[lvl]);
        json_escape(stderr, msg);
        fputs("\"}\n", stderr);
    } else {
        fprintf(stderr, "%s.%03ldZ %-5s %s\n", when, ts.tv_nsec / 1000000, g_names[lvl], msg);
    }
    funlockfile(stderr);
}
