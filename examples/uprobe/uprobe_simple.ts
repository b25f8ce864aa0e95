/**
 * Chapter 4, bcc's uprobe_simple: a uprobe on func() of the target program
 * prints its first argument, a uretprobe prints its return value, both with
 * bpf_trace_printk; user space prints the trace lines with a timestamp,
 * task and pid, skipping its own process like the original.
 *
 * Start the target first (tsbpf example uprobe/target_sample), then:
 *
 *   tsbpf example uprobe/uprobe_simple [--duration SECONDS] [TARGET]
 *
 * TARGET is the traced executable: by default the target_sample that
 * uprobe/target_sample builds (the original used ./target-sample).
 */

import { printf } from "../../src/format/printf.js";
import { BPF } from "../../src/index.js";
import { buildTarget } from "../lib/c_target.js";
import { defineExample, runIfMain } from "../lib/example.js";

/** The C text; PID becomes this process's id before it is compiled. */
export const bpfText = `
#include <uapi/linux/ptrace.h>

int uprobe_func(struct pt_regs *ctx)
{
    u32 pid = bpf_get_current_pid_tgid() >> 32;
    if (pid == PID)
        return 0;

    bpf_trace_printk("arg = %u\\n", PT_REGS_PARM1(ctx));
    return 0;
}

int uretprobe_func(struct pt_regs *ctx)
{
    u32 pid = bpf_get_current_pid_tgid() >> 32;
    if (pid == PID)
        return 0;

    bpf_trace_printk("return value = %u\\n", PT_REGS_RC(ctx));
    return 0;
}
`;

export const example = defineExample({ name: "uprobe/uprobe_simple", usage: "[TARGET]" }, async (ctx) => {
  const target = ctx.args[0] ?? buildTarget(import.meta.url, "uprobe", "target_sample");
  await using b = await BPF.load({ text: bpfText.replace(/\bPID\b/g, String(process.pid)) });
  b.attachUprobe({ name: target, sym: "func", fnName: "uprobe_func" });
  b.attachUretprobe({ name: target, sym: "func", fnName: "uretprobe_func" });

  printf("%-18s %-16s %-6s %s\n", "TIME(s)", "COMM", "PID", "MESSAGE");
  for await (const { task, pid, ts, msg } of b.traceFields({ signal: ctx.signal })) {
    printf("%-18.9f %-16s %-6d %s\n", ts, task, pid, msg);
  }
});

runIfMain(import.meta.url, example);
