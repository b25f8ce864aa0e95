/**
 * Chapter 10: the verifier's "invalid mem access". An execve probe reads
 * the first character of the file name by dereferencing the filename
 * argument directly. That pointer is user-space memory: a BPF program may
 * read it only through bpf_probe_read_user(_str), so the verifier refuses
 * the load with "R1 invalid mem access 'scalar'" ('inv' before Linux 5.18).
 * (tsbpf, like bcc, rewrites direct reads of kernel memory into probe
 * reads, but never reads user memory behind the program's back.)
 *
 * tsbpf turns the refusal into a VerifierError naming the reason, the
 * source line and the helper to use; the example prints it ("invalid_mem_access:
 * VerifierError: ...") and exits with status 1.
 *
 * On a kernel without kprobes it says so in one line on stderr and loads
 * the same function as a syscalls:sys_enter_execve tracepoint (tsbpf reads
 * the declared arguments from the tracepoint record), where the verifier
 * refuses it the same way; with --strict it fails with the NotSupportedError.
 *
 *   tsbpf example error/invalid_mem_access [--strict]
 */

import { printf } from "../../src/format/printf.js";
import { BPF } from "../../src/index.js";
import { defineExample, runIfMain } from "../lib/example.js";

/**
 * The C text. The mistake is on the marked line; the fix is
 *   bpf_probe_read_user(&first, sizeof(first), filename);
 */
export const bpfText = `
int syscall__execve(struct pt_regs *ctx, const char __user *filename)
{
    /* filename points to user memory: dereferenced directly here */
    char first = filename[0];

    bpf_trace_printk("execve of a file starting with %c\\n", first);
    return 0;
}
`;

export const example = defineExample({ name: "error/invalid_mem_access" }, async (ctx) => {
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
