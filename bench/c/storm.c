/*
 * Load generator for the tools benchmark: waits for one byte on stdin, then
 * performs COUNT operations of one kind, in bursts of BURST separated by
 * PAUSE_US microseconds when given, and prints {"ops":N,"seconds":S}.
 *
 *   exec: fork + execve("/bin/true", ["true", "tsbpf-storm"]) + wait
 *   open: open("/tmp/tsbpf-storm-file", O_RDONLY) + close
 *
 *   gcc -O2 storm.c -o storm && echo | ./storm open 100000
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc != 3 && argc != 5) {
        fprintf(stderr, "usage: %s exec|open COUNT [BURST PAUSE_US]\n", argv[0]);
        return 2;
    }
    int exec_mode = strcmp(argv[1], "exec") == 0;
    long n = strtol(argv[2], NULL, 10);
    long burst = argc == 5 ? strtol(argv[3], NULL, 10) : 0;
    long pause_us = argc == 5 ? strtol(argv[4], NULL, 10) : 0;
    const char *path = "/tmp/tsbpf-storm-file";
    char go;
    if (!exec_mode)
        close(open(path, O_CREAT | O_WRONLY, 0644));
    if (read(0, &go, 1) != 1)
        return 3;
    /* The exec'd path and arguments live on the stack, written before fork:
     * a child's file-backed pages (string constants) are not mapped right
     * after fork, and a tracer's BPF read of them there fails. */
    char path_true[] = "/bin/true", arg0[] = "true", arg1[] = "tsbpf-storm";
    double t0 = now();
    for (long i = 0; i < n; i++) {
        if (exec_mode) {
            pid_t pid = fork();
            if (pid == 0) {
                char *args[] = {arg0, arg1, NULL};
                execv(path_true, args);
                _exit(127);
            }
            waitpid(pid, NULL, 0);
        } else {
            int fd = open(path, O_RDONLY);
            if (fd >= 0)
                close(fd);
        }
        if (burst > 0 && (i + 1) % burst == 0)
            usleep((useconds_t)pause_us);
    }
    printf("{\"ops\":%ld,\"seconds\":%.6f}\n", n, now() - t0);
    return 0;
}
