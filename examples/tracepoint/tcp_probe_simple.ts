/**
 * Chapter 6, tracepoints: the tcp:tcp_probe tracepoint with
 * TRACEPOINT_PROBE. The kernel fires it when an established TCP socket
 * receives a segment (tcp_rcv_established), with the socket's local address
 * in args->saddr and the peer's in args->daddr: each is a sockaddr_in or
 * sockaddr_in6 stored in 28 bytes. The program prints the first bytes of
 * daddr: byte 0 is the low byte of the family (2 for AF_INET on a
 * little-endian machine), bytes 2 and 3 the peer's port in network order.
 * User space prints one row per trace_pipe line: the task's PID and comm and
 * the message.
 *
 * The fields of args are those of the event's record, described in its
 * format file (/sys/kernel/tracing/events/tcp/tcp_probe/format). List the
 * tracepoints with `tsbpf tplist` (bcc's tplist), e.g. `tsbpf tplist '^tcp:'`,
 * and an event's fields with -v: `tsbpf tplist -v '^tcp:tcp_probe$'`.
 *
 *   tsbpf example tracepoint/tcp_probe_simple [--duration SECONDS]
 */

import { printf } from "../../src/format/printf.js";
import { BPF } from "../../src/index.js";
import { defineExample, runIfMain } from "../lib/example.js";

/** bcc needs KBUILD_MODNAME defined before net/sock.h (the kernel headers use it); tsbpf does not, and accepts it. */
export const bpfText = `
#define KBUILD_MODNAME "tcp_probe_simple"
#include <net/sock.h>

TRACEPOINT_PROBE(tcp, tcp_probe)
{
    bpf_trace_printk("daddr[0]=%u daddr[2]=%u daddr[3]=%u\\n",
                     args->daddr[0], args->daddr[2], args->daddr[3]);
    return 0;
}
`;

export const example = defineExample({ name: "tracepoint/tcp_probe_simple" }, async (ctx) => {
  await using b = await BPF.load({ text: bpfText });
  // TRACEPOINT_PROBE attaches by itself when the program loads.
  printf("%-6s %-16s %s\n", "PID", "COMM", "OUTPUT");
  for await (const { task, pid, msg } of b.traceFields({ signal: ctx.signal })) {
    printf("%-6d %-16s %s\n", pid, task, msg);
  }
});

runIfMain(import.meta.url, example);
