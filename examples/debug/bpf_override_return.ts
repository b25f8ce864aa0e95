/**
 * Chapter 12, Debug: bcc's bpf_override_return. A kprobe on the execve
 * syscall checks the caller's comm and, when it is "bash", makes the syscall
 * return -EACCES without running it (bpf_override_return): bash then reports
 * "Permission denied" for every command it tries to run.
 *
 * That needs a kernel built with CONFIG_BPF_KPROBE_OVERRIDE (and kprobes, and
 * a function marked for error injection, which syscalls are). Neither this
 * project's development kernel nor Debian's 6.1 of the kernel matrix has it,
 * so on both the example ends in the typed error: a NotSupportedError for
 * "error injection (bpf_override_return)" that says which option is missing
 * and what to use instead. No tracepoint can change a return value, so
 * there is no fallback. The success path is untested.
 *
 *   tsbpf example debug/bpf_override_return [--duration SECONDS]
 */

import { printf } from "../../src/format/printf.js";
import { BPF } from "../../src/index.js";
import { defineExample, runIfMain } from "../lib/example.js";

/** The C text, as a bcc user writes it. */
export const bpfText = `
#include <uapi/linux/ptrace.h>
#include <linux/sched.h>

int syscall__execve(struct pt_regs *ctx)
{
    char comm[TASK_COMM_LEN];

    bpf_get_current_comm(&comm, sizeof(comm));
    if (comm[0] == 'b' && comm[1] == 'a' && comm[2] == 's' && comm[3] == 'h' && comm[4] == 0) {
        bpf_trace_printk("execve from bash: -EACCES\\n");
        bpf_override_return(ctx, -EACCES);
    }
    return 0;
}
`;

export const example = defineExample({ name: "debug/bpf_override_return" }, async (ctx) => {
  await using b = await BPF.load({ text: bpfText });
  // Throws where the kernel cannot override return values (loading the
  // function is where the verifier refuses bpf_override_return).
  b.attachKprobe({ event: b.getSyscallFnname("execve"), fnName: "syscall__execve" });

  printf("%-18s %-16s %-6s %s\n", "TIME(s)", "COMM", "PID", "MESSAGE");
  for await (const { task, pid, ts, msg } of b.traceFields({ signal: ctx.signal })) {
    printf("%-18.9f %-16s %-6d %s\n", ts, task, pid, msg);
  }
});

runIfMain(import.meta.url, example);
