/*
 * CPU-bound workload for the profiler benchmark: THREADS threads spin for
 * SECONDS seconds in a few nested functions and it prints the iterations
 * done, {"iterations":N}: the throughput a profiler's overhead takes from.
 *
 *   gcc -O2 -pthread spin.c -o spin && ./spin 3 2
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double seconds;
static volatile unsigned long sink;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

__attribute__((noinline)) static unsigned long inner(unsigned long x)
{
    for (int i = 0; i < 1000; i++)
        x = x * 6364136223846793005UL + (x >> 29);
    return x;
}

__attribute__((noinline)) static unsigned long outer(unsigned long x)
{
    return inner(x) ^ inner(x + 1);
}

static void *spin(void *arg)
{
    unsigned long x = (unsigned long)arg, n = 0;
    double end = now() + seconds;

    while (now() < end) {
        for (int i = 0; i < 100; i++)
            x = outer(x);
        n += 100;
    }
    sink = x;
    return (void *)n;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s SECONDS THREADS\n", argv[0]);
        return 2;
    }
    seconds = atof(argv[1]);
    int threads = atoi(argv[2]);
    pthread_t t[64];
    unsigned long total = 0;

    if (threads < 1 || threads > 64)
        return 2;
    for (int i = 0; i < threads; i++)
        pthread_create(&t[i], NULL, spin, (void *)(unsigned long)i);
    for (int i = 0; i < threads; i++) {
        void *n;
        pthread_join(t[i], &n);
        total += (unsigned long)n;
    }
    printf("{\"iterations\":%lu}\n", total);
    return 0;
}
