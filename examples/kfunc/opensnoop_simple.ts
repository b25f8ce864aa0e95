/**
 * Chapter 9: a small opensnoop on a kretfunc (fexit). The original hooks
 * the return of do_sys_open with KRETFUNC_PROBE, so one program sees the
 * arguments and the result together: it copies the file name from user
 * memory with bpf_probe_read_user, adds the uid and comm, and sends the
 * record through BPF_PERF_OUTPUT (opened with 64 pages per CPU). User space
 * polls for 10 seconds and prints "PID COMM FD ERR PATH".
 *
 * The target: since Linux 5.6 every open goes through do_sys_openat2.
 * do_sys_open is only a wrapper that the compiler folds into the open and
 * openat syscalls: on Debian's 6.1 (the kernel matrix) a kretfunc on it
 * attaches but sees none of them (0 of 170 opens by cat, against 170 for
 * do_sys_openat2), and later kernels call do_sys_openat2 directly. This
 * port hooks do_sys_openat2, which sees open, openat and openat2.
 *
 * On a kernel that refuses fentry/fexit it says so in one line on stderr
 * and uses the syscalls:sys_enter_openat / sys_exit_openat tracepoints
 * instead: the entry keeps the file name pointer in a hash keyed by thread
 * id, the exit pairs it with the result. With --strict it fails with the
 * NotSupportedError.
 *
 *   tsbpf example kfunc/opensnoop_simple [--duration SECONDS] [--strict]
 */

import { printf } from "../../src/format/printf.js";
import { BPF, type PerfEventArray } from "../../src/index.js";
import { defineExample, runIfMain } from "../lib/example.js";

/** What both versions send for each open. */
const common = `
#include <uapi/linux/ptrace.h>
#include <linux/sched.h>

#define NAME_MAX 255

struct data_t {
    u64 id;
    u32 uid;
    int ret;
    char comm[TASK_COMM_LEN];
    char fname[NAME_MAX];
};

BPF_PERF_OUTPUT(events);
`;

/** The original: one kretfunc (the original's target, do_sys_open, is in the comment). */
export const bpfText = `${common}
// The original: KRETFUNC_PROBE(do_sys_open, int dfd, const char *filename, int flags, int mode, int ret)
KRETFUNC_PROBE(do_sys_openat2, int dfd, const char __user *filename, struct open_how *how, long ret)
{
    struct data_t data = {};
    u64 id = bpf_get_current_pid_tgid();

    data.id = id;
    data.uid = bpf_get_current_uid_gid();
    data.ret = ret;
    bpf_get_current_comm(&data.comm, sizeof(data.comm));
    bpf_probe_read_user(&data.fname, sizeof(data.fname), (void *)filename);

    events.perf_submit(ctx, &data, sizeof(data));
    return 0;
}
`;

/** The equivalent on the openat tracepoints: entry and exit paired by thread id. */
export const tracepointText = `${common}
struct val_t {
    const char *fname;
};

BPF_HASH(infotmp, u32, struct val_t);

TRACEPOINT_PROBE(syscalls, sys_enter_openat)
{
    u32 tid = bpf_get_current_pid_tgid();
    struct val_t val = {};

    val.fname = args->filename;
    infotmp.update(&tid, &val);
    return 0;
}

TRACEPOINT_PROBE(syscalls, sys_exit_openat)
{
    u64 id = bpf_get_current_pid_tgid();
    u32 tid = id;
    struct val_t *valp = infotmp.lookup(&tid);
    if (valp == 0)
        return 0;  // the entry was missed (the program started mid-call)

    struct data_t data = {};
    data.id = id;
    data.uid = bpf_get_current_uid_gid();
    data.ret = args->ret;
    bpf_get_current_comm(&data.comm, sizeof(data.comm));
    bpf_probe_read_user(&data.fname, sizeof(data.fname), (void *)valp->fname);

    events.perf_submit(args, &data, sizeof(data));
    infotmp.delete(&tid);
    return 0;
}
`;

interface Data {
  id: bigint;
  uid: number;
  ret: number;
  comm: string;
  fname: string;
}

export const example = defineExample({ name: "kfunc/opensnoop_simple" }, async (ctx) => {
  await using b = await ctx.fallback(
    () => BPF.load({ text: bpfText }),
    "tracepoints syscalls:sys_enter_openat/sys_exit_openat",
    () => BPF.load({ text: tracepointText }),
  );

  const events = b.table<PerfEventArray>("events");
  const printEvent = (_cpu: number, data: Uint8Array): void => {
    const event = events.event(data) as Data;
    // A negative return is -errno: FD -1 and the error number, as opensnoop prints them.
    const fd = event.ret >= 0 ? event.ret : -1;
    const err = event.ret >= 0 ? 0 : -event.ret;
    printf("%-6d %-16s %4d %3d %s\n", Number(event.id >> 32n), event.comm, fd, err, event.fname);
  };

  printf("%-6s %-16s %4s %3s %s\n", "PID", "COMM", "FD", "ERR", "PATH");
  events.openPerfBuffer(printEvent, { pageCnt: 64 });

  // The original polls for 10 seconds; --duration (or Ctrl-C) ends it sooner or later.
  const end = ctx.duration === undefined ? Date.now() + 10_000 : Number.POSITIVE_INFINITY;
  while (Date.now() < end && (await ctx.sleep(Math.min(100, end - Date.now())))) {
    b.perfBufferPoll(0);
  }
});

runIfMain(import.meta.url, example);
