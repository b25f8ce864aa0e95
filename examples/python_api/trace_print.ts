/**
 * Chapter 14: trace_print(), the shortest way to see bpf_trace_printk
 * output. A tracepoint on execve prints one line per call; user space
 * copies trace_pipe to stdout, either as the kernel writes it or, with
 * --fmt, through bcc's field format ({0}..{5} = task, pid, cpu, flags,
 * timestamp, message; the tutorial uses "{1} {5}": the PID and the message).
 *
 *   tsbpf example python_api/trace_print [--duration SECONDS] [--fmt FMT]
 */
import { BPF } from "../../src/index.js";
import { defineExample, runIfMain } from "../lib/example.js";

export const bpfText = `
TRACEPOINT_PROBE(syscalls, sys_enter_execve)
{
    bpf_trace_printk("Hello, execve!\\n");
    return 0;
}
`;

export const example = defineExample(
  { name: "python_api/trace_print", usage: "[--fmt FMT]" },
  async (ctx) => {
    let fmt: string | undefined;
    for (let i = 0; i < ctx.args.length; i++) {
      const a = ctx.args[i] as string;
      if (a === "--fmt" && i + 1 < ctx.args.length) fmt = ctx.args[++i];
      else if (a.startsWith("--fmt=")) fmt = a.slice("--fmt=".length);
      else throw new Error(`unknown argument ${a}; usage: python_api/trace_print [--fmt FMT]`);
    }
    await using b = await BPF.load({ text: bpfText });
    // Raw: trace_pipe's lines as they are. With fmt: e.g. "{1} {5}" → "PID message".
    await b.tracePrint({ fmt, signal: ctx.signal });
  },
);

runIfMain(import.meta.url, example);
