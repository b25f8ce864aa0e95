/**
 * Chapter 6, tracepoints: tcp:tcp_probe kept to IPv4 peers. The first byte
 * of args->daddr is the low byte of the sockaddr's family, so comparing it
 * with AF_INET keeps IPv4 on a little-endian machine (args->family says the
 * same on any machine, on kernels whose format has it). Each event prints
 * the peer's port (args->dport, already in host order) and the pid and tgid
 * of the task that was running when the segment arrived: on loopback, the
 * sender (its softirq runs in the sender's context) or the receiver (when it
 * held the socket, the segment waits in the backlog until it lets go).
 *
 *   tsbpf example tracepoint/tcp_probe_filter [--duration SECONDS]
 */

import { printf } from "../../src/format/printf.js";
import { BPF } from "../../src/index.js";
import { defineExample, runIfMain } from "../lib/example.js";

export const bpfText = `
#define KBUILD_MODNAME "tcp_probe_filter"
#include <net/sock.h>

TRACEPOINT_PROBE(tcp, tcp_probe)
{
    u64 pid_tgid;

    if (args->daddr[0] != AF_INET)
        return 0;

    pid_tgid = bpf_get_current_pid_tgid();
    bpf_trace_printk("dport = %u, pid = %u, tgid = %u\\n",
                     args->dport, (u32)pid_tgid, pid_tgid >> 32);
    return 0;
}
`;

export const example = defineExample({ name: "tracepoint/tcp_probe_filter" }, async (ctx) => {
  await using b = await BPF.load({ text: bpfText });
  printf("%-6s %-16s %s\n", "PID", "COMM", "OUTPUT");
  for await (const { task, pid, msg } of b.traceFields({ signal: ctx.signal })) {
    printf("%-6d %-16s %s\n", pid, task, msg);
  }
});

runIfMain(import.meta.url, example);
