/**
 * Chapter 1, the seed: bcc's printk_sample. A kprobe on the execve syscall
 * prints "start of execve ..." with bpf_trace_printk; user space reads
 * trace_pipe and prints one row per execve.
 *
 * On a kernel without kprobes (CONFIG_KPROBES off) it says so in one line on
 * stderr and attaches the same function to the syscalls:sys_enter_execve
 * tracepoint instead; with --strict it fails with the NotSupportedError.
 *
 *   tsbpf example first_step/printk_sample [--duration SECONDS] [--strict]
 */

import { printf } from "../../src/format/printf.js";
import { BPF } from "../../src/index.js";
import { defineExample, runIfMain } from "../lib/example.js";

/** The C text of the original, unchanged. */
export const bpfText = `
#include <linux/sched.h>

struct data_t {
    u32 pid;
    char comm[TASK_COMM_LEN];
    u64 time;
};

int syscall__execve(struct pt_regs *ctx)
{
    struct data_t data = {};

    data.time = bpf_ktime_get_ns();
    data.pid = bpf_get_current_pid_tgid();
    bpf_get_current_comm(&data.comm, sizeof(data.comm));

    bpf_trace_printk("start of execve time = %ld , pid = %u, comm = %s\\n", data.time, data.pid, data.comm);
    return 0;
}
`;

export const example = defineExample({ name: "first_step/printk_sample" }, async (ctx) => {
  await using b = await BPF.load({ text: bpfText });
  const execve = b.getSyscallFnname("execve");
  await ctx.fallback(
    () => b.attachKprobe({ event: execve, fnName: "syscall__execve" }),
    "tracepoint syscalls:sys_enter_execve",
    () => b.attachTracepoint({ tp: "syscalls:sys_enter_execve", fnName: "syscall__execve" }),
  );

  printf("%-6s %-12s %s\n", "PID", "COMM", "OUTPUT");
  for await (const { task, pid, msg } of b.traceFields({ signal: ctx.signal })) {
    printf("%-6d %-12.12s %s\n", pid, task, msg);
  }
});

runIfMain(import.meta.url, example);
