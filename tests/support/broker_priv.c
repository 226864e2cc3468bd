/* broker_priv.c - private embedded brokers for fault tests (see broker_priv.h). */
#include "broker_priv.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "proc.h"

void fg_tbroker_start(fg_tbroker_t *b, int partitions, const char *const *topics) {
    memset(b, 0, sizeof(*b));
    const char *u = fg_test_unique("broker");
    snprintf(b->file, sizeof(b->file), "/tmp/%s.bootstrap", u);
    snprintf(b->log, sizeof(b->log), "/tmp/%s.log", u);
    unlink(b->file);
    char parts[16];
    snprintf(parts, sizeof(parts), "%d", partitions);
    const char *args[64];
    int n = 0;
    args[n++] = "broker";
    args[n++] = "--partitions";
    args[n++] = parts;
    args[n++] = "--bootstrap-file";
    args[n++] = b->file;
    for (int i = 0; topics[i] && n < 61; i++) {
        args[n++] = "--topic";
        args[n++] = topics[i];
    }
    args[n] = NULL;
    b->pid = fg_tp_spawn(b->log, args);
    for (int i = 0; i < 500; i++) { /* up to ~10 s */
        char *s = fg_tp_read(b->file);
        if (s) {
            s[strcspn(s, "\n")] = '\0';
            snprintf(b->bootstrap, sizeof(b->bootstrap), "%s", s);
            free(s);
            if (b->bootstrap[0]) {
                setenv("FG_TEST_BOOTSTRAP", b->bootstrap, 1);
                return;
            }
        }
        int status;
        if (fg_tp_wait(b->pid, 0.02, &status)) {
            b->pid = 0;
            cr_assert_fail("private broker exited with status 0x%x (log %s)", status, b->log);
        }
    }
    cr_assert_fail("private broker did not write %s within 10 s (log %s)", b->file, b->log);
}

void fg_tbroker_down(fg_tbroker_t *b) {
    cr_assert(b->pid > 0 && kill(b->pid, SIGUSR1) == 0, "cannot signal the private broker");
}

void fg_tbroker_up(fg_tbroker_t *b) {
    cr_assert(b->pid > 0 && kill(b->pid, SIGUSR2) == 0, "cannot signal the private broker");
}

void fg_tbroker_stop(fg_tbroker_t *b) {
    if (!b || b->pid <= 0) return;
    kill(b->pid, SIGTERM);
    int status;
    if (!fg_tp_wait(b->pid, 10, &status)) {
        kill(b->pid, SIGKILL);
        fg_tp_wait(b->pid, 10, &status);
    }
    b->pid = 0;
}
