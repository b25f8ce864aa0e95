/**
 * Chapter 13, Maps: stack traces, after bcc's mallocstacks. A uprobe on
 * libc's malloc in one process records the caller's user stack in a
 * BPF_STACK_TRACE (get_stackid with BPF_F_USER_STACK) and adds the requested
 * size to a hash keyed by that stack id. On Ctrl-C it prints each stack with
 * the bytes allocated there, biggest first, every frame resolved with
 * b.sym(addr, pid).
 *
 * Fixed here: the original skipped stack id 0, which is a valid id (it
 * tested `k.value > 0`); this prints every non-negative id.
 *
 * Frames come from the frame pointers: a program built without them shows
 * short stacks. Uprobes run natively on this kernel.
 *
 *   tsbpf example maps/map_stack_trace [--duration SECONDS] PID
 */

import { printf } from "../../src/format/printf.js";
import { BPF, type HashTable, type StackTrace } from "../../src/index.js";
import { defineExample, runIfMain } from "../lib/example.js";

export const bpfText = `
#include <uapi/linux/ptrace.h>

BPF_HASH(calls, int);
BPF_STACK_TRACE(stack_traces, 1024);

int alloc_enter(struct pt_regs *ctx, size_t size)
{
    int key = stack_traces.get_stackid(ctx, BPF_F_USER_STACK);
    if (key < 0)
        return 0;

    u64 zero = 0, *val;
    val = calls.lookup_or_try_init(&key, &zero);
    if (val)
        (*val) += size;
    return 0;
}
`;

export const example = defineExample({ name: "maps/map_stack_trace", usage: "PID" }, async (ctx) => {
  const pid = Number(ctx.args[0]);
  if (ctx.args.length !== 1 || !Number.isInteger(pid) || pid <= 0)
    throw new Error("usage: maps/map_stack_trace [--duration SECONDS] PID");

  await using b = await BPF.load({ text: bpfText });
  b.attachUprobe({ name: "c", sym: "malloc", fnName: "alloc_enter", pid });
  printf("Attaching to malloc in pid %d, Ctrl+C to quit.\n", pid);

  while (await ctx.sleep(1000));

  const calls = b.getTable<HashTable<number, bigint>>("calls");
  const stackTraces = b.getTable<StackTrace>("stack_traces");
  const rows = [...calls.items()].sort((x, y) => (x[1] < y[1] ? 1 : x[1] > y[1] ? -1 : 0));
  for (const [stackId, bytes] of rows) {
    printf("%d bytes allocated at:\n", bytes);
    if (stackId >= 0) {
      for (const addr of stackTraces.walk(stackId)) printf("\t%s\n", b.sym(addr, pid, { showOffset: true }));
    }
  }
});

runIfMain(import.meta.url, example);
