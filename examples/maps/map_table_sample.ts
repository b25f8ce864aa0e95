/**
 * Chapter 13, Maps: map_table_sample. Every execve bumps one of two counters
 * in an array map, index 0 when the caller is root (uid 0) and index 1 for
 * anyone else. The map is declared with BPF_TABLE("array", ...) or, with the
 * define switched, with the BPF_ARRAY shorthand: both give the same two-entry
 * array, so the user side does not change. Once a round (1 s by default) the
 * user side walks keys(), prints each counter and clears the table.
 *
 * The original switches the declaration by editing a #define around the
 * two; here the C holds a UIDCNT_DECL placeholder that the user side replaces
 * with one declaration or the other (bcc tools' usual text.replace idiom),
 * chosen with --array, so both forms run (and are tested) without editing.
 *
 * On a kernel without kprobes (CONFIG_KPROBES off) it says so in one line on
 * stderr and attaches the same function to the syscalls:sys_enter_execve
 * tracepoint instead; with --strict it fails with the NotSupportedError.
 *
 *   tsbpf example maps/map_table_sample [--duration S] [--strict] [--array] [INTERVAL]
 */

import { printf } from "../../src/format/printf.js";
import { type ArrayTable, BPF } from "../../src/index.js";
import { defineExample, runIfMain } from "../lib/example.js";

/** The C text: the array is declared one way or the other, the code is the same. */
export const bpfText = `
#include <uapi/linux/ptrace.h>

UIDCNT_DECL


int syscall__execve(struct pt_regs *ctx)
{
    uint32_t uid = bpf_get_current_uid_gid() & 0xffffffff;
    uint32_t idx = (uid == 0) ? 0 : 1;   /* 0: root, 1: everybody else */
    long *val;

    val = uidcnt.lookup(&idx);
    if (val)
        uidcnt.increment(idx);
    return 0;
}
`;

const LABELS = ["root", "non-root"];

export const example = defineExample(
  { name: "maps/map_table_sample", usage: "[--array] [INTERVAL]" },
  async (ctx) => {
    const useArray = ctx.args.includes("--array");
    const rest = ctx.args.filter((a) => a !== "--array");
    const interval = rest[0] === undefined ? 1 : Number(rest[0]);
    if (!(interval > 0)) throw new Error(`INTERVAL must be a number of seconds > 0, got ${rest[0]}`);

    // BPF_TABLE(type, key type, value type, name, entries); BPF_ARRAY(name, value type, entries)
    const decl = useArray ? "BPF_ARRAY(uidcnt, long, 2);" : 'BPF_TABLE("array", uint32_t, long, uidcnt, 2);';
    await using b = await BPF.load({ text: bpfText.replace("UIDCNT_DECL", decl) });
    await ctx.attachSyscallKprobe(b, "execve", "syscall__execve");

    const uidcnt = b.getTable<ArrayTable<bigint>>("uidcnt");
    printf(
      "Counting execve calls of root and non-root users (%s)... Hit Ctrl-C to end.\n",
      useArray ? "BPF_ARRAY" : 'BPF_TABLE("array")',
    );
    while (await ctx.sleep(interval * 1000)) {
      for (const k of uidcnt.keys()) {
        const val = uidcnt.getValue(k);
        printf("%-8s : %d\n", LABELS[k] ?? String(k), val);
      }
      uidcnt.clear();
    }
  },
);

runIfMain(import.meta.url, example);
