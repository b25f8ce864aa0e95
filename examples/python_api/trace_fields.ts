/**
 * Chapter 14: trace_fields(), trace_pipe split into its fields. A
 * tracepoint on execve prints one line per call with bpf_trace_printk;
 * user space reads each line as (task, pid, cpu, flags, ts, msg) and
 * prints the timestamp, command, PID and message in columns.
 *
 *   tsbpf example python_api/trace_fields [--duration SECONDS]
 */

import { printf } from "../../src/format/printf.js";
import { BPF } from "../../src/index.js";
import { defineExample, runIfMain } from "../lib/example.js";

export const bpfText = `
TRACEPOINT_PROBE(syscalls, sys_enter_execve)
{
    bpf_trace_printk("Hello, trace_fields!\\n");
    return 0;
}
`;

export const example = defineExample({ name: "python_api/trace_fields" }, async (ctx) => {
  await using b = await BPF.load({ text: bpfText });
  printf("%-18s %-16s %-6s %s\n", "TIME(s)", "COMM", "PID", "MESSAGE");
  for await (const { task, pid, ts, msg } of b.traceFields({ signal: ctx.signal })) {
    printf("%-18.9f %-16s %-6d %s\n", ts, task, pid, msg);
  }
});

runIfMain(import.meta.url, example);
