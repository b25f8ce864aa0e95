/*
 * The program that uprobe/uprobe_simple traces: once a second it calls
 * func() with a counter and prints what func returned. tsbpf's
 * uprobe/target_sample example builds it (cc -O2 -g) and runs it.
 */
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <unistd.h>

/* func must stay a real function that main calls, at every optimisation
 * level: not inlined, not cloned (gcc's noipa also stops it from being
 * specialised or having its return value assumed by the caller). */
#if defined(__GNUC__) && !defined(__clang__)
#define NOT_INLINED __attribute__((noipa))
#else
#define NOT_INLINED __attribute__((noinline))
#endif

NOT_INLINED int func(int n)
{
    return n * 2;
}

int main(void)
{
    /* Run by the tsbpf example: end with it, even if it is killed. */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    /* One line at a time, also through a pipe. */
    setvbuf(stdout, NULL, _IOLBF, 0);

    printf("target_sample: pid %d, calling func() once a second\n", (int)getpid());
    for (int counter = 1;; counter++) {
        int ret = func(counter);
        printf("func(%d) returned %d\n", counter, ret);
        sleep(1);
    }
    return 0;
}
