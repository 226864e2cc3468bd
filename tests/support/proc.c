/* proc.c - spawning `fundguard` from integration tests, bounded in time. */
#include "proc.h"

#include <criterion/criterion.h>
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
