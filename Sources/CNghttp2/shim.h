#ifndef SLUICE_CNGHTTP2_SHIM_H
#define SLUICE_CNGHTTP2_SHIM_H

#include <stddef.h>
#include <stdint.h>
#include <nghttp2/nghttp2.h>

/* Parenthesised macros do not import into Swift: re-published here. */
static const int32_t sluice_nghttp2_initial_window_size = NGHTTP2_INITIAL_WINDOW_SIZE;
static const uint32_t sluice_nghttp2_initial_max_concurrent_streams = NGHTTP2_INITIAL_MAX_CONCURRENT_STREAMS;
static const uint32_t sluice_nghttp2_version_num = NGHTTP2_VERSION_NUM;

/*
 * Upstream nghttp2 1.52.0 has neither nghttp2_option_set_stream_reset_rate_limit (1.57)
 * nor nghttp2_option_set_max_continuations (1.61); Debian's 1.52.0-1+deb12uN backports
 * both without changing NGHTTP2_VERSION_NUM, so the version cannot gate them. Declare
 * them weak and test the address at run time: the build links against either library.
 */
void nghttp2_option_set_stream_reset_rate_limit(nghttp2_option *option, uint64_t burst,
                                                uint64_t rate) __attribute__((weak));
void nghttp2_option_set_max_continuations(nghttp2_option *option, size_t val)
    __attribute__((weak));

/* Returns 1 when the library has the Rapid Reset limiter and it was set, else 0. */
static inline int sluice_nghttp2_option_set_stream_reset_rate_limit(nghttp2_option *option,
                                                                    uint64_t burst,
                                                                    uint64_t rate) {
    if (nghttp2_option_set_stream_reset_rate_limit == NULL) return 0;
    nghttp2_option_set_stream_reset_rate_limit(option, burst, rate);
    return 1;
}

/* Returns 1 when the library has the CONTINUATION flood limit and it was set, else 0. */
static inline int sluice_nghttp2_option_set_max_continuations(nghttp2_option *option,
                                                              size_t val) {
    if (nghttp2_option_set_max_continuations == NULL) return 0;
    nghttp2_option_set_max_continuations(option, val);
    return 1;
}

#endif
