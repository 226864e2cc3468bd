/* cli.c - `fundguard run` and `fundguard config-doc`. */
#include "cli.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consumers/pipeline.h"
#include "core/http.h"
#include "core/log.h"
#include "core/settings.h"
#include "detectors/detector.h"

static volatile sig_atomic_t g_stop = 0, g_reload = 0;
static void on_signal(int sig) {
    if (sig == SIGHUP)
        g_reload = 1;
    else
        g_stop = 1;
}

static void run_usage(FILE *out) {
    fprintf(out, "usage: fundguard run [--config FILE] [--set KEY=VALUE]... [--check-config] [--idle-exit-ms N]\n"
                 "\n"
                 "  --config FILE      JSON configuration (see deploy/fundguard.example.json, docs/CONFIGURATION.md)\n"
                 "  --set KEY=VALUE    override one key, e.g. --set redis.port=6380 or\n"
                 "                     --set kafka.bootstrap.servers=host:9092\n"
                 "  --check-config     validate, print the effective settings (secrets masked) and exit\n"
                 "  --idle-exit-ms N   stop cleanly after N ms without input (demos, tests, replays)\n"
                 "\n"
                 "Stops cleanly on SIGINT/SIGTERM: finishes the batch in hand, commits, leaves the group.\n"
                 "SIGHUP re-reads the reference files (catalogue, blacklists) between batches.\n"
                 "Exit codes: 0 ok, 1 configuration/start-up error, 3 data loss detected, 4 fatal Kafka error.\n");
}

int fg_cli_run(int argc, char **argv) {
    const char *path = NULL;
    char **sets = calloc((size_t)argc + 1, sizeof(char *));
    int n_sets = 0, check = 0;
    long long idle = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--config") && i + 1 < argc)
            path = argv[++i];
        else if (!strcmp(argv[i], "--set") && i + 1 < argc)
            sets[n_sets++] = argv[++i];
        else if (!strcmp(argv[i], "--check-config"))
            check = 1;
        else if (!strcmp(argv[i], "--idle-exit-ms") && i + 1 < argc)
            idle = atoll(argv[++i]);
        else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            run_usage(stdout);
            free(sets);
            return 0;
        } else {
            fprintf(stderr, "fundguard run: unknown or incomplete option '%s'\n\n", argv[i]);
            run_usage(stderr);
            free(sets);
            return FG_EXIT_CONFIG;
        }
    }
    char err[1024];
    fg_config_t *cf = fg_settings_load(path, sets, n_sets, err, sizeof(err));
    free(sets);
    if (!cf) {
        fprintf(stderr, "fundguard: configuration error: %s\n", err);
        return FG_EXIT_CONFIG;
    }
    fg_log_set_level((fg_log_level_t)fg_log_level_parse(fg_config_str(cf, "log.level")));
    fg_log_set_json(fg_config_bool(cf, "log.json"));
    if (check) {
        fg_config_dump(cf, stdout);
        fprintf(stderr, "fundguard: configuration OK\n");
        fg_config_destroy(cf);
        return 0;
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL); /* re-read the reference files between batches */
    signal(SIGPIPE, SIG_IGN);

    /* the endpoint comes up first so /healthz answers and /readyz says why not ready during start-up */
    fg_http_t *http = NULL;
    const char *listen = fg_config_str(cf, "http.listen");
    if (listen && *listen && !(http = fg_http_start(listen, fg_config_str(cf, "http.web_root"), err, sizeof(err)))) {
        if (fg_config_bool(cf, "http.required")) {
            FG_ERROR("start-up failed: %s", err);
            fg_config_destroy(cf);
            return FG_EXIT_CONFIG;
        }
        /* e.g. a second process on one host: detection matters more than its metrics */
        FG_ERROR("%s; running without the HTTP endpoint (set http.required=true to refuse to start)", err);
    }
    fg_pipeline_t *pl = fg_pipeline_create(cf, err, sizeof(err));
    if (!pl) {
        FG_ERROR("start-up failed: %s", err);
        fg_http_stop(http);
        fg_config_destroy(cf);
        return FG_EXIT_CONFIG;
    }
    int rc = fg_pipeline_run(pl, &g_stop, &g_reload, idle);
    fg_pipeline_destroy(pl);
    fg_http_stop(http);
    fg_config_destroy(cf);
    FG_INFO("fundguard stopped (exit code %d)", rc);
    return rc;
}

/* `fundguard rules`: the rule catalogue as a markdown table, from the detector descriptors */
int fg_cli_rules(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fg_config_t *cf = fg_config_create();
    fg_settings_declare(cf);
    printf("| rule | 中文 / English | reads | fires when | settings (defaults) |\n");
    printf("|---|---|---|---|---|\n");
    for (size_t i = 0; fg_detectors[i]; i++) {
        const fg_detector_t *det = fg_detectors[i];
        printf("| `%s` | %s<br>%s | ", det->name, det->name_zh, det->name_en);
        const char *sep = "";
        for (int s = 0; s < FG_STREAM_COUNT; s++)
            if (det->streams & FG_STREAM_BIT(s)) {
                printf("%s%s", sep, fg_stream_name((fg_stream_t)s));
                sep = ", ";
            }
        printf(" | %s | ", det->description);
        for (size_t k = 0; k < det->n_conf; k++)
            printf("%s`%s`=%s", k ? ", " : "", det->conf[k].key, det->conf[k].def ? det->conf[k].def : "unset");
        printf(" |\n");
    }
    fg_config_destroy(cf);
    return 0;
}

int fg_cli_config_doc(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fg_config_t *cf = fg_config_create();
    fg_settings_declare(cf);
    fg_config_doc_markdown(cf, stdout);
    fg_config_destroy(cf);
    return 0;
}
