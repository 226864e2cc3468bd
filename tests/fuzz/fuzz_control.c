/*
 * fuzz_control.c - libFuzzer target for fg_control_parse (control-topic
 * messages). The whole input is the message payload (not NUL-terminated, as
 * librdkafka hands it over).
 *
 * Contract: 0 with a message whose strings are NUL-terminated within their
 * buffers and whose op/list are in range, or -1 with a non-empty reason.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consumers/control.h"
#include "core/log.h"
#include "reference/kb.h"

static void die(const char *what, const char *detail) {
    fprintf(stderr, "fuzz_control: contract violated: %s: %s\n", what, detail ? detail : "");
    abort();
}

#define TERMINATED(a) (memchr((a), '\0', sizeof(a)) != NULL)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int init;
    if (!init) {
        fg_log_set_level(FG_LOG_ERROR);
        init = 1;
    }
    char *msg = malloc(size ? size : 1);
    if (size) memcpy(msg, data, size);
    fg_control_msg_t m;
    char reason[256];
    memset(reason, 0, sizeof(reason));
    int rc = fg_control_parse(msg, size, &m, reason, sizeof(reason));
    if (rc == 0) {
        if (!TERMINATED(m.key) || !TERMINATED(m.value) || !TERMINATED(m.id) || !TERMINATED(m.version))
            die("unterminated field", NULL);
        switch (m.op) {
        case FG_CTL_SET:
            if (strncmp(m.key, "detectors.", 10)) die("set of a non-detectors key accepted", m.key);
            break;
        case FG_CTL_BLACKLIST_ADD:
        case FG_CTL_BLACKLIST_REMOVE:
            if (m.list < 0 || m.list >= FG_KB_LIST_COUNT) die("list out of range", NULL);
            if (!m.id[0]) die("empty blacklist id accepted", NULL);
            break;
        case FG_CTL_RELOAD: break;
        default: die("op out of range", NULL);
        }
    } else if (rc == -1) {
        if (!reason[0]) die("declined with an empty reason", NULL);
    } else {
        die("rc neither 0 nor -1", NULL);
    }
    free(msg);
    return 0;
}
