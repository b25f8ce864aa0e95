/**
 * Chapter 10: what the verifier says when a program's license is not
 * GPL-compatible and it calls a GPL-only helper. The original declares its
 * license with bcc's `#define BPF_LICENSE` and calls bpf_trace_printk from
 * an execve kprobe; loading fails with "cannot call GPL-restricted function
 * from non-GPL compatible program".
 *
 * tsbpf turns that into a VerifierError whose message names the cause, the
 * source line of the call and what to change; the example prints it (as
 * "error_sample: VerifierError: ...") and exits with status 1. The full
 * verifier log is in the error's `log`.
 *
 * On a kernel without kprobes it says so in one line on stderr and loads
 * the same function as a syscalls:sys_enter_execve tracepoint, where the
 * verifier refuses it the same way; with --strict it fails with the
 * NotSupportedError instead.
 *
 *   tsbpf example error/error_sample [--strict]
 */

import { printf } from "../../src/format/printf.js";
import { BPF } from "../../src/index.js";
import { defineExample, runIfMain } from "../lib/example.js";

/** The C text: a proprietary license and a GPL-only helper. */
export const bpfText = `
#define BPF_LICENSE Proprietary

#include <linux/sched.h>

int syscall__execve(struct pt_regs *ctx)
{
    char comm[TASK_COMM_LEN];

    bpf_get_current_comm(&comm, sizeof(comm));
    bpf_trace_printk("execve from %s\\n", comm);
    return 0;
}
`;

export const example = defineExample({ name: "error/error_sample" }, async (ctx) => {
  await using b = await BPF.load({ text: bpfText });
  // Loading happens at attach time: this is where the verifier refuses the program.
  await ctx.attachSyscallKprobe(b, "execve", "syscall__execve");

  // Not reached: the verifier refuses the program above.
  printf("%-6s %-12s %s\n", "PID", "COMM", "OUTPUT");
  for await (const { task, pid, msg } of b.traceFields({ signal: ctx.signal })) {
    printf("%-6d %-12.12s %s\n", pid, task, msg);
  }
});

runIfMain(import.meta.url, example);
