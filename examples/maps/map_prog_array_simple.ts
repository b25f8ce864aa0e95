/**
 * Chapter 13, Maps: BPF_PROG_ARRAY and tail calls. A kprobe on execve
 * tail-calls, in turn, slot 0 (bar) and slot 1 (foo) of a program array that
 * user space fills with loadFunc(...).fd; each prints who it is with
 * bpf_trace_printk, so the output alternates "I'm bar" / "I'm foo".
 *
 * A tail-called program must have the type of its caller (the kernel ties a
 * program array to the first program type that uses it), so foo and bar are
 * loaded as BPF.KPROBE next to the kprobe, and as BPF.TRACEPOINT when, on a
 * kernel without kprobes, the caller runs on the syscalls:sys_enter_execve
 * tracepoint instead (announced in one line on stderr; --strict fails with
 * the typed error). The caller is attached first, so that the array's type
 * is the one of the mechanism this kernel has.
 *
 *   tsbpf example maps/map_prog_array_simple [--duration SECONDS] [--strict]
 */

import { printf } from "../../src/format/printf.js";
import { BPF, type ProgArray } from "../../src/index.js";
import { defineExample, runIfMain } from "../lib/example.js";

export const bpfText = `
BPF_PROG_ARRAY(ftable, 2);
BPF_ARRAY(turn, u64, 1);

int foo(void *ctx)
{
    bpf_trace_printk("I'm foo\\n");
    return 0;
}

int bar(void *ctx)
{
    bpf_trace_printk("I'm bar\\n");
    return 0;
}

int syscall__execve(struct pt_regs *ctx)
{
    int zero = 0;
    u64 *n = turn.lookup(&zero);
    if (!n)
        return 0;
    u64 idx = __sync_fetch_and_add(n, 1) & 1;
    ftable.call(ctx, idx);
    return 0;
}
`;

export const example = defineExample({ name: "maps/map_prog_array_simple" }, async (ctx) => {
  await using b = await BPF.load({ text: bpfText });
  const ftable = b.getTable<ProgArray>("ftable");
  const execve = b.getSyscallFnname("execve");
  await ctx.fallback(
    () => {
      b.attachKprobe({ event: execve, fnName: "syscall__execve" });
      ftable.set(0, b.loadFunc("bar", BPF.KPROBE).fd);
      ftable.set(1, b.loadFunc("foo", BPF.KPROBE).fd);
    },
    "tracepoint syscalls:sys_enter_execve (foo and bar loaded as BPF.TRACEPOINT)",
    () => {
      b.attachTracepoint({ tp: "syscalls:sys_enter_execve", fnName: "syscall__execve" });
      ftable.set(0, b.loadFunc("bar", BPF.TRACEPOINT).fd);
      ftable.set(1, b.loadFunc("foo", BPF.TRACEPOINT).fd);
    },
  );

  printf("%-6s %-12s %s\n", "PID", "COMM", "OUTPUT");
  for await (const { task, pid, msg } of b.traceFields({ signal: ctx.signal })) {
    printf("%-6d %-12.12s %s\n", pid, task, msg);
  }
});

runIfMain(import.meta.url, example);
