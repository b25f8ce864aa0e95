/**
 * Chapter 14: a table's keys() and values(). An execve probe counts calls
 * in a two-slot BPF_ARRAY: slot 0 for root, slot 1 for everyone else.
 * Every second user space prints what keys() gives (the indexes) and what
 * values() gives (the counts, in the same order).
 *
 * On a kernel without kprobes it says so in one line on stderr and attaches
 * the same function to the syscalls:sys_enter_execve tracepoint instead;
 * with --strict it fails with the NotSupportedError.
 *
 *   tsbpf example python_api/map_values_sample [--duration SECONDS] [--strict]
 */

import { printf } from "../../src/format/printf.js";
import { BPF } from "../../src/index.js";
import { defineExample, runIfMain } from "../lib/example.js";

export const bpfText = `
BPF_ARRAY(counts, u64, 2);

int syscall__execve(struct pt_regs *ctx)
{
    u32 uid = bpf_get_current_uid_gid();
    int key = uid == 0 ? 0 : 1;   /* 0: root, 1: non-root */

    counts.increment(key);
    return 0;
}
`;

export const example = defineExample({ name: "python_api/map_values_sample" }, async (ctx) => {
  await using b = await BPF.load({ text: bpfText });
  await ctx.attachSyscallKprobe(b, "execve", "syscall__execve");

  const counts = b.table("counts");
  while (await ctx.sleep(1000)) {
    printf("keys():   [%s]\n", [...counts.keys()].join(", "));
    printf("values(): [%s]\n", [...counts.values()].join(", "));
  }
});

runIfMain(import.meta.url, example);
