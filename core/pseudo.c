/* pseudo.c - keyed HMAC-SHA256 pseudonyms for patient and card identifiers. */
#include "pseudo.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string.h>

/* Development default only: `fundguard run` warns loudly when it is in use. */
static unsigned char g_key[64] = "fundguard-development-key-not-for-production";
static size_t g_key_len = 44;
static int g_has_key = 0;

void fg_pseudo_set_key(const void *key, size_t len) {
    if (len > sizeof(g_key)) {
        /* HMAC hashes long keys anyway; do the same so any length works */
        unsigned int n = 0;
        EVP_Digest(key, len, g_key, &n, EVP_sha256(), NULL);
        g_key_len = n;
    } else {
        memcpy(g_key, key, len);
        g_key_len = len;
    }
    g_has_key = 1;
}

int fg_pseudo_has_key(void) { return g_has_key; }

void fg_pseudo(const char *id, char out[FG_PSEUDO_LEN + 1]) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    HMAC(EVP_sha256(), g_key, (int)g_key_len, (const unsigned char *)id, strlen(id), md, &mdlen);
    static const char d[] = "0123456789abcdef";
    for (int i = 0; i < FG_PSEUDO_LEN / 2; i++) {
        out[2 * i] = d[md[i] >> 4];
        out[2 * i + 1] = d[md[i] & 15];
    }
    out[FG_PSEUDO_LEN] = '\0';
}
