/*
 * main.c - the fundguard binary: one executable, subcommands.
 *   run       consume the three streams, run the detectors, publish alerts
 *   broker    the embedded Kafka-protocol broker for development, tests and demos
 *   alerts    the case officers' view of the alert topic(s)
 *   record    input topics to recorded stream files; replay puts them back
 */
#include <stdio.h>
#include <string.h>

#include "broker/broker.h"
#include "core/cli.h"
#include "benches/gen/gen.h"

static void usage(FILE *out) {
    fprintf(out,
            "usage: fundguard <command> [options]\n"
            "\n"
            "commands:\n"
            "  run          consume claims/inpatient/invoicing, detect, publish alerts\n"
            "  broker       start the embedded Kafka-protocol broker (development, tests, demo)\n"
            "  alerts       list, filter and follow alerts; `alerts show ID` prints one with its evidence\n"
            "  record       capture input topics to recorded stream files (.avro, .jsonl)\n"
            "  replay       produce recorded files to the input topics, paced by the group's lag\n"
            "  gen          write a synthetic province with injected fraud cases and ground truth\n"
            "  rules        print the rule catalogue (markdown)\n"
            "  config-doc   print the reference of every configuration key (markdown)\n"
            "  version      print the version\n"
            "\n"
            "`fundguard <command> --help` describes each command's options.\n");
}

int main(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "broker")) return fg_broker_main(argc - 1, argv + 1);
    if (!strcmp(cmd, "run")) return fg_cli_run(argc - 1, argv + 1);
    if (!strcmp(cmd, "alerts")) return fg_cli_alerts(argc - 1, argv + 1);
    if (!strcmp(cmd, "record")) return fg_cli_record(argc - 1, argv + 1);
    if (!strcmp(cmd, "replay")) return fg_cli_replay(argc - 1, argv + 1);
    if (!strcmp(cmd, "gen")) return fg_cli_gen(argc - 1, argv + 1);
    if (!strcmp(cmd, "config-doc")) return fg_cli_config_doc(argc - 1, argv + 1);
    if (!strcmp(cmd, "rules")) return fg_cli_rules(argc - 1, argv + 1);
    if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
        printf("fundguard %s\n", FG_VERSION);
        return 0;
    }
    fprintf(stderr, "fundguard: unknown command '%s'\n\n", cmd);
    usage(stderr);
    return 2;
}
