/*
 * The C baseline of the event-stream benchmark: libbpf's own consumers
 * (ring_buffer__poll, perf_buffer__poll) reading getppid.bpf.c's records
 * while the generator (gen.c, exec'd with COUNT) calls getppid() COUNT times
 * as fast as it can.
 *
 *   gcc -O2 consumer.c -o consumer $(pkg-config --cflags --libs libbpf)
 *   ./consumer getppid.bpf.o ringbuf --gen ./gen [--events N] [--rb-flags F] [options]
 *   ./consumer getppid.bpf.o perf --gen ./gen [--events N] [--wakeup N] [--pages N] [options]
 *   options: --timeout MS   poll timeout (default 100)
 *            --drain-ms MS  consume every MS ms as well (0, the default: never;
 *                           for modes where the kernel does not signal every record)
 *            --gen-cpu C / --cpu C  pin the generator / the consumer
 *
 * The loop is the one bench/events_consumer.ts runs on Node's event loop,
 * kept the same on purpose (see bench/events.ts):
 *   - wait for records with a poll timeout of --timeout ms, or until the next
 *     drain is due (a timer of --drain-ms ms, as a setInterval is);
 *   - the callback reads one field of each record (seq) and ends the run
 *     when the last record expected has arrived: COUNT, less the records
 *     counted lost once the generator has exited;
 *   - the generator's exit is seen through SIGCHLD (no syscall per wake-up):
 *     the drops map is read then, once, and the rings drained once.
 * The drops map is read nowhere else while timing.
 *
 * Prints one JSON line:
 *   events        records received
 *   seconds       from letting the generator go until the run ended (the
 *                 last record, or, when records were lost, the generator's
 *                 exit having been seen, whichever is later)
 *   rate          events / seconds
 *   lost          records the BPF program could not write (the ring was full;
 *                 for perf, what bpf_perf_event_output failed to write)
 *   gen_seconds   how long the generator ran (the producer's pace)
 *   wakeups       poll calls that delivered at least one record
 *   wakeup_records  records those delivered
 *   drains, drain_records  timer drains (and the one at the generator's
 *                 exit) that delivered at least one record, and their records
 *   drops_reads   reads of the drops map while timing
 *   sleeps        voluntary context switches of the consumer while timing
 *                 (the times it slept; a wake-up may find it awake)
 *   cpu_s         CPU time (user + system) of the consumer while timing
 *   maxrss_kb     peak resident set of the consumer
 */
#define _GNU_SOURCE
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <linux/perf_event.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
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
/* The run ends when received reaches this (the events, less the lost once known). */
static uint64_t target;
static int done;
static double t1;
static volatile sig_atomic_t child_exited;
static uint64_t wakeups, wakeup_records, drains, drain_records, drops_reads, lost;
static int exit_seen;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void on_record(const void *data)
{
    seq_sum += ((const struct event *)data)->seq;
    if (++received >= target && !done) {
        done = 1;
        t1 = now();
    }
}

static int on_ring_record(void *ctx, void *data, size_t size)
{
    (void)ctx;
    (void)size;
    on_record(data);
    return 0;
}

