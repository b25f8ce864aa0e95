/*
 * The C baseline of the event-stream benchmark: libbpf's own consumers
 * (ring_buffer__poll, perf_buffer__poll) reading getppid.bpf.c's records
 * while a forked child calls getppid() COUNT times as fast as it can.
 *
 *   gcc -O2 consumer.c -o consumer $(pkg-config --cflags --libs libbpf)
 *   ./consumer getppid.bpf.o ringbuf [--events N] [--rb-flags 0|1|2] [--timeout MS]
 *   ./consumer getppid.bpf.o perf [--events N] [--wakeup N] [--pages N] [--timeout MS]
 *   (--gen-cpu C / --cpu C pin the generator / the consumer)
 *
 * The callback reads one field of each record (seq). The run ends when every
 * record was received or counted as lost, and prints one JSON line:
 *   events      records received
 *   seconds     from letting the generator go to the last record
 *   rate        events / seconds
 *   lost        records the BPF program could not write (the ring was full;
 *               for perf, what bpf_perf_event_output failed to write)
 *   gen_seconds how long the generator ran (the producer's pace)
 *   wakeups     poll calls that returned records
 *   cpu_user_s, cpu_sys_s  CPU time of the consumer (not the generator)
 *   maxrss_kb   peak resident set of the consumer
 *
 * With --rb-flags 1 (BPF_RB_NO_WAKEUP) the kernel never signals the ring:
 * the loop then drains with ring_buffer__consume after each poll timeout.
 */
#define _GNU_SOURCE
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <linux/perf_event.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct event {
    uint32_t pid;
    uint32_t seq;
    uint64_t ts;
    uint64_t a;
    uint64_t b;
};

static uint64_t received;
static uint64_t seq_sum;
static uint64_t lost_reported;

static int on_ring_record(void *ctx, void *data, size_t size)
{
    (void)ctx;
    (void)size;
    seq_sum += ((const struct event *)data)->seq;
    received++;
    return 0;
}

static void on_sample(void *ctx, int cpu, void *data, __u32 size)
{
    (void)ctx;
    (void)cpu;
    (void)size;
    seq_sum += ((const struct event *)data)->seq;
    received++;
}

static void on_lost(void *ctx, int cpu, __u64 cnt)
{
    (void)ctx;
    (void)cpu;
    lost_reported += cnt;
}

/* perf_buffer__new_raw's callback, for wakeup_events > 1. */
static enum bpf_perf_event_ret on_raw_event(void *ctx, int cpu, struct perf_event_header *e)
{
    if (e->type == PERF_RECORD_SAMPLE) {
        struct {
            struct perf_event_header h;
            uint32_t size;
            char data[];
        } *s = (void *)e;
        on_sample(ctx, cpu, s->data, s->size);
    } else if (e->type == PERF_RECORD_LOST) {
        struct {
            struct perf_event_header h;
            uint64_t id;
            uint64_t lost;
        } *l = (void *)e;
        on_lost(ctx, cpu, l->lost);
    }
    return LIBBPF_PERF_EVENT_CONT;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, int err)
{
    fprintf(stderr, "consumer: %s: %s\n", what, strerror(err < 0 ? -err : err));
    exit(1);
}

static void set_u64(struct bpf_object *obj, const char *map, uint32_t key, uint64_t value)
{
    int fd = bpf_object__find_map_fd_by_name(obj, map);
    if (fd < 0 || bpf_map_update_elem(fd, &key, &value, BPF_ANY))
        die(map, errno);
}

static uint64_t get_u64(struct bpf_object *obj, const char *map, uint32_t key)
{
    uint64_t value = 0;
    int fd = bpf_object__find_map_fd_by_name(obj, map);
    if (fd < 0 || bpf_map_lookup_elem(fd, &key, &value))
        die(map, errno);
    return value;
}

