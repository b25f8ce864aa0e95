/**
 * Chapter 4, strlen_snoop_simple: a uprobe on libc's strlen(), found from
 * the library name "c" as bcc does (the libc the dynamic loader would use;
 * strlen is an IFUNC there, followed to the implementation glibc picked),
 * prints the length of each string passed to it with bpf_trace_printk.
 *
 * Every process calls strlen, often: give a PID to watch one process (as
 * bcc's strlen_snoop does), otherwise every process but this one is traced.
 *
 *   tsbpf example uprobe/strlen_snoop_simple [--duration SECONDS] [PID]
 */

import { printf } from "../../src/format/printf.js";
import { BPF } from "../../src/index.js";
import { defineExample, runIfMain } from "../lib/example.js";

/**
 * The C text; FILTER becomes the test on the caller's pid. Known bug of the
 * original, fixed here: it printed sizeof of the argument, i.e. the size of
 * a pointer (8 for every call). This reads the string and prints its length
 * (strings of 255 bytes or more are shown as 255+).
 */
export const bpfText = `
#include <uapi/linux/ptrace.h>

int printarg(struct pt_regs *ctx)
{
    if (!PT_REGS_PARM1(ctx))
        return 0;

    u32 pid = bpf_get_current_pid_tgid() >> 32;
    if (FILTER)
        return 0;

    char str[256] = {};
    long n = bpf_probe_read_user_str(&str, sizeof(str), (void *)PT_REGS_PARM1(ctx));
    if (n <= 0)
        return 0;
    if (n == sizeof(str))
        bpf_trace_printk("%ld+\\n", n - 1);
    else
        bpf_trace_printk("%ld\\n", n - 1);
    return 0;
}
`;

export const example = defineExample({ name: "uprobe/strlen_snoop_simple", usage: "[PID]" }, async (ctx) => {
  const arg = ctx.args[0];
  if (arg !== undefined && !/^[1-9]\d*$/.test(arg)) throw new Error(`PID must be a process id, not "${arg}"`);
  const filter = arg !== undefined ? `pid != ${arg}` : `pid == ${process.pid}`;
  if (arg === undefined) ctx.note("tracing strlen in every process (give a PID to watch one)");
  await using b = await BPF.load({ text: bpfText.replace("FILTER", filter) });
  b.attachUprobe({ name: "c", sym: "strlen", fnName: "printarg" });

  printf("%-18s %-16s %-6s %s\n", "TIME(s)", "COMM", "PID", "STRLEN");
  for await (const { task, pid, ts, msg } of b.traceFields({ signal: ctx.signal })) {
    if (pid === process.pid) continue;
    printf("%-18.9f %-16s %-6d %s\n", ts, task, pid, msg);
  }
});

runIfMain(import.meta.url, example);
