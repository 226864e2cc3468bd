/* proc.c - spawning `fundguard` from integration tests, bounded in time. */
#include "proc.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

int fg_tp_run(const char *log_path, int timeout_s, const char *const *args) {
    const char *argv[64];
    int n = 0;
    argv[n++] = fg_test_bin();
    for (int i = 0; args[i] && n < 63; i++) argv[n++] = args[i];
    argv[n] = NULL;
    pid_t pid = fork();
    cr_assert(pid >= 0, "fork failed");
    if (pid == 0) {
        int fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, 2);
            dup2(fd, 1);
        }
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    int status = 0;
    for (int waited = 0; waited < timeout_s * 10; waited++) {
        if (waitpid(pid, &status, WNOHANG) == pid) {
            cr_assert(WIFEXITED(status), "fundguard died by signal %d (log: %s)", WTERMSIG(status), log_path);
            return WEXITSTATUS(status);
        }
        struct timespec ts = {0, 100000000L};
        nanosleep(&ts, NULL);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    cr_assert_fail("fundguard did not finish within %d s (log: %s)", timeout_s, log_path);
    return -1;
}

/* processes started by fg_tp_spawn and not reaped yet (fg_tp_kill_spawned) */
static pid_t spawned[64];

static void forget(pid_t pid) {
    for (size_t i = 0; i < sizeof(spawned) / sizeof(spawned[0]); i++)
        if (spawned[i] == pid) spawned[i] = 0;
}

int fg_tp_spawn(const char *log_path, const char *const *args) {
    const char *argv[64];
    int n = 0;
    argv[n++] = fg_test_bin();
    for (int i = 0; args[i] && n < 63; i++) argv[n++] = args[i];
    argv[n] = NULL;
    pid_t pid = fork();
    cr_assert(pid >= 0, "fork failed");
    if (pid == 0) {
        int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 2);
            dup2(fd, 1);
        }
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    for (size_t i = 0; i < sizeof(spawned) / sizeof(spawned[0]); i++)
        if (!spawned[i]) {
            spawned[i] = pid;
            break;
        }
    return (int)pid;
}

int fg_tp_wait(int pid, double timeout_s, int *status) {
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        pid_t r = waitpid((pid_t)pid, status, WNOHANG);
        if (r == (pid_t)pid || (r < 0 && errno == ECHILD)) { /* ECHILD: reaped already */
            if (r < 0) *status = -1;
            forget((pid_t)pid);
            return 1;
        }
        clock_gettime(CLOCK_MONOTONIC, &now);
        if ((double)(now.tv_sec - t0.tv_sec) + (double)(now.tv_nsec - t0.tv_nsec) / 1e9 >= timeout_s) return 0;
        struct timespec ts = {0, 20000000L};
        nanosleep(&ts, NULL);
    }
}

void fg_tp_finish(int pid, double timeout_s, const char *log_path) {
    int status = 0;
    if (!fg_tp_wait(pid, timeout_s, &status)) {
        kill((pid_t)pid, SIGKILL);
        waitpid((pid_t)pid, &status, 0);
        forget((pid_t)pid);
        cr_assert_fail("fundguard did not finish within %.0f s (log %s)", timeout_s, log_path);
    }
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "fundguard ended with status 0x%x (log %s)", status,
              log_path);
}

void fg_tp_kill_spawned(void) {
    for (size_t i = 0; i < sizeof(spawned) / sizeof(spawned[0]); i++) {
        if (!spawned[i]) continue;
        kill(spawned[i], SIGKILL);
        waitpid(spawned[i], NULL, 0);
        spawned[i] = 0;
    }
}

void fg_tp_write(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    cr_assert(f, "cannot write %s", path);
    fputs(text, f);
    fclose(f);
}

char *fg_tp_read(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    size_t got = fread(s, 1, (size_t)n, f);
    s[got] = '\0';
    fclose(f);
    return s;
}
