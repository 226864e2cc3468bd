/* cli.h - subcommands implemented in the library (so tests can call them too). */
#ifndef FG_CLI_H
#define FG_CLI_H

#define FG_VERSION "0.1.0"

/** @brief `fundguard run`: argv[0] is "run". @returns the process exit code. */
int fg_cli_run(int argc, char **argv);
/** @brief `fundguard rules`: the rule catalogue (markdown), as in the README. */
int fg_cli_rules(int argc, char **argv);
/** @brief `fundguard config-doc`: prints docs/CONFIGURATION.md. */
int fg_cli_config_doc(int argc, char **argv);
/** @brief `fundguard alerts` (consumers/alerts_cli.c): list, filter, follow and show alerts. */
int fg_cli_alerts(int argc, char **argv);
/** @brief `fundguard record` (consumers/record.c): input topics to recorded stream files. */
int fg_cli_record(int argc, char **argv);
/** @brief `fundguard replay` (consumers/replay.c): recorded files back onto the input topics. */
int fg_cli_replay(int argc, char **argv);

#endif
