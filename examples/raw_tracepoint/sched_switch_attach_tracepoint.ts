/**
 * Chapter 7, raw tracepoints: the sched_switch program of
 * sched_switch_simple as a plain function, attached by name with
 * attachRawTracepoint({ tp, fnName }) (bcc's attach_raw_tracepoint).
 *
 * The original misspells the tracepoint's name and stops with an error. This
 * port attaches to "sched_switch"; give another name as the argument to see
 * what tsbpf says about a name the kernel does not have: an AttachError that
 * names the closest tracepoints, e.g.
 *
 *   tsbpf example raw_tracepoint/sched_switch_attach_tracepoint sched_swich
 *   sched_switch_attach_tracepoint: AttachError: cannot attach to raw tracepoint
 *     sched_swich: no such raw tracepoint on this kernel (did you mean sched_switch, ...?)
 *
 *   tsbpf example raw_tracepoint/sched_switch_attach_tracepoint [--duration SECONDS] [TRACEPOINT]
 */

import { printf } from "../../src/format/printf.js";
import { BPF } from "../../src/index.js";
import { defineExample, runIfMain } from "../lib/example.js";

export const bpfText = `
#include <linux/sched.h>

int on_sched_switch(struct bpf_raw_tracepoint_args *ctx)
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

export const example = defineExample(
  { name: "raw_tracepoint/sched_switch_attach_tracepoint", usage: "[TRACEPOINT]" },
  async (ctx) => {
    await using b = await BPF.load({ text: bpfText });
    b.attachRawTracepoint({ tp: ctx.args[0] ?? "sched_switch", fnName: "on_sched_switch" });
    printf("%-6s %-16s %s\n", "PID", "COMM", "OUTPUT");
    for await (const { task, pid, msg } of b.traceFields({ signal: ctx.signal })) {
      printf("%-6d %-16s %s\n", pid, task, msg);
    }
  },
);

runIfMain(import.meta.url, example);
