/*
 * common.h - return codes, time and a per-batch arena shared by every stage
 * of the pipeline (consumers -> schemas -> detectors -> state -> alerts).
 */
#ifndef FG_COMMON_H
#define FG_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Return codes say what the caller must do, not only ok/fail
 * (nginx's OK / DECLINED / AGAIN).
 */
#define FG_OK 0
#define FG_ERR -1      /**< failure; errstr says why; not retryable as is */
#define FG_AGAIN -2    /**< transient: state store or broker unavailable, retry later */
#define FG_DECLINED -3 /**< bad input: dead-letter the event, go on */
#define FG_CONFLICT -4 /**< another replica changed a key this batch read (WATCH): redo the batch now */

#define FG_MS_PER_DAY (86400LL * 1000LL)
#define FG_MS_PER_HOUR (3600LL * 1000LL)

/** @brief Wall-clock time in milliseconds since the epoch. */
int64_t fg_now_ms(void);
/** @brief Monotonic clock in microseconds (for measuring durations). */
int64_t fg_mono_us(void);

/**
 * @brief Bump allocator for the lifetime of one poll batch: decoded events,
 * their strings and item arrays live here and are released together.
 */
typedef struct fg_arena fg_arena_t;

/** @returns a new arena; caller frees with fg_arena_destroy(). */
fg_arena_t *fg_arena_create(size_t chunk_size);
/** @brief Frees every chunk. Accepts NULL. */
void fg_arena_destroy(fg_arena_t *a);
/** @returns zeroed memory aligned to 16 bytes, owned by the arena. Aborts on OOM. */
void *fg_arena_alloc(fg_arena_t *a, size_t size);
/** @returns a NUL-terminated copy of s[0..len) owned by the arena. */
char *fg_arena_strndup(fg_arena_t *a, const char *s, size_t len);
/** @brief Releases everything allocated since creation; keeps the first chunk. */
void fg_arena_reset(fg_arena_t *a);
/** @returns bytes currently allocated from the system (for memory metrics). */
size_t fg_arena_footprint(const fg_arena_t *a);

/** @brief snprintf into errstr if errstr is not NULL; always returns rc. */
int fg_err(char *errstr, size_t errstr_size, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define FG_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif
