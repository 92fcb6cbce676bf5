// nabla's thread pool: the parts of a parallel loop (a convolution's images, a product's rows)
// handed to threads that wait spinning between loops, as OpenBLAS's do, so that a training
// step's dozen loops do not each pay a thread's wake-up (tens of microseconds on a VM).
#include "nabla_kernels.h"
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>
#if defined(__x86_64__)
#include <immintrin.h>
#define RELAX() _mm_pause()
#else
#define RELAX() ((void)0)
#endif

// A waiting thread spins with `pause` for PAUSE_NS, then yields the core between checks until
// SPIN_NS, then sleeps until the next loop.
enum { MAX_WORKERS = 15, PAUSE_NS = 50000, SPIN_NS = 1000000 };

// The loop being run. `ticket` packs the number of parts (high 32 bits) and the next part to
// hand out (low 32): a thread claims a part by a compare-and-swap, so it can never claim one
// past the end, and it reads fn and context only once its claim holds (they cannot change
// before the claimed part is done).
static void (*job_fn)(void *, long);
static void *job_context;
static _Atomic uint64_t ticket;
static _Atomic long remaining;
// Bumped for each loop: what the waiting threads watch.
static _Atomic long generation;
static _Atomic int sleepers;
static int started;
static pthread_mutex_t running = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t sleep_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static _Thread_local int inside;

static long now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000L + t.tv_nsec;
}

// Claims and runs parts until none is left.
static void run_parts(void) {
    for (;;) {
        uint64_t t = atomic_load(&ticket);
        if ((uint32_t)t >= (uint32_t)(t >> 32)) return;
        if (!atomic_compare_exchange_weak(&ticket, &t, t + 1)) continue;
        job_fn(job_context, (long)(uint32_t)t);
        atomic_fetch_sub(&remaining, 1);
    }
}

// Waits for a generation after `seen`: spinning with pause, then yielding, then asleep.
static long await_loop(long seen) {
    long start = now_ns();
    for (long i = 0;; i++) {
        long g = atomic_load(&generation);
        if (g != seen) return g;
        if ((i & 255) == 0) {
            long spent = now_ns() - start;
            if (spent > SPIN_NS) break;
            if (spent > PAUSE_NS) sched_yield();
        }
        RELAX();
    }
    pthread_mutex_lock(&sleep_lock);
    atomic_fetch_add(&sleepers, 1);
    long g;
    while ((g = atomic_load(&generation)) == seen) pthread_cond_wait(&wake, &sleep_lock);
    atomic_fetch_sub(&sleepers, 1);
    pthread_mutex_unlock(&sleep_lock);
    return g;
}

// `start` is the generation when the thread was made (before the loop that made it was
// published), so that loop is not missed.
static void *worker(void *start) {
    inside = 1;  // a loop inside a part runs on this thread
    long seen = (long)(intptr_t)start;
    for (;;) {
        seen = await_loop(seen);
        run_parts();
    }
    return 0;
}

// Starts threads until there are `workers` (only under `running`); after a failure to make
// one, makes no more.
static void start_workers(long workers) {
    static int failed;
    for (; !failed && started < workers && started < MAX_WORKERS; started++) {
        pthread_t thread;
        pthread_attr_t attributes;
        pthread_attr_init(&attributes);
        pthread_attr_setdetachstate(&attributes, PTHREAD_CREATE_DETACHED);
        failed = pthread_create(&thread, &attributes, worker, (void *)(intptr_t)atomic_load(&generation)) != 0;
        pthread_attr_destroy(&attributes);
        if (failed) break;
    }
}

// The caller waits for the parts the pool's threads took: spinning, then yielding.
static void await_parts(void) {
    long start = now_ns();
    for (long i = 0; atomic_load(&remaining) > 0; i++) {
        if ((i & 255) == 0 && now_ns() - start > PAUSE_NS) sched_yield();
        RELAX();
    }
}

void nabla_parallel(long parts, long workers, void (*fn)(void *, long), void *context) {
    if (parts <= 0) return;
    if (parts == 1 || parts > UINT32_MAX || workers <= 0 || inside || pthread_mutex_trylock(&running) != 0) {
        for (long p = 0; p < parts; p++) fn(context, p);
        return;
    }
    start_workers(workers);
    job_fn = fn;
    job_context = context;
    atomic_store(&remaining, parts);
    atomic_store(&ticket, (uint64_t)parts << 32);
    atomic_fetch_add(&generation, 1);
    if (atomic_load(&sleepers) > 0) {
        pthread_mutex_lock(&sleep_lock);
        pthread_cond_broadcast(&wake);
        pthread_mutex_unlock(&sleep_lock);
    }
    inside = 1;
    run_parts();
    inside = 0;
    await_parts();
    pthread_mutex_unlock(&running);
}
