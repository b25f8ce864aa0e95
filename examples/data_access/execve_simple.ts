/**
 * Chapter 11: the helpers a program uses to learn about the event it
 * sees, one execve at a time: the time (bpf_ktime_get_ns), the process and
 * thread ids (bpf_get_current_pid_tgid), user and group
 * (bpf_get_current_uid_gid), the command name (bpf_get_current_comm), the
 * task itself (bpf_get_current_task, whose state and parent are read with
 * bpf_probe_read_kernel), a random number (bpf_get_prandom_u32) and its
 * log2 (bcc's bpf_log2l), and the file name and first argument of the
 * execve from user memory (bpf_probe_read_user / bpf_probe_read_user_str).
 * As in the original, the read helpers are chosen by kernel version: the
 * _kernel/_user ones came with Linux 5.5, before which bpf_probe_read(_str)
 * read both. The state field is task_struct's __state since 5.14 (state
 * before), chosen from the kernel's BTF as bcc's tools do.
 *
 * On a kernel without kprobes it says so in one line on stderr and attaches
 * the same function to the syscalls:sys_enter_execve tracepoint instead
 * (tsbpf reads the declared arguments from the tracepoint record); with
 * --strict it fails with the NotSupportedError.
 *
 *   tsbpf example data_access/execve_simple [--duration SECONDS] [--strict]
 */

import { printf } from "../../src/format/printf.js";
import { BPF, type PerfEventArray } from "../../src/index.js";
import { defineExample, runIfMain } from "../lib/example.js";

/** The C text; STATE_FIELD is replaced before loading. */
export const bpfText = `
#include <uapi/linux/ptrace.h>
#include <linux/sched.h>

#if LINUX_VERSION_CODE >= KERNEL_VERSION(5, 5, 0)
#define READ_KERNEL bpf_probe_read_kernel
#define READ_USER bpf_probe_read_user
#define READ_USER_STR bpf_probe_read_user_str
#else
#define READ_KERNEL bpf_probe_read
#define READ_USER bpf_probe_read
#define READ_USER_STR bpf_probe_read_str
#endif

struct data_t {
    u64 ts;
    u32 pid;
    u32 tid;
    u32 uid;
    u32 gid;
    char comm[TASK_COMM_LEN];
    long state;
    u32 ppid;
    u32 rand;
    u32 rand_log2;
    char fname[64];
    char arg1[32];
};

BPF_PERF_OUTPUT(events);

int syscall__execve(struct pt_regs *ctx, const char __user *filename,
                    const char __user *const __user *argv)
{
    struct data_t data = {};
    u64 pid_tgid = bpf_get_current_pid_tgid();
    u64 uid_gid = bpf_get_current_uid_gid();

    data.ts = bpf_ktime_get_ns();
    data.pid = pid_tgid >> 32;
    data.tid = pid_tgid;
    data.uid = uid_gid;
    data.gid = uid_gid >> 32;
    bpf_get_current_comm(&data.comm, sizeof(data.comm));

    struct task_struct *task = (struct task_struct *)bpf_get_current_task();
    struct task_struct *parent = NULL;
    READ_KERNEL(&data.state, sizeof(data.state), &task->STATE_FIELD);
    READ_KERNEL(&parent, sizeof(parent), &task->real_parent);
    READ_KERNEL(&data.ppid, sizeof(data.ppid), &parent->tgid);

    data.rand = bpf_get_prandom_u32();
    data.rand_log2 = bpf_log2l(data.rand);

    const char *arg1 = NULL;
    READ_USER_STR(&data.fname, sizeof(data.fname), filename);
    READ_USER(&arg1, sizeof(arg1), &argv[1]);
    if (arg1)
        READ_USER_STR(&data.arg1, sizeof(data.arg1), arg1);

    events.perf_submit(ctx, &data, sizeof(data));
    return 0;
}
`;

interface Data {
  ts: bigint;
  pid: number;
  tid: number;
  uid: number;
  gid: number;
  comm: string;
  state: bigint;
  ppid: number;
  rand: number;
  rand_log2: number;
  fname: string;
  arg1: string;
}

export const example = defineExample({ name: "data_access/execve_simple" }, async (ctx) => {
  const stateField = BPF.kernelStructHasField("task_struct", "__state") ? "__state" : "state";
  await using b = await BPF.load({ text: bpfText.replace("STATE_FIELD", stateField) });
  await ctx.attachSyscallKprobe(b, "execve", "syscall__execve");

  const events = b.table<PerfEventArray>("events");
  printf(
    "%-18s %-7s %-7s %-7s %-5s %-5s %-16s %-5s %-10s %-4s %s\n",
    "TIME(s)",
    "PID",
    "TID",
    "PPID",
    "UID",
    "GID",
    "COMM",
    "STATE",
    "RANDOM",
    "LOG2",
    "FILE ARG1",
  );
  events.openPerfBuffer((_cpu, raw) => {
    const d = events.event(raw) as Data;
    printf(
      "%-18.9f %-7d %-7d %-7d %-5d %-5d %-16s %-5d %-10u %-4u %s %s\n",
      Number(d.ts) / 1e9,
      d.pid,
      d.tid,
      d.ppid,
      d.uid,
      d.gid,
      d.comm,
      d.state,
      d.rand,
      d.rand_log2,
      d.fname,
      d.arg1,
    );
  });
  while (await ctx.sleep(100)) b.perfBufferPoll(0);
});

runIfMain(import.meta.url, example);
