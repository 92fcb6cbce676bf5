// C = op(A) B with op(A) mostly zeros. First op(A)'s rows are compressed to their nonzeros
// (column index and value); then each row of C is the sum, over its row's nonzeros v at
// column p, of v times B's row p, built in registers a tile of vectors at a time, so B's rows
// are read once per nonzero and tile and C is written once. One body per vector width: AVX-512,
// AVX2 and plain C, chosen at the first call by what the CPU has.
#include "nabla_kernels.h"
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

// The compressed rows: row r's entries are start[r] ..< start[r + 1].
typedef struct {
    int32_t *start, *index;
    float *value;
} sparse_rows;

// MARK: - One body per vector width

// NAME##_product: each row of C from its row's nonzeros, in tiles of TILE vectors of W floats
// (all of a 256-wide row at once with AVX-512's 32 registers), then 4, then 1, then singly.
// NAME##_rows_of_a: op(A) = A, rows first ..< end. NAME##_rows_of_transpose: op(A) = Aᵀ with A
// stored k x m; op(A)'s row i is A's column i: counted per column, then filled in order of A's
// rows (so each row's entries come in order of index). Both return the number of nonzeros, or
// -1 past `most`.
#define DEFINE_KERNELS(NAME, TARGET, W, TILE, MASK16)                                                       \
    typedef float NAME##_v __attribute__((vector_size(4 * W), aligned(4), may_alias));              \
                                                                                                      \
    TARGET static uint32_t NAME##_mask(const float *p, long width) {                                  \
        if (width == 16) return MASK16(p);                                                            \
        uint32_t mask = 0;                                                                            \
        for (long j = 0; j < width; j++) mask |= (uint32_t)(p[j] != 0) << j;                          \
        return mask;                                                                                  \
    }                                                                                                 \
                                                                                                      \
    TARGET static long NAME##_rows_of_a(long first, long end, long k, const float *a, long lda,       \
                                        long most, sparse_rows s) {                                   \
        long nnz = 0;                                                                                 \
        for (long i = first; i < end; i++) {                                                          \
            s.start[i - first] = (int32_t)nnz;                                                        \
            const float *row = a + i * lda;                                                           \
            for (long j0 = 0; j0 < k; j0 += 16) {                                                     \
                uint32_t mask = NAME##_mask(row + j0, k - j0 < 16 ? k - j0 : 16);                     \
                if (nnz + __builtin_popcount(mask) > most) return -1;                                 \
                for (; mask; mask &= mask - 1) {                                                      \
                    int j = __builtin_ctz(mask);                                                      \
                    s.index[nnz] = (int32_t)(j0 + j);                                                 \
                    s.value[nnz++] = row[j0 + j];                                                     \
                }                                                                                     \
            }                                                                                         \
        }                                                                                             \
        s.start[end - first] = (int32_t)nnz;                                                          \
        return nnz;                                                                                   \
    }                                                                                                 \
                                                                                                      \
    TARGET static long NAME##_rows_of_transpose(long first, long end, long k, const float *a,         \
                                                long lda, long most, sparse_rows s) {                 \
        const long m = end - first;                                                                   \
        int32_t *count = s.start + 1;                                                                 \
        memset(s.start, 0, (size_t)(m + 1) * sizeof(int32_t));                                        \
        for (long p = 0; p < k; p++) {                                                                \
            const float *row = a + p * lda + first;                                                   \
            for (long i = 0; i < m; i++) count[i] += row[i] != 0;                                     \
        }                                                                                             \
        long total = 0;                                                                               \
        for (long i = 1; i <= m; i++) {                                                               \
            total += s.start[i];                                                                      \
            if (total > most) return -1;                                                              \
            s.start[i] = (int32_t)total;                                                              \
        }                                                                                             \
        for (long p = 0; p < k; p++) {                                                                \
            const float *row = a + p * lda + first;                                                   \
            for (long i0 = 0; i0 < m; i0 += 16) {                                                     \
                uint32_t mask = NAME##_mask(row + i0, m - i0 < 16 ? m - i0 : 16);                     \
                for (; mask; mask &= mask - 1) {                                                      \
                    long i = i0 + __builtin_ctz(mask);                                                \
                    int32_t e = s.start[i]++;                                                         \
                    s.index[e] = (int32_t)p;                                                          \
                    s.value[e] = row[i];                                                              \
                }                                                                                     \
            }                                                                                         \
        }                                                                                             \
        /* start[i] now holds where row i + 1 begins: shift back. */                                  \
        memmove(s.start + 1, s.start, (size_t)m * sizeof(int32_t));                                   \
        s.start[0] = 0;                                                                               \
        return s.start[m];                                                                            \
    }                                                                                                 \
                                                                                                      \
    TARGET static void NAME##_product(sparse_rows s, long rows, long n, const float *b, long ldb,     \
                                      float beta, float *c, long ldc) {                               \
        for (long r = 0; r < rows; r++) {                                                             \
            const int32_t first = s.start[r], last = s.start[r + 1];                                  \
            float *crow = c + r * ldc;                                                                \
            long j = 0;                                                                               \
            TILE_PASS(NAME##_v, W, TILE)                                                              \
            TILE_PASS(NAME##_v, W, 4)                                                                 \
            TILE_PASS(NAME##_v, W, 1)                                                                 \
            for (; j < n; j++) {                                                                      \
                float acc = beta == 0 ? 0 : beta * crow[j];                                           \
                for (int32_t t = first; t < last; t++) acc += s.value[t] * b[(long)s.index[t] * ldb + j]; \
                crow[j] = acc;                                                                        \
            }                                                                                         \
        }                                                                                             \
    }

// Columns j ..< j + Q·W of C's row: Q vectors of W floats, summed in registers over the row's
// nonzeros, as many times as they fit.
#define TILE_PASS(V, W, Q)                                                                            \
    for (; j + (Q) * (W) <= n; j += (Q) * (W)) {                                                      \
        V acc[Q];                                                                                     \
        for (int q = 0; q < (Q); q++) acc[q] = beta == 0 ? (V){0} : beta * *(const V *)(crow + j + q * (W)); \
        for (int32_t t = first; t < last; t++) {                                                      \
            const float v = s.value[t];                                                               \
            const float *brow = b + (long)s.index[t] * ldb + j;                                       \
            for (int q = 0; q < (Q); q++) acc[q] += v * *(const V *)(brow + q * (W));                 \
        }                                                                                             \
        for (int q = 0; q < (Q); q++) *(V *)(crow + j + q * (W)) = acc[q];                            \
    }

// The nonzeros of a matrix, or limit + 1 once past it (one body per vector width, as above).
#define DEFINE_NONZEROS(NAME, TARGET)                                                                 \
    TARGET static long NAME(long rows, long cols, const float *a, long lda, long limit) {             \
        long count = 0;                                                                               \
        for (long i = 0; i < rows && count <= limit; i++) {                                           \
            const float *row = a + i * lda;                                                           \
            int32_t here = 0;                                                                         \
            for (long j = 0; j < cols; j++) here += row[j] != 0;                                      \
            count += here;                                                                            \
        }                                                                                             \
        return count <= limit ? count : limit + 1;                                                    \
    }
DEFINE_NONZEROS(plain_nonzeros, )
#if defined(__x86_64__)
DEFINE_NONZEROS(avx512_nonzeros, __attribute__((target("avx512f,avx512bw"))))
#endif

#define PLAIN_MASK16(p) NAME_UNUSED_plain_mask16(p)
static inline uint32_t NAME_UNUSED_plain_mask16(const float *p) {
    uint32_t mask = 0;
    for (int j = 0; j < 16; j++) mask |= (uint32_t)(p[j] != 0) << j;
    return mask;
}
DEFINE_KERNELS(plain, , 4, 8, PLAIN_MASK16)

#if defined(__x86_64__)
#define AVX512_MASK16(p) ((uint32_t)_mm512_cmp_ps_mask(_mm512_loadu_ps(p), _mm512_setzero_ps(), _CMP_NEQ_UQ))
DEFINE_KERNELS(avx512, __attribute__((target("avx512f"))), 16, 16, AVX512_MASK16)
#define AVX2_HALF(p) ((uint32_t)_mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(p), _mm256_setzero_ps(), _CMP_NEQ_UQ)))
#define AVX2_MASK16(p) (AVX2_HALF(p) | AVX2_HALF((p) + 8) << 8)
DEFINE_KERNELS(avx2, __attribute__((target("avx2,fma"))), 8, 8, AVX2_MASK16)
#endif

// MARK: - Dispatch

typedef struct {
    long (*rows_of_a)(long, long, long, const float *, long, long, sparse_rows);
    long (*rows_of_transpose)(long, long, long, const float *, long, long, sparse_rows);
    void (*product)(sparse_rows, long, long, const float *, long, float, float *, long);
} kernels;

// 0: the widest the CPU has; 1: plain C; 2: AVX2; 3: AVX-512 (0 when the CPU lacks it).
static int available(int kernel, kernels *out) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    int avx512 = __builtin_cpu_supports("avx512f"), avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    if (kernel == 0) kernel = avx512 ? 3 : avx2 ? 2 : 1;
    if (kernel == 3 && avx512) return *out = (kernels){avx512_rows_of_a, avx512_rows_of_transpose, avx512_product}, 1;
    if (kernel == 2 && avx2) return *out = (kernels){avx2_rows_of_a, avx2_rows_of_transpose, avx2_product}, 1;
#endif
    if (kernel == 0 || kernel == 1) return *out = (kernels){plain_rows_of_a, plain_rows_of_transpose, plain_product}, 1;
    return 0;
}

long nabla_nonzeros_f32(long rows, long cols, const float *a, long lda, long limit) {
#if defined(__x86_64__)
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")) return avx512_nonzeros(rows, cols, a, lda, limit);
#endif
    return plain_nonzeros(rows, cols, a, lda, limit);
}

static kernels best;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static void choose(void) { available(0, &best); }

// Each thread keeps its buffers between calls (a training run asks for the same sizes every
// batch): they keep their largest size and are not freed when a thread ends (the pool's
// threads and the main thread live as long as the process).
static _Thread_local struct {
    sparse_rows rows;
    long starts, entries;
} scratch;

static int reserve(long starts, long entries) {
    if (scratch.starts < starts) {
        int32_t *p = realloc(scratch.rows.start, (size_t)starts * sizeof(int32_t));
        if (!p) return 0;
        scratch.rows.start = p;
        scratch.starts = starts;
    }
    if (scratch.entries < entries) {
        int32_t *i = realloc(scratch.rows.index, (size_t)entries * sizeof(int32_t));
        if (i) scratch.rows.index = i;
        float *v = realloc(scratch.rows.value, (size_t)entries * sizeof(float));
        if (v) scratch.rows.value = v;
        if (!i || !v) return 0;
        scratch.entries = entries;
    }
    return 1;
}

static int product(kernels use, int transA, long first, long end, long k, const float *a, long lda, long most,
                   long n, const float *b, long ldb, float beta, float *c, long ldc) {
    if (end <= first || most < 0 || most > INT32_MAX || !reserve(end - first + 1, most > 0 ? most : 1)) return 0;
    long nnz = transA ? use.rows_of_transpose(first, end, k, a, lda, most, scratch.rows)
                      : use.rows_of_a(first, end, k, a, lda, most, scratch.rows);
    if (nnz < 0) return 0;
    use.product(scratch.rows, end - first, n, b, ldb, beta, c + first * ldc, ldc);
    return 1;
}

int nabla_sgemm_sparse(int transA, long first, long end, long k, const float *a, long lda, long most,
                       long n, const float *b, long ldb, float beta, float *c, long ldc) {
    pthread_once(&once, choose);
    return product(best, transA, first, end, k, a, lda, most, n, b, ldb, beta, c, ldc);
}

int nabla_sgemm_sparse_using(int kernel, int transA, long first, long end, long k, const float *a, long lda, long most,
                             long n, const float *b, long ldb, float beta, float *c, long ldc) {
    kernels use;
    return available(kernel, &use) && product(use, transA, first, end, k, a, lda, most, n, b, ldb, beta, c, ldc);
}
