/**
 * Chapter 8, System-call probes: bcc's execve_kprobe_simple, the program that
 * does not work. It names its function kprobe__execve, expecting a kprobe on
 * the execve syscall; but no kernel function is called "execve": since 4.17
 * the syscall is "__x64_sys_execve" on x86-64 (get_syscall_fnname), so bcc
 * fails to attach. tsbpf fails too, with an error that says so and names
 * the function to use:
 * - on a kernel with kprobes, an AttachError: no traceable kernel function
 *   "execve", the execve syscall is "__x64_sys_execve" (name the function
 *   kprobe__sys_execve, or pass getSyscallFnname("execve") to attachKprobe);
 * - on a kernel without kprobes, a NotSupportedError that says the same and
 *   names the tracepoint syscalls:sys_enter_execve.
 * There is no fallback: the error is the point (see syscall/execve_simple for
 * the working form).
 *
 *   tsbpf example syscall/execve_kprobe_simple [--duration SECONDS]
 */

import { printf } from "../../src/format/printf.js";
import { BPF } from "../../src/index.js";
import { defineExample, runIfMain } from "../lib/example.js";

/** The C text, as a bcc user writes it (and as it fails). */
export const bpfText = `
#include <uapi/linux/ptrace.h>

int kprobe__execve(struct pt_regs *ctx)
{
    bpf_trace_printk("start of execve\\n");
    return 0;
}
`;

export const example = defineExample({ name: "syscall/execve_kprobe_simple" }, async (ctx) => {
  // The auto-attach of kprobe__execve throws here.
  await using b = await BPF.load({ text: bpfText });

  printf("%-18s %-16s %-6s %s\n", "TIME(s)", "COMM", "PID", "MESSAGE");
  for await (const { task, pid, ts, msg } of b.traceFields({ signal: ctx.signal })) {
    printf("%-18.9f %-16s %-6d %s\n", ts, task, pid, msg);
  }
});

runIfMain(import.meta.url, example);
