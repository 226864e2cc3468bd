/* common.c - clocks, the per-batch arena and error formatting. */
#define _POSIX_C_SOURCE 200809L
#include "common.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int64_t fg_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t fg_mono_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int fg_err(char *errstr, size_t errstr_size, int rc, const char *fmt, ...) {
    if (errstr && errstr_size) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(errstr, errstr_size, fmt, ap);
        va_end(ap);
    }
    return rc;
}

typedef struct fg_chunk {
    struct fg_chunk *next;
    size_t size, used;
    _Alignas(16) unsigned char data[];
} fg_chunk_t;

struct fg_arena {
    fg_chunk_t *head; /* current chunk; older ones follow */
    size_t chunk_size;
    size_t footprint;
};

static fg_chunk_t *chunk_new(size_t size) {
    fg_chunk_t *c = malloc(sizeof(*c) + size);
    if (!c) {
        fprintf(stderr, "fundguard: out of memory allocating %zu bytes\n", size);
        abort();
    }
    c->next = NULL;
    c->size = size;
    c->used = 0;
    return c;
}

fg_arena_t *fg_arena_create(size_t chunk_size) {
    fg_arena_t *a = calloc(1, sizeof(*a));
    if (!a) abort();
    a->chunk_size = chunk_size ? chunk_size : 64 * 1024;
    a->head = chunk_new(a->chunk_size);
    a->footprint = a->chunk_size;
    return a;
}

void fg_arena_destroy(fg_arena_t *a) {
    if (!a) return;
    fg_chunk_t *c = a->head;
    while (c) {
        fg_chunk_t *n = c->next;
        free(c);
        c = n;
    }
    free(a);
}

void *fg_arena_alloc(fg_arena_t *a, size_t size) {
    size = (size + 15) & ~(size_t)15;
    if (a->head->used + size > a->head->size) {
        size_t sz = size > a->chunk_size ? size : a->chunk_size;
        fg_chunk_t *c = chunk_new(sz);
        c->next = a->head;
        a->head = c;
        a->footprint += sz;
    }
    void *p = a->head->data + a->head->used;
    a->head->used += size;
    memset(p, 0, size);
    return p;
}

char *fg_arena_strndup(fg_arena_t *a, const char *s, size_t len) {
    char *p = fg_arena_alloc(a, len + 1);
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

void fg_arena_reset(fg_arena_t *a) {
    /* keep the oldest chunk (the one made at creation), free the rest */
    fg_chunk_t *c = a->head;
    while (c->next) {
        fg_chunk_t *n = c->next;
        a->footprint -= c->size;
        free(c);
        c = n;
    }
    c->used = 0;
    a->head = c;
}

size_t fg_arena_footprint(const fg_arena_t *a) { return a->footprint; }
