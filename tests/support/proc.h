/* proc.h - running the fundguard binary from a test. */
#ifndef FG_TEST_PROC_H
#define FG_TEST_PROC_H

/**
 * @brief Runs `$FG_BIN args...` (NULL-terminated), stderr to log_path, and waits
 * at most timeout_s (then SIGKILL and fail). @returns its exit status.
 */
int fg_tp_run(const char *log_path, int timeout_s, const char *const *args);
/**
 * @brief Starts `$FG_BIN args...` (NULL-terminated) in the background, stdout and
 * stderr appended to log_path (one log over restarts). @returns its pid; reap it with fg_tp_wait.
 */
int fg_tp_spawn(const char *log_path, const char *const *args);
/**
 * @brief Waits at most timeout_s (0: just look) for pid to end.
 * @returns 1 with its wait status in *status if it ended, else 0 (still running).
 */
int fg_tp_wait(int pid, double timeout_s, int *status);
/** @brief Waits for pid to end within timeout_s and fails the test unless it exited 0 (SIGKILL on timeout). */
void fg_tp_finish(int pid, double timeout_s, const char *log_path);
/** @brief SIGKILLs and reaps every fg_tp_spawn process not reaped yet (a .fini, so a failed test leaves none behind). */
void fg_tp_kill_spawned(void);
/** @brief Writes text to path (test fixtures, configs). */
void fg_tp_write(const char *path, const char *text);
/** @returns malloc'd file contents (NUL-terminated), or NULL. */
char *fg_tp_read(const char *path);

#endif
