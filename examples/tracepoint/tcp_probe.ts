/**
 * Chapter 6, tracepoints: tcp:tcp_probe sent to user space as a struct
 * through BPF_PERF_OUTPUT. The program copies the sockaddr at the start of
 * args->saddr and args->daddr into sockaddr_in fields of its record with
 * bpf_probe_read, plus the current task's PID (tgid) and comm; user space
 * decodes the record and prints the ports (sin_port, in network order, made
 * host order) in columns COMM PID sport dport. sport is the local port of
 * the socket that received the segment, dport its peer's.
 *
 *   tsbpf example tracepoint/tcp_probe [--duration SECONDS]
 */

import { printf } from "../../src/format/printf.js";
import { BPF, type PerfEventArray } from "../../src/index.js";
import { defineExample, runIfMain } from "../lib/example.js";

export const bpfText = `
#define KBUILD_MODNAME "tcp_probe"
#include <net/sock.h>
#include <linux/sched.h>

struct data_t {
    u32 pid;
    char comm[TASK_COMM_LEN];
    struct sockaddr_in saddr;
    struct sockaddr_in daddr;
};
BPF_PERF_OUTPUT(events);

TRACEPOINT_PROBE(tcp, tcp_probe)
{
    struct data_t data = {};

    data.pid = bpf_get_current_pid_tgid() >> 32;
    bpf_get_current_comm(&data.comm, sizeof(data.comm));
    bpf_probe_read(&data.saddr, sizeof(data.saddr), args->saddr);
    bpf_probe_read(&data.daddr, sizeof(data.daddr), args->daddr);
    events.perf_submit(args, &data, sizeof(data));
    return 0;
}
`;

/** The record as tsbpf decodes it from the program's BTF. */
export interface DataT {
  pid: number;
  comm: string;
  saddr: { sin_family: number; sin_port: number };
  daddr: { sin_family: number; sin_port: number };
}

/** Network to host order of a 16-bit value (the sockaddr's port). */
export function ntohs(v: number): number {
  return ((v & 0xff) << 8) | (v >> 8);
}

export const example = defineExample({ name: "tracepoint/tcp_probe" }, async (ctx) => {
  await using b = await BPF.load({ text: bpfText });
  const events = b.table<PerfEventArray>("events");
  printf("%-16s %-7s %-6s %s\n", "COMM", "PID", "sport", "dport");
  events.openPerfBuffer((_cpu, data) => {
    const e = events.event(data) as DataT;
    printf("%-16s %-7d %-6d %d\n", e.comm, e.pid, ntohs(e.saddr.sin_port), ntohs(e.daddr.sin_port));
  });
  while (await ctx.sleep(1000));
});

runIfMain(import.meta.url, example);
