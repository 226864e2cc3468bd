/*
 * pseudo.c - keyed HMAC-SHA256 pseudonyms for patient and card identifiers.
 *
 * Every claim needs two pseudonyms, so this is on the hot path: the SHA-256
 * states after absorbing key^ipad and key^opad are computed once per key and
 * copied per call (RFC 2104), instead of OpenSSL's one-shot HMAC(), which
 * re-fetches the digest and re-hashes the key every time (~3x slower here).
 */
#include "pseudo.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#define BLOCK 64 /* SHA-256 block size */

/* Development default only: `fundguard run` warns loudly when it is in use. */
static const char g_dev_key[] = "fundguard-development-key-not-for-production";
static int g_has_key = 0;
static EVP_MD_CTX *g_inner, *g_outer; /* states after key^ipad / key^opad */
static EVP_MD_CTX *t_work; /* the pipeline thread is the only caller */

static void precompute(const unsigned char *key, size_t len) {
    unsigned char k[BLOCK] = {0}, pad[BLOCK];
    if (len > BLOCK) {
        unsigned int n = 0;
        EVP_Digest(key, len, k, &n, EVP_sha256(), NULL);
    } else {
        memcpy(k, key, len);
    }
    if (!g_inner) g_inner = EVP_MD_CTX_new();
    if (!g_outer) g_outer = EVP_MD_CTX_new();
    if (!g_inner || !g_outer) abort();
    for (int i = 0; i < BLOCK; i++) pad[i] = k[i] ^ 0x36;
    EVP_DigestInit_ex(g_inner, EVP_sha256(), NULL);
    EVP_DigestUpdate(g_inner, pad, BLOCK);
    for (int i = 0; i < BLOCK; i++) pad[i] = k[i] ^ 0x5c;
    EVP_DigestInit_ex(g_outer, EVP_sha256(), NULL);
    EVP_DigestUpdate(g_outer, pad, BLOCK);
    memset(k, 0, sizeof(k));
    memset(pad, 0, sizeof(pad));
}

void fg_pseudo_set_key(const void *key, size_t len) {
    precompute(key, len);
    g_has_key = 1;
}

int fg_pseudo_has_key(void) { return g_has_key; }

void fg_pseudo(const char *id, char out[FG_PSEUDO_LEN + 1]) {
    if (!g_inner) precompute((const unsigned char *)g_dev_key, sizeof(g_dev_key) - 1);
    if (!t_work && !(t_work = EVP_MD_CTX_new())) abort();
    unsigned char ih[32], md[32];
    unsigned int n = 0;
    EVP_MD_CTX_copy_ex(t_work, g_inner);
    EVP_DigestUpdate(t_work, id, strlen(id));
    EVP_DigestFinal_ex(t_work, ih, &n);
    EVP_MD_CTX_copy_ex(t_work, g_outer);
    EVP_DigestUpdate(t_work, ih, sizeof(ih));
    EVP_DigestFinal_ex(t_work, md, &n);
    static const char d[] = "0123456789abcdef";
    for (int i = 0; i < FG_PSEUDO_LEN / 2; i++) {
        out[2 * i] = d[md[i] >> 4];
        out[2 * i + 1] = d[md[i] & 15];
    }
    out[FG_PSEUDO_LEN] = '\0';
}

__attribute__((destructor)) static void fg_pseudo_fini(void) {
    EVP_MD_CTX_free(g_inner);
    EVP_MD_CTX_free(g_outer);
    EVP_MD_CTX_free(t_work);
    g_inner = g_outer = t_work = NULL;
}
