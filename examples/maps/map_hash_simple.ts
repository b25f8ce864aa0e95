/**
 * Chapter 13, Maps: map_hash_simple. A BPF_HASH keyed by a struct that holds
 * the program name (comm) counts how often each program calls execve: the C
 * gets the entry with lookup_or_try_init (created at zero the first time) and
 * increments it in place. Every round (5 s) the user side prints the entries
 * sorted by count, as `%10d : "comm"` between two marker lines, and clears
 * the table.
 *
 * INTERVAL (seconds, default 5 as in the original) sets the round length.
 *
 * On a kernel without kprobes (CONFIG_KPROBES off) it says so in one line on
 * stderr and attaches the same function to the syscalls:sys_enter_execve
 * tracepoint instead; with --strict it fails with the NotSupportedError.
 *
 *   tsbpf example maps/map_hash_simple [--duration S] [--strict] [INTERVAL]
 */

import { printf } from "../../src/format/printf.js";
import { BPF, type HashTable } from "../../src/index.js";
import { defineExample, runIfMain } from "../lib/example.js";

export const bpfText = `
#include <uapi/linux/ptrace.h>
#include <linux/sched.h>

struct key_t {
    char comm[TASK_COMM_LEN];
};
BPF_HASH(uidcnt, struct key_t);

int syscall__execve(struct pt_regs *ctx)
{
    struct key_t key = {};
    u64 zero = 0, *value;

    bpf_get_current_comm(&key.comm, sizeof(key.comm));
    value = uidcnt.lookup_or_try_init(&key, &zero);
    if (value) {
        (*value)++;
    }
    return 0;
}
`;

export const example = defineExample({ name: "maps/map_hash_simple", usage: "[INTERVAL]" }, async (ctx) => {
  const interval = ctx.args[0] === undefined ? 5 : Number(ctx.args[0]);
  if (!(interval > 0)) throw new Error(`INTERVAL must be a number of seconds > 0, got ${ctx.args[0]}`);

  await using b = await BPF.load({ text: bpfText });
  await ctx.attachSyscallKprobe(b, "execve", "syscall__execve");

  const uidcnt = b.getTable<HashTable<{ comm: string }, bigint>>("uidcnt");
  while (await ctx.sleep(interval * 1000)) {
    printf("--- counter : program name-----\n");
    for (const [k, v] of [...uidcnt.items()].sort((x, y) => (x[1] < y[1] ? -1 : x[1] > y[1] ? 1 : 0))) {
      printf('%10d : "%s"\n', v, k.comm);
    }
    printf("--- end of round -----\n");
    uidcnt.clear();
  }
});

runIfMain(import.meta.url, example);
