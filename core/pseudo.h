/*
 * pseudo.h - pseudonyms for personal identifiers (个人信息保护法).
 * Patient and card ids become keyed HMAC-SHA256 digests before they are used in
 * Redis keys or log lines, so neither needs the identifier in clear.
 */
#ifndef FG_PSEUDO_H
#define FG_PSEUDO_H

#include <stddef.h>

#define FG_PSEUDO_LEN 24 /* hex chars: 96 bits, collision-free at provincial scale */

/** @brief Sets the HMAC key (copied). Without one a built-in development key is used. */
void fg_pseudo_set_key(const void *key, size_t len);
/** @returns 1 if a key was configured, 0 if the development key is in use. */
int fg_pseudo_has_key(void);
/** @brief Writes FG_PSEUDO_LEN hex chars + NUL of HMAC-SHA256(key, id) into out. */
void fg_pseudo(const char *id, char out[FG_PSEUDO_LEN + 1]);

#endif
