/*
 * log.h - leveled logging to stderr, one line per event of interest.
 * Personal identifiers never go through here in clear: log pseudonyms.
 */
#ifndef FG_LOG_H
#define FG_LOG_H

typedef enum { FG_LOG_DEBUG = 0, FG_LOG_INFO, FG_LOG_WARN, FG_LOG_ERROR } fg_log_level_t;

/** @brief Sets the minimum level printed (default INFO). */
void fg_log_set_level(fg_log_level_t lvl);
/** @brief Parses "debug|info|warn|error"; returns -1 if unknown. */
int fg_log_level_parse(const char *s);
/** @brief Switches to JSON lines ({"ts":..,"level":..,"msg":..}). */
void fg_log_set_json(int on);
void fg_log(fg_log_level_t lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define FG_DEBUG(...) fg_log(FG_LOG_DEBUG, __VA_ARGS__)
#define FG_INFO(...) fg_log(FG_LOG_INFO, __VA_ARGS__)
#define FG_WARN(...) fg_log(FG_LOG_WARN, __VA_ARGS__)
#define FG_ERROR(...) fg_log(FG_LOG_ERROR, __VA_ARGS__)

#endif
