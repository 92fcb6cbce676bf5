// The sgemm bound of one MNIST epoch (784-256-10 MLP, batch 128, 60,000 images): the time
// OpenBLAS's sgemm alone needs for the epoch's matrix products, measured on this machine.
// Prints: GFLOP per epoch, GFLOP/s, and the bound in seconds.
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

// Times C = op(A) op(B) (m x n, inner k), the fastest of `reps` runs of `inner` calls each.
static double best(int ta, int tb, int m, int n, int k) {
    float *a = calloc((size_t)m * k, 4), *b = calloc((size_t)k * n, 4), *c = calloc((size_t)m * n, 4);
    for (int i = 0; i < m * k; i++) a[i] = (float)(i % 7) * 0.01f;
    for (int i = 0; i < k * n; i++) b[i] = (float)(i % 5) * 0.01f;
    double fastest = 1e9;
    for (int r = 0; r < 7; r++) {
        double t0 = now();
        for (int i = 0; i < 20; i++)
            cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n, k, 1,
                        a, ta ? m : k, b, tb ? k : n, 0, c, n);
        double t = (now() - t0) / 20;
        if (t < fastest) fastest = t;
    }
    free(a); free(b); free(c);
    return fastest;
}

int main(void) {
    const int B = 128, steps = 60000 / 128 + 1;
    // Forward X@W1, h@W2; backward: gW2 = hᵀ G2, gh = G2 W2ᵀ, gW1 = Xᵀ G1 (∂L/∂X is not needed).
    struct { int ta, tb, m, n, k; } p[] = {
        {0, 0, B, 256, 784}, {0, 0, B, 10, 256}, {1, 0, 256, 10, B}, {0, 1, B, 256, 10}, {1, 0, 784, 256, B},
    };
    double seconds = 0, flop = 0;
    for (int i = 0; i < 5; i++) {
        seconds += best(p[i].ta, p[i].tb, p[i].m, p[i].n, p[i].k);
        flop += 2.0 * p[i].m * p[i].n * p[i].k;
    }
    printf("%.1f GFLOP per epoch, %.0f GFLOP/s, bound %.3f s\n", flop * steps / 1e9, flop / seconds / 1e9, seconds * steps);
    return 0;
}
