/*
 * Load generator for getppid.bpf.c: waits for one byte on stdin (so that its
 * pid can be set as the target first), then calls getppid() COUNT times, in
 * bursts of BURST calls separated by PAUSE_US microseconds when given.
 *
 *   gcc -O2 gen.c -o gen && echo | ./gen 1000000
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc != 2 && argc != 4) {
        fprintf(stderr, "usage: %s COUNT [BURST PAUSE_US]\n", argv[0]);
        return 2;
    }
    long n = strtol(argv[1], NULL, 10);
    long burst = argc == 4 ? strtol(argv[2], NULL, 10) : 0;
    long pause_us = argc == 4 ? strtol(argv[3], NULL, 10) : 0;
    char go;
    if (read(0, &go, 1) != 1)
        return 3;
    /* The raw syscall: libc may cache getppid(). */
    for (long i = 0; i < n; i++) {
        syscall(SYS_getppid);
        if (burst > 0 && (i + 1) % burst == 0)
            usleep((useconds_t)pause_us);
    }
    return 0;
}
