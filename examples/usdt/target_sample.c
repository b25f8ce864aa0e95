/*
 * The program that usdt/probe_sample traces: once a second it fires the
 * USDT probe test-probe of provider target-sample with two arguments, a
 * counter and a string. <sys/sdt.h> comes with systemtap-sdt-dev (Debian,
 * Ubuntu) or systemtap-sdt-devel (Fedora). tsbpf's usdt/target_sample
 * example builds it (cc -O2 -g) and runs it.
 */
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/sdt.h>
#include <unistd.h>

int main(void)
{
    char text[32];

    /* Run by the tsbpf example: end with it, even if it is killed. */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    /* One line at a time, also through a pipe. */
    setvbuf(stdout, NULL, _IOLBF, 0);

    printf("target_sample: pid %d, firing target-sample:test-probe once a second\n", (int)getpid());
    for (int counter = 1;; counter++) {
        snprintf(text, sizeof(text), "hello %d", counter);
        /* A note in .note.stapsdt and a nop here: free when nobody traces it. */
        DTRACE_PROBE2(target-sample, test-probe, counter, text);
        printf("test-probe fired: counter %d, text \"%s\"\n", counter, text);
        sleep(1);
    }
    return 0;
}
