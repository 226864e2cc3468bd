/*
 * fuzz_config.c - libFuzzer target for fg_config_load_string with the real
 * declarations (core/settings.c: the core table and every detector's keys).
 *
 * Contract: 0, or -1 with a non-empty error; a load that fails applies
 * nothing (the effective config dump is unchanged); a successful load can be
 * dumped (every getter path the dump uses stays valid).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/log.h"
#include "core/settings.h"

static void die(const char *what, const char *detail) {
    fprintf(stderr, "fuzz_config: contract violated: %s: %s\n", what, detail ? detail : "");
    abort();
}

static char *dump(const fg_config_t *cf) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) die("open_memstream", NULL);
    fg_config_dump(cf, f);
    fclose(f);
    return buf;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static char *pristine;
    if (!pristine) {
        fg_log_set_level(FG_LOG_ERROR);
        fg_config_t *cf = fg_config_create();
        fg_settings_declare(cf);
        pristine = dump(cf);
        fg_config_destroy(cf);
    }
    char *json = malloc(size + 1);
    memcpy(json, data, size);
    json[size] = '\0';

    fg_config_t *cf = fg_config_create();
    fg_settings_declare(cf);
    char err[512];
    memset(err, 0, sizeof(err));
    int rc = fg_config_load_string(cf, json, err, sizeof(err));
    char *after = dump(cf);
    if (rc == -1) {
        if (!err[0]) die("declined with an empty error", NULL);
        if (strcmp(after, pristine)) die("a rejected config changed settings", err);
    } else if (rc != 0) {
        die("rc neither 0 nor -1", NULL);
    }
    free(after);
    fg_config_destroy(cf);
    free(json);
    return 0;
}
