/**
 * Chapter 8, System-call probes: bcc's execve_simple. A function named
 * syscall__execve is attached with attach_kprobe to the kernel function of
 * the execve syscall, whose name depends on the kernel (get_syscall_fnname:
 * "__x64_sys_execve" on x86-64 since 4.17, "sys_execve" before); it prints
 * "start of execve" for every execve.
 *
 * On a kernel without kprobes it says so in one line on stderr and attaches
 * the same function to the syscalls:sys_enter_execve tracepoint instead;
 * --strict makes it fail with the NotSupportedError.
 *
 *   tsbpf example syscall/execve_simple [--duration SECONDS] [--strict]
 */

import { printf } from "../../src/format/printf.js";
import { BPF } from "../../src/index.js";
import { defineExample, runIfMain } from "../lib/example.js";

/** The C text, as a bcc user writes it. */
export const bpfText = `
#include <uapi/linux/ptrace.h>

int syscall__execve(struct pt_regs *ctx)
{
    bpf_trace_printk("start of execve\\n");
    return 0;
}
`;

export const example = defineExample({ name: "syscall/execve_simple" }, async (ctx) => {
  await using b = await BPF.load({ text: bpfText });
  const execveFnname = b.getSyscallFnname("execve");
  await ctx.fallback(
    () => b.attachKprobe({ event: execveFnname, fnName: "syscall__execve" }),
    "tracepoint syscalls:sys_enter_execve",
    () => b.attachTracepoint({ tp: "syscalls:sys_enter_execve", fnName: "syscall__execve" }),
  );

  printf("%-18s %-16s %-6s %s\n", "TIME(s)", "COMM", "PID", "MESSAGE");
  for await (const { task, pid, ts, msg } of b.traceFields({ signal: ctx.signal })) {
    printf("%-18.9f %-16s %-6d %s\n", ts, task, pid, msg);
  }
});

runIfMain(import.meta.url, example);
