/* proc.h - running the fundguard binary from a test. */
#ifndef FG_TEST_PROC_H
#define FG_TEST_PROC_H

/**
 * @brief Runs `$FG_BIN args...` (NULL-terminated), stderr to log_path, and waits
 * at most timeout_s (then SIGKILL and fail). @returns its exit status.
 */
int fg_tp_run(const char *log_path, int timeout_s, const char *const *args);
/** @brief Writes text to path (test fixtures, configs). */
void fg_tp_write(const char *path, const char *text);
/** @returns malloc'd file contents (NUL-terminated), or NULL. */
char *fg_tp_read(const char *path);

#endif
