// Feeding a batch of images: rows of bytes gathered from the data set and converted to floats.
#include "nabla_kernels.h"

enum { AHEAD = 4 };

#define DEFINE_ROWS_OF_BYTES(NAME, TARGET)                                                           \
    TARGET static void NAME(const uint8_t *src, long w, const long *rows, long count, float divisor, \
                            float *dst) {                                                            \
        for (long r = 0; r < count; r++) {                                                           \
            if (r + AHEAD < count)                                                                   \
                for (long l = 0; l < w; l += 64) __builtin_prefetch(src + rows[r + AHEAD] * w + l);  \
            const uint8_t *from = src + rows[r] * w;                                                 \
            float *to = dst + r * w;                                                                 \
            for (long j = 0; j < w; j++) to[j] = (float)from[j] / divisor;                           \
        }                                                                                            \
    }

DEFINE_ROWS_OF_BYTES(rows_of_bytes_plain, )
#if defined(__x86_64__)
DEFINE_ROWS_OF_BYTES(rows_of_bytes_avx512, __attribute__((target("avx512f,avx512bw"))))
#endif

void nabla_rows_of_bytes(const uint8_t *src, long w, const long *rows, long count, float divisor, float *dst) {
#if defined(__x86_64__)
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")) {
        rows_of_bytes_avx512(src, w, rows, count, divisor, dst);
        return;
    }
#endif
    rows_of_bytes_plain(src, w, rows, count, divisor, dst);
}
