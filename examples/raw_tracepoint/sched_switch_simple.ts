/**
 * Chapter 7, raw tracepoints: sched_switch without the tracefs record. A raw
 * tracepoint program gets the tracepoint's own arguments in ctx->args[], as
 * the kernel passes them to its probes: for sched_switch (bool preempt,
 * struct task_struct *prev, struct task_struct *next, ...), so args[1] is
 * the task leaving the CPU and args[2] the one taking it. The program copies
 * each task's tgid (the process ID user space knows) with bpf_probe_read and
 * prints "prev -> next"; user space prints one row per line of trace_pipe.
 *
 *   tsbpf example raw_tracepoint/sched_switch_simple [--duration SECONDS]
 */

import { printf } from "../../src/format/printf.js";
import { BPF } from "../../src/index.js";
import { defineExample, runIfMain } from "../lib/example.js";

export const bpfText = `
#include <linux/sched.h>

RAW_TRACEPOINT_PROBE(sched_switch)
{
    struct task_struct *prev = (struct task_struct *)ctx->args[1];
    struct task_struct *next = (struct task_struct *)ctx->args[2];
    s32 prev_tgid, next_tgid;

    bpf_probe_read(&prev_tgid, sizeof(prev->tgid), &prev->tgid);
    bpf_probe_read(&next_tgid, sizeof(next->tgid), &next->tgid);
    bpf_trace_printk("%d -> %d\\n", prev_tgid, next_tgid);
    return 0;
}
`;

export const example = defineExample({ name: "raw_tracepoint/sched_switch_simple" }, async (ctx) => {
  await using b = await BPF.load({ text: bpfText });
  printf("%-6s %-16s %s\n", "PID", "COMM", "OUTPUT");
  for await (const { task, pid, msg } of b.traceFields({ signal: ctx.signal })) {
    printf("%-6d %-16s %s\n", pid, task, msg);
  }
});

runIfMain(import.meta.url, example);
