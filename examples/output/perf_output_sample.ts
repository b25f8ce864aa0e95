/**
 * Chapter 2, Output: bcc's perf_output_sample. The execve hook of chapter 1,
 * but the struct it fills (pid, comm, time) goes to user space through
 * BPF_PERF_OUTPUT(events) / events.perf_submit() instead of trace_pipe; the
 * user side opens the perf buffer, decodes each record (from the program's
 * BTF, where bcc needs ctypes or its own C parser) and prints one row per
 * execve.
 *
 * On a kernel without kprobes it says so in one line on stderr and attaches
 * the same function to the syscalls:sys_enter_execve tracepoint instead;
 * --strict makes it fail with the NotSupportedError.
 *
 *   tsbpf example output/perf_output_sample [--duration SECONDS] [--strict]
 */

import { printf } from "../../src/format/printf.js";
import { BPF, type PerfEventArray } from "../../src/index.js";
import { defineExample, runIfMain } from "../lib/example.js";

/** The C text, as a bcc user writes it. */
export const bpfText = `
#include <linux/sched.h>

struct data_t {
    u32 pid;
    char comm[TASK_COMM_LEN];
    u64 time;
};

BPF_PERF_OUTPUT(events);

int syscall__execve(struct pt_regs *ctx)
{
    struct data_t data = {};

    data.pid = bpf_get_current_pid_tgid();
    data.time = bpf_ktime_get_ns();
    bpf_get_current_comm(&data.comm, sizeof(data.comm));

    events.perf_submit(ctx, &data, sizeof(data));
    return 0;
}
`;

/** One record of `events`, as decoded from struct data_t. */
interface Data {
  pid: number;
  comm: string;
  time: bigint;
}

export const example = defineExample({ name: "output/perf_output_sample" }, async (ctx) => {
  await using b = await BPF.load({ text: bpfText });
  await ctx.attachSyscallKprobe(b, "execve", "syscall__execve");

  printf("%-18s %-16s %-6s %s\n", "TIME(s)", "COMM", "PID", "MESSAGE");

  // b["events"].open_perf_buffer(print_event)
  const events = b.table<PerfEventArray>("events");
  events.openPerfBuffer((_cpu, data) => {
    const event = events.event(data) as Data;
    printf("%-18ld %-16s %-6d %s\n", event.time, event.comm, event.pid, "Hello, perf_output!");
  });

  // perf_buffer_poll() in a loop, until Ctrl-C or --duration.
  while (await ctx.sleep(100)) b.perfBufferPoll(0);
});

runIfMain(import.meta.url, example);
