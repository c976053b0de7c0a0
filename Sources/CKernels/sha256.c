// SHA-256 through OpenSSL's libcrypto (EVP), which uses the CPU's SHA extensions where it has them.
// Used for text, recipe, content and array hashes. Measured against the hand-written C it replaced in
// BENCHMARKS.md (issue 14): about 6x on a CPU with SHA-NI.
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include "CKernels.h"

static EVP_MD *sha256_algorithm;
static pthread_once_t algorithm_once = PTHREAD_ONCE_INIT;
static pthread_key_t thread_context_key;

static void fail(const char *what) {
    fprintf(stderr, "quadcat: OpenSSL SHA-256 failed: %s\n", what);
    abort();
}

static void free_thread_context(void *context) { EVP_MD_CTX_free(context); }

// Fetching the algorithm once (OpenSSL 3's explicit fetch) avoids a provider lookup on every digest.
static void fetch_algorithm(void) {
    sha256_algorithm = EVP_MD_fetch(NULL, "SHA256", NULL);
    if (sha256_algorithm == NULL) fail("the SHA256 algorithm is not available");
    if (pthread_key_create(&thread_context_key, free_thread_context) != 0) fail("no thread-local key");
}

static const EVP_MD *algorithm(void) {
    pthread_once(&algorithm_once, fetch_algorithm);
    return sha256_algorithm;
}

static EVP_MD_CTX *new_context(void) {
    EVP_MD_CTX *context = EVP_MD_CTX_new();
    if (context == NULL) fail("out of memory");
    return context;
}

void qc_sha256_init(qc_sha256_state *s) {
    EVP_MD_CTX *context = new_context();
    if (EVP_DigestInit_ex2(context, algorithm(), NULL) != 1) fail("init");
    s->context = context;
}

void qc_sha256_update(qc_sha256_state *s, const void *data, size_t len) {
    if (len > 0 && EVP_DigestUpdate(s->context, data, len) != 1) fail("update");
}

void qc_sha256_final(qc_sha256_state *s, uint8_t out[32]) {
    unsigned int length = 0;
    if (EVP_DigestFinal_ex(s->context, out, &length) != 1 || length != 32) fail("final");
    qc_sha256_discard(s);
}

void qc_sha256_discard(qc_sha256_state *s) {
    EVP_MD_CTX_free(s->context);
    s->context = NULL;
}

void qc_sha256(const void *data, size_t len, uint8_t out[32]) {
    const EVP_MD *md = algorithm();
    // One context per thread, reused: a digest per document must not allocate.
    EVP_MD_CTX *context = pthread_getspecific(thread_context_key);
    if (context == NULL) {
        context = new_context();
        if (pthread_setspecific(thread_context_key, context) != 0) fail("no thread-local storage");
    }
    unsigned int length = 0;
    if (EVP_DigestInit_ex2(context, md, NULL) != 1 || (len > 0 && EVP_DigestUpdate(context, data, len) != 1) ||
        EVP_DigestFinal_ex(context, out, &length) != 1 || length != 32)
        fail("digest");
}
