/**
 * Chapter 13, Maps: BPF_ARRAY_OF_MAPS. Two inner arrays count execve calls
 * made by root (slot 0) and by other users (slot 1), one for bash and one for
 * sh; the outer array holds them (0: bash, 1: sh), its slots filled from user
 * space with the inner maps' fds. A kprobe on execve picks the inner map by
 * the caller's comm and counts there. On Ctrl-C it prints a results block.
 *
 * On a kernel without kprobes the same function runs on the
 * syscalls:sys_enter_execve tracepoint (one line on stderr says so;
 * --strict fails with the typed error instead).
 *
 *   tsbpf example maps/map_array_of_maps_sample [--duration SECONDS] [--strict]
 */

import { printf } from "../../src/format/printf.js";
import { type ArrayTable, BPF, type MapInMap } from "../../src/index.js";
import { defineExample, runIfMain } from "../lib/example.js";

export const bpfText = `
#include <linux/sched.h>

BPF_ARRAY(bash_counts, u64, 2);
BPF_ARRAY(sh_counts, u64, 2);
BPF_ARRAY_OF_MAPS(shells, "bash_counts", 2);

int syscall__execve(struct pt_regs *ctx)
{
    char comm[TASK_COMM_LEN];
    bpf_get_current_comm(&comm, sizeof(comm));

    int shell;
    if (comm[0] == 'b' && comm[1] == 'a' && comm[2] == 's' && comm[3] == 'h' && comm[4] == 0)
        shell = 0;
    else if (comm[0] == 's' && comm[1] == 'h' && comm[2] == 0)
        shell = 1;
    else
        return 0;

    void *counts = shells.lookup(&shell);
    if (!counts)
        return 0;

    int who = (bpf_get_current_uid_gid() & 0xffffffff) == 0 ? 0 : 1;
    u64 *val = bpf_map_lookup_elem(counts, &who);
    if (val)
        __sync_fetch_and_add(val, 1);
    return 0;
}
`;

export const example = defineExample({ name: "maps/map_array_of_maps_sample" }, async (ctx) => {
  await using b = await BPF.load({ text: bpfText });
  const shells = b.getTable<MapInMap<number>>("shells");
  shells.set(0, b.getTable("bash_counts").fd);
  shells.set(1, b.getTable("sh_counts").fd);

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
