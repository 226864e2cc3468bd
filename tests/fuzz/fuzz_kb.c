/*
 * fuzz_kb.c - libFuzzer target for fg_kb_load (reference/ JSON files).
 *
 * Input: byte 0 selects the file (even: catalogue, odd: blacklists), the rest
 * is its content, written to a private temporary file because fg_kb_load
 * reads paths. Contract: a kb, or NULL with a non-empty error; a loaded kb
 * clones and answers lookups.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "reference/kb.h"

static void die(const char *what, const char *detail) {
    fprintf(stderr, "fuzz_kb: contract violated: %s: %s\n", what, detail ? detail : "");
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static char path[64];
    if (!path[0]) {
        fg_log_set_level(FG_LOG_ERROR);
        snprintf(path, sizeof(path), "/tmp/fg-fuzz-kb-%ld.json", (long)getpid());
    }
    if (size < 1) return 0;
    FILE *f = fopen(path, "wb");
    if (!f) die("fopen", path);
    if (size > 1 && fwrite(data + 1, 1, size - 1, f) != size - 1) die("fwrite", path);
    fclose(f);
    int blacklists = data[0] & 1;
    char err[512];
    memset(err, 0, sizeof(err));
    fg_kb_t *kb = blacklists ? fg_kb_load(NULL, path, err, sizeof(err)) : fg_kb_load(path, NULL, err, sizeof(err));
    if (!kb) {
        if (!err[0]) die("declined with an empty error", NULL);
    } else {
        fg_kb_t *c = fg_kb_clone(kb);
        if (!c) die("clone failed", NULL);
        if (fg_kb_item_count(c) != fg_kb_item_count(kb)) die("clone lost items", NULL);
        (void)fg_kb_item(c, "X01");
        (void)fg_kb_listed(c, FG_KB_DOCTOR, "D-1");
        if (!fg_kb_version(c)) die("no version", NULL);
        fg_kb_destroy(c);
        fg_kb_destroy(kb);
    }
    unlink(path);
    return 0;
}