static void on_sample(void *ctx, int cpu, void *data, __u32 size)
{
    (void)ctx;
    (void)cpu;
    (void)size;
    on_record(data);
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

static void on_sigchld(int sig)
{
    (void)sig;
    child_exited = 1;
}

static void die(const char *what, int err)
{
    fprintf(stderr, "consumer: %s: %s\n", what, strerror(err < 0 ? -err : err));
    exit(1);
}

/* Consumes what waits without waiting (the drain timer, the generator's exit). */
static void drain(struct ring_buffer *rb, struct perf_buffer *pb)
{
    uint64_t before = received;
    int err = pb ? perf_buffer__consume(pb) : ring_buffer__consume(rb);
    if (err < 0)
        die("consume", err);
    if (received > before) {
        drains++;
        drain_records += received - before;
    }
}

/* Voluntary context switches of this thread: the times it slept. */
static long sleeps_now(void)
{
    struct rusage ru;
    getrusage(RUSAGE_THREAD, &ru);
    return ru.ru_nvcsw;
}

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
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
        fprintf(stderr, "usage: %s OBJ.bpf.o ringbuf|perf --gen GEN [options]\n", argv[0]);
        return 2;
    }
    const char *path = argv[1];
    int perf = strcmp(argv[2], "perf") == 0;
    if (!perf && strcmp(argv[2], "ringbuf") != 0) {
        fprintf(stderr, "mode must be ringbuf or perf\n");
        return 2;
    }
    long events = 2000000, rb_flags = 0, timeout = 100, drain_ms = 0, wakeup = 1, pages = 64;
    int gen_cpu = -1, cpu = -1;
    const char *gen = NULL;
    for (int i = 3; i + 1 < argc; i += 2) {
        long v = strtol(argv[i + 1], NULL, 10);
        if (!strcmp(argv[i], "--events"))
            events = v;
        else if (!strcmp(argv[i], "--rb-flags"))
            rb_flags = v;
        else if (!strcmp(argv[i], "--timeout"))
            timeout = v;
        else if (!strcmp(argv[i], "--drain-ms"))
            drain_ms = v;
        else if (!strcmp(argv[i], "--wakeup"))
            wakeup = v;
        else if (!strcmp(argv[i], "--pages"))
            pages = v;
        else if (!strcmp(argv[i], "--gen"))
            gen = argv[i + 1];
        else if (!strcmp(argv[i], "--gen-cpu"))
            gen_cpu = (int)v;
        else if (!strcmp(argv[i], "--cpu"))
            cpu = (int)v;
        else {
            fprintf(stderr, "unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (!gen) {
        fprintf(stderr, "--gen GEN is required\n");
        return 2;
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

    /* SIGCHLD interrupts the poll (no SA_RESTART; epoll_wait is never restarted anyway). */
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_sigchld;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGCHLD, &sa, NULL))
        die("sigaction", errno);

    /* The generator, pinned, reads one byte on stdin, then calls getppid() `events` times. */
    int go[2];
    if (pipe(go))
        die("pipe", errno);
    pid_t child = fork();
    if (child < 0)
        die("fork", errno);
    if (child == 0) {
        close(go[1]);
        pin(gen_cpu);
        if (dup2(go[0], 0) < 0)
            _exit(3);
        char count[32];
        snprintf(count, sizeof(count), "%ld", events);
        execl(gen, gen, count, (char *)NULL);
        _exit(127);
    }
    close(go[0]);
    pin(cpu);
    uint32_t key = 0, tgid = (uint32_t)child;
    if (bpf_map_update_elem(bpf_object__find_map_fd_by_name(obj, "target"), &key, &tgid, BPF_ANY))
        die("target", errno);

    target = (uint64_t)events;
    double cpu0 = cpu_seconds();
    long sleeps0 = sleeps_now();
    double t0 = now(), gen_end = 0, next_drain = t0 + (double)drain_ms / 1e3;
    if (write(go[1], "g", 1) != 1)
        die("write", errno);
    int status = 0;
    while (!done) {
        int wait_ms = (int)timeout;
        if (drain_ms > 0) {
            double due = (next_drain - now()) * 1e3;
            int d = due <= 0 ? 0 : (int)(due + 0.999);
            if (d < wait_ms)
                wait_ms = d;
        }
        uint64_t before = received;
        int n = perf ? perf_buffer__poll(pb, wait_ms) : ring_buffer__poll(rb, wait_ms);
        if (n < 0 && n != -EINTR)
            die("poll", n);
        if (received > before) {
            wakeups++;
            wakeup_records += received - before;
        }
        if (done)
            break;
        double t = now();
        if (drain_ms > 0 && t >= next_drain) {
            /* the drain timer: records below the wake-up threshold are never signalled */
            drain(rb, pb);
            next_drain = t + (double)drain_ms / 1e3;
        }
        if (child_exited && !exit_seen) {
            if (waitpid(child, &status, WNOHANG) != child)
                continue;
            /* the generator's exit: what was lost is final now */
            exit_seen = 1;
            gen_end = now();
            lost = get_u64(obj, "drops", perf ? 1 : 0);
            drops_reads++;
            target = (uint64_t)events - lost;
            if (received >= target) {
                done = 1;
                t1 = gen_end;
            } else {
                drain(rb, pb);
            }
        } else if (exit_seen && n == 0) {
            /* a poll timeout after the exit (records unaccounted for): drain again */
            drain(rb, pb);
            if (!done && now() - gen_end > 10) {
                fprintf(stderr, "consumer: %llu of %llu records 10 s after the generator exited\n",
                        (unsigned long long)received, (unsigned long long)target);
                t1 = now();
                break;
            }
        }
    }
    double cpu_s = cpu_seconds() - cpu0;
    long sleeps = sleeps_now() - sleeps0;
    if (!exit_seen) {
        while (waitpid(child, &status, 0) < 0 && errno == EINTR)
            ;
        gen_end = now();
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "consumer: the generator failed (status 0x%x)\n", status);
        return 1;
    }
    /* After timing: what the report says was lost (read again only if not read at the exit). */
    if (!drops_reads)
        lost = get_u64(obj, "drops", perf ? 1 : 0);

    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf(
        "{\"consumer\":\"c-%s\",\"events\":%llu,\"seconds\":%.6f,\"rate\":%.0f,\"lost\":%llu,"
        "\"lost_reported\":%llu,\"gen_seconds\":%.6f,\"wakeups\":%llu,\"wakeup_records\":%llu,"
        "\"drains\":%llu,\"drain_records\":%llu,\"drops_reads\":%llu,\"sleeps\":%ld,\"cpu_s\":%.3f,"
        "\"maxrss_kb\":%ld,\"seq_sum\":%llu}\n",
        perf ? "perfbuf" : "ringbuf", (unsigned long long)received, t1 - t0,
        (double)received / (t1 - t0), (unsigned long long)lost, (unsigned long long)lost_reported,
        gen_end - t0, (unsigned long long)wakeups, (unsigned long long)wakeup_records,
        (unsigned long long)drains, (unsigned long long)drain_records,
        (unsigned long long)drops_reads, sleeps, cpu_s, ru.ru_maxrss, (unsigned long long)seq_sum);

    ring_buffer__free(rb);
    perf_buffer__free(pb);
    bpf_link__destroy(link);
    bpf_object__close(obj);
    return 0;
}