static void pin(int cpu)
{
    if (cpu < 0)
        return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof(set), &set))
        die("sched_setaffinity", errno);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s OBJ.bpf.o ringbuf|perf [options]\n", argv[0]);
        return 2;
    }
    const char *path = argv[1];
    int perf = strcmp(argv[2], "perf") == 0;
    if (!perf && strcmp(argv[2], "ringbuf") != 0) {
        fprintf(stderr, "mode must be ringbuf or perf\n");
        return 2;
    }
    long events = 2000000, rb_flags = 0, timeout = 100, wakeup = 1, pages = 64;
    int gen_cpu = -1, cpu = -1;
    for (int i = 3; i + 1 < argc; i += 2) {
        long v = strtol(argv[i + 1], NULL, 10);
        if (!strcmp(argv[i], "--events"))
            events = v;
        else if (!strcmp(argv[i], "--rb-flags"))
            rb_flags = v;
        else if (!strcmp(argv[i], "--timeout"))
            timeout = v;
        else if (!strcmp(argv[i], "--wakeup"))
            wakeup = v;
        else if (!strcmp(argv[i], "--pages"))
            pages = v;
        else if (!strcmp(argv[i], "--gen-cpu"))
            gen_cpu = (int)v;
        else if (!strcmp(argv[i], "--cpu"))
            cpu = (int)v;
        else {
            fprintf(stderr, "unknown option %s\n", argv[i]);
            return 2;
        }
    }

    struct bpf_object *obj = bpf_object__open_file(path, NULL);
    if (!obj)
        die("bpf_object__open_file", errno);
    int err = bpf_object__load(obj);
    if (err)
        die("bpf_object__load", err);
    struct bpf_program *prog = bpf_object__find_program_by_name(obj, "on_getppid");
    if (!prog)
        die("on_getppid", ENOENT);
    struct bpf_link *link = bpf_program__attach(prog);
    if (!link)
        die("bpf_program__attach", errno);

    set_u64(obj, "cfg", 0, (uint64_t)rb_flags);
    set_u64(obj, "cfg", 1, perf ? 1 : 2); /* skip the other output */
    set_u64(obj, "seqs", 0, 0);
    set_u64(obj, "drops", 0, 0);
    set_u64(obj, "drops", 1, 0);

    struct ring_buffer *rb = NULL;
    struct perf_buffer *pb = NULL;
    if (perf) {
        int fd = bpf_object__find_map_fd_by_name(obj, "perf_events");
        if (wakeup <= 1) {
            pb = perf_buffer__new(fd, (size_t)pages, on_sample, on_lost, NULL, NULL);
        } else {
            struct perf_event_attr attr;
            memset(&attr, 0, sizeof(attr));
            attr.size = sizeof(attr);
            attr.type = PERF_TYPE_SOFTWARE;
            attr.config = PERF_COUNT_SW_BPF_OUTPUT;
            attr.sample_type = PERF_SAMPLE_RAW;
            attr.sample_period = 1;
            attr.wakeup_events = (uint32_t)wakeup;
            pb = perf_buffer__new_raw(fd, (size_t)pages, &attr, on_raw_event, NULL, NULL);
        }
        if (!pb)
            die("perf_buffer__new", errno);
    } else {
        rb = ring_buffer__new(bpf_object__find_map_fd_by_name(obj, "rb"), on_ring_record, NULL,
                              NULL);
        if (!rb)
            die("ring_buffer__new", errno);
    }

    /* The generator: waits for a byte, then calls getppid() `events` times. */
    int go[2];
    if (pipe(go))
        die("pipe", errno);
    pid_t child = fork();
    if (child < 0)
        die("fork", errno);
    if (child == 0) {
        char c;
        close(go[1]);
        pin(gen_cpu);
        if (read(go[0], &c, 1) != 1)
            _exit(3);
        for (long i = 0; i < events; i++)
            syscall(SYS_getppid);
        _exit(0);
    }
    close(go[0]);
    pin(cpu);
    uint32_t key = 0, target = (uint32_t)child;
    if (bpf_map_update_elem(bpf_object__find_map_fd_by_name(obj, "target"), &key, &target, BPF_ANY))
        die("target", errno);

    double t0 = now(), gen_end = 0;
    if (write(go[1], "g", 1) != 1)
        die("write", errno);
    uint64_t wakeups = 0;
    int exited = 0, drained_after_exit = 0;
    for (;;) {
        int n = perf ? perf_buffer__poll(pb, (int)timeout) : ring_buffer__poll(rb, (int)timeout);
        if (n < 0 && n != -EINTR)
            die("poll", n);
        if (n > 0)
            wakeups++;
        if (!perf && (rb_flags == 1 || rb_flags >= 4))
            ring_buffer__consume(rb); /* records below the threshold are never signalled */
        uint64_t lost = get_u64(obj, "drops", perf ? 1 : 0);
        if (received + lost >= (uint64_t)events)
            break;
        if (!exited) {
            int status;
            if (waitpid(child, &status, WNOHANG) == child) {
                exited = 1;
                gen_end = now();
            }
        } else if (drained_after_exit++ > 0) {
            break;
        } else {
            /* Samples below the wakeup threshold, records never signalled. */
            if (perf)
                perf_buffer__consume(pb);
            else
                ring_buffer__consume(rb);
        }
    }
    double t1 = now();
    if (!exited) {
        waitpid(child, NULL, 0);
        gen_end = now();
    }
    uint64_t lost = get_u64(obj, "drops", perf ? 1 : 0);

    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("{\"consumer\":\"c-%s\",\"events\":%llu,\"seconds\":%.6f,\"rate\":%.0f,\"lost\":%llu,"
           "\"lost_reported\":%llu,\"gen_seconds\":%.6f,\"wakeups\":%llu,\"cpu_user_s\":%.3f,"
           "\"cpu_sys_s\":%.3f,\"maxrss_kb\":%ld,\"seq_sum\":%llu}\n",
           perf ? "perfbuf" : "ringbuf", (unsigned long long)received, t1 - t0,
           (double)received / (t1 - t0), (unsigned long long)lost,
           (unsigned long long)lost_reported, gen_end - t0, (unsigned long long)wakeups,
           (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6,
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6, ru.ru_maxrss,
           (unsigned long long)seq_sum);

    ring_buffer__free(rb);
    perf_buffer__free(pb);
    bpf_link__destroy(link);
    bpf_object__close(obj);
    return 0;
}
