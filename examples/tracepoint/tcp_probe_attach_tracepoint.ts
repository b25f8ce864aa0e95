/**
 * Chapter 6, tracepoints: tcp_probe again, without TRACEPOINT_PROBE. The
 * program declares the tracepoint's record itself, from the event's format
 * file (/sys/kernel/tracing/events/tcp/tcp_probe/format): 8 bytes of common
 * fields, then saddr and daddr (28 bytes each), sport and dport. Those first
 * fields have kept their offsets since Linux 4.16; the fields after them
 * change between kernels, so the struct stops at dport, and only reads what
 * it declares. User space attaches the function by name with
 * attachTracepoint({ tp: "tcp:tcp_probe", fnName }) (bcc's attach_tracepoint)
 * and prints the same columns as tcp_probe: COMM PID sport dport.
 *
 *   tsbpf example tracepoint/tcp_probe_attach_tracepoint [--duration SECONDS]
 */

import { printf } from "../../src/format/printf.js";
import { BPF, type PerfEventArray } from "../../src/index.js";
import { defineExample, runIfMain } from "../lib/example.js";
import { type DataT, ntohs } from "./tcp_probe.js";

export const bpfText = `
#define KBUILD_MODNAME "tcp_probe_attach_tracepoint"
#include <net/sock.h>
#include <linux/sched.h>

struct tcp_probe_args {
    u64 __common;   /* common_type, common_flags, common_preempt_count, common_pid */
    u8 saddr[28];
    u8 daddr[28];
    u16 sport;
    u16 dport;
};

struct data_t {
    u32 pid;
    char comm[TASK_COMM_LEN];
    struct sockaddr_in saddr;
    struct sockaddr_in daddr;
};
BPF_PERF_OUTPUT(events);

int on_tcp_probe(struct tcp_probe_args *args)
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

export const example = defineExample({ name: "tracepoint/tcp_probe_attach_tracepoint" }, async (ctx) => {
  await using b = await BPF.load({ text: bpfText });
  b.attachTracepoint({ tp: "tcp:tcp_probe", fnName: "on_tcp_probe" });
  const events = b.table<PerfEventArray>("events");
  printf("%-16s %-7s %-6s %s\n", "COMM", "PID", "sport", "dport");
  events.openPerfBuffer((_cpu, data) => {
    const e = events.event(data) as DataT;
    printf("%-16s %-7d %-6d %d\n", e.comm, e.pid, ntohs(e.saddr.sin_port), ntohs(e.daddr.sin_port));
  });
  while (await ctx.sleep(1000));
});

runIfMain(import.meta.url, example);
