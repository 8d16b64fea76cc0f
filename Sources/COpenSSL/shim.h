// OpenSSL 3 for Swift. The SSL_CTX_ctrl/SSL_ctrl/BIO_ctrl wrappers are function-like
// macros and the SSL_OP_* bits are built with a cast macro (SSL_OP_BIT): Swift imports
// neither, so they are re-published here as static inline functions and constants.
// Only SluiceTLS imports this module.
#ifndef COPENSSL_SHIM_H
#define COPENSSL_SHIM_H
#include <stdint.h>
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/bio.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

/// SSL_CTX_set_min_proto_version (macro over SSL_CTX_ctrl). Returns 1 on success.
static inline int copenssl_ctx_set_min_proto_version(SSL_CTX *ctx, int version) {
    return (int)SSL_CTX_set_min_proto_version(ctx, version);
}

/// SSL_CTX_set_mode (macro over SSL_CTX_ctrl). Returns the new mode bitmask.
static inline long copenssl_ctx_set_mode(SSL_CTX *ctx, long mode) {
    return SSL_CTX_set_mode(ctx, mode);
}

/// SSL_set_tlsext_host_name (macro over SSL_ctrl, casts away const). Returns 1 on success.
static inline int copenssl_set_tlsext_host_name(SSL *ssl, const char *name) {
    return (int)SSL_set_tlsext_host_name(ssl, name);
}

/// BIO_pending (macro over BIO_ctrl): bytes waiting to be read from a memory BIO.
static inline size_t copenssl_bio_pending(BIO *bio) {
    return (size_t)BIO_pending(bio);
}

/// Whether this thread's OpenSSL error queue holds a fatal alert received from the peer
/// (reasons SSL_AD_REASON_OFFSET + alert code, e.g. "tlsv13 alert certificate required").
static inline int copenssl_queued_peer_alert(void) {
    unsigned long codes[2] = { ERR_peek_error(), ERR_peek_last_error() };
    for (int i = 0; i < 2; i++) {
        int reason = ERR_GET_REASON(codes[i]);
        if (codes[i] != 0 && ERR_GET_LIB(codes[i]) == ERR_LIB_SSL
            && reason >= SSL_AD_REASON_OFFSET && reason < SSL_AD_REASON_OFFSET + 256) return 1;
    }
    return 0;
}

/// SSL_OP_* bits (SSL_OP_BIT casts do not import).
static const uint64_t copenssl_op_no_renegotiation = SSL_OP_NO_RENEGOTIATION;
static const uint64_t copenssl_op_cipher_server_preference = SSL_OP_CIPHER_SERVER_PREFERENCE;
static const uint64_t copenssl_op_no_compression = SSL_OP_NO_COMPRESSION;

/// SSL_FILETYPE_PEM is an alias of another macro.
static const int copenssl_filetype_pem = SSL_FILETYPE_PEM;
#endif
