// Matrix products whose left operand is mostly zeros (a batch of MNIST images: 81% of the
// pixels are 0). NablaTensor's float32 gemm tries this first for big products (see
// Tensor+LinearAlgebra.swift, `gemmInParts`).
#ifndef NABLA_KERNELS_H
#define NABLA_KERNELS_H
#include <stdint.h>

/// Rows first ..< end of C = op(A) B + beta C (beta 0: C is only written), computed from the
/// nonzeros of op(A)'s rows, when those rows hold at most `most` nonzeros; otherwise returns 0
/// and leaves C alone. op(A) is m x k: A stored m x k, or k x m when transA, rows lda apart;
/// B is k x n, rows ldb apart; C's rows are ldc apart. Returns 1 when C's rows were written.
/// A zero of op(A) contributes nothing, even against an infinity or NaN of B.
int nabla_sgemm_sparse(int transA, long first, long end, long k, const float *a, long lda, long most,
                       long n, const float *b, long ldb, float beta, float *c, long ldc);

/// The same with one body chosen (for the tests): 1 plain C, 2 AVX2, 3 AVX-512, 0 the widest
/// the CPU has. Returns 0 when the CPU lacks that one.
int nabla_sgemm_sparse_using(int kernel, int transA, long first, long end, long k, const float *a, long lda,
                             long most, long n, const float *b, long ldb, float beta, float *c, long ldc);

/// The number of nonzeros (NaN counts) in the rows x cols matrix a (rows lda apart), or
/// limit + 1 as soon as there are more than `limit` (a loop compiled for AVX-512 or plain,
/// by the CPU, at each call).
long nabla_nonzeros_f32(long rows, long cols, const float *a, long lda, long limit);

/// A batch of byte rows as floats (AVX-512 or plain C, by the CPU, at each call): dst's row r is src's row rows[r] (w bytes each), every
/// byte divided by `divisor` (255: pixels to 0...1). The rows a few places ahead are fetched
/// while one is converted (a shuffled batch reads rows scattered over the whole set).
void nabla_rows_of_bytes(const uint8_t *src, long w, const long *rows, long count, float divisor, float *dst);

/// Runs fn(context, part) for every part in 0 ..< parts, on the calling thread and on the
/// threads of nabla's pool, and returns when all are done. The pool grows to `workers` threads
/// (it never shrinks: its size is the most any call asked for, at most 15). Its threads wait
/// spinning for about a millisecond after each loop (so the next one starts at once), then
/// sleep. A loop started inside another, or while another thread's loop runs, runs its parts
/// on the calling thread.
void nabla_parallel(long parts, long workers, void (*fn)(void *context, long part), void *context);

#endif
