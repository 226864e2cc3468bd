/* settings.h - the core configuration table and loading a config for a subcommand. */
#ifndef FG_SETTINGS_H
#define FG_SETTINGS_H

#include "config.h"

/** @brief Declares every core key and every detector's keys in cf. */
void fg_settings_declare(fg_config_t *cf);

/**
 * @brief Creates a config with all declarations, loads path (if not NULL) then
 * applies "key=value" overrides. @returns the config or NULL with errstr set.
 */
fg_config_t *fg_settings_load(const char *path, char **overrides, int n_overrides, char *errstr,
                              size_t errstr_size);

#endif
