/**
 * Chapter 13, Maps: BPF_HASH_OF_MAPS. Two inner arrays count execve calls
 * made by root (slot 0) and by other users (slot 1), one for bash and one for
 * sh; the outer hash, keyed by comm, holds them, its entries set from user
 * space with the inner maps' fds. A kprobe on execve looks the caller's comm
 * up in the hash and counts in the inner map it finds. On Ctrl-C it prints a
 * results block.
 *
 * On a kernel without kprobes the same function runs on the
 * syscalls:sys_enter_execve tracepoint (one line on stderr says so;
 * --strict fails with the typed error instead).
 *
 *   tsbpf example maps/map_hash_of_maps_sample [--duration SECONDS] [--strict]
 */

import { printf } from "../../src/format/printf.js";
import { type ArrayTable, BPF, type MapInMap } from "../../src/index.js";
import { defineExample, runIfMain } from "../lib/example.js";

export const bpfText = `
#include <linux/sched.h>

struct comm_key {
    char comm[TASK_COMM_LEN];
};

BPF_ARRAY(bash_counts, u64, 2);
BPF_ARRAY(sh_counts, u64, 2);
BPF_HASH_OF_MAPS(shells, struct comm_key, "bash_counts", 2);

int syscall__execve(struct pt_regs *ctx)
{
    struct comm_key key = {};
    bpf_get_current_comm(&key.comm, sizeof(key.comm));

    void *counts = shells.lookup(&key);
    if (!counts)
        return 0;

    int who = (bpf_get_current_uid_gid() & 0xffffffff) == 0 ? 0 : 1;
    u64 *val = bpf_map_lookup_elem(counts, &who);
    if (val)
        __sync_fetch_and_add(val, 1);
    return 0;
}
`;

export const example = defineExample({ name: "maps/map_hash_of_maps_sample" }, async (ctx) => {
  await using b = await BPF.load({ text: bpfText });
  const shells = b.getTable<MapInMap<{ comm: string }>>("shells");
  shells.set({ comm: "bash" }, b.getTable("bash_counts").fd);
  shells.set({ comm: "sh" }, b.getTable("sh_counts").fd);

  await ctx.attachSyscallKprobe(b, "execve", "syscall__execve");

  printf("Counting execve calls by bash and sh, root vs non-root... Hit Ctrl-C to end.\n");
  while (await ctx.sleep(1000));

  printf("\n---- results ----\n");
  printf("%-6s %10s %10s\n", "SHELL", "ROOT", "NON-ROOT");
  for (const name of ["bash", "sh"]) {
    const counts = b.getTable<ArrayTable<bigint>>(`${name}_counts`);
    printf("%-6s %10d %10d\n", name, counts.getValue(0), counts.getValue(1));
  }
});

runIfMain(import.meta.url, example);
