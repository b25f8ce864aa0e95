/**
 * Chapter 13, Maps: an XDP program counting ICMP. Attached to a network
 * device (default lo; any device name as the argument), it parses each
 * frame's Ethernet and IPv4 headers and counts the ICMP packets per source
 * address in a hash map, letting every packet through (XDP_PASS). Every
 * second it prints the counts so far; on Ctrl-C it removes the program
 * (removeXdp) and prints them once more.
 *
 * Flags 0 let the kernel choose the mode: native XDP where the driver has
 * it, generic (skb) XDP otherwise (as on lo). XDP runs natively here.
 *
 *   tsbpf example maps/xdp_icmp_count [--duration SECONDS] [DEVICE]
 */

import { printf } from "../../src/format/printf.js";
import { BPF, type HashTable } from "../../src/index.js";
import { defineExample, runIfMain } from "../lib/example.js";

export const bpfText = `
#include <uapi/linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/in.h>

BPF_HASH(icmp_count, u32, u64);

int xdp_icmp(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data;
    void *data_end = (void *)(long)ctx->data_end;

    struct ethhdr *eth = data;
    if ((void *)(eth + 1) > data_end)
        return XDP_PASS;
    if (eth->h_proto != htons(ETH_P_IP))
        return XDP_PASS;

    struct iphdr *iph = (void *)(eth + 1);
    if ((void *)(iph + 1) > data_end)
        return XDP_PASS;
    if (iph->protocol != IPPROTO_ICMP)
        return XDP_PASS;

    u32 saddr = iph->saddr;
    icmp_count.increment(saddr);
    return XDP_PASS;
}
`;

/** A u32 read from the network-order address bytes (little-endian host) as a.b.c.d. */
function ipv4(addr: number): string {
  return [addr & 0xff, (addr >>> 8) & 0xff, (addr >>> 16) & 0xff, addr >>> 24].join(".");
}

export const example = defineExample({ name: "maps/xdp_icmp_count", usage: "[DEVICE]" }, async (ctx) => {
  const device = ctx.args[0] ?? "lo";
  await using b = await BPF.load({ text: bpfText });
  const fn = b.loadFunc("xdp_icmp", BPF.XDP);
  b.attachXdp(device, fn, 0);

  const icmpCount = b.getTable<HashTable<number, bigint>>("icmp_count");
  const print = (): void => {
    const rows = [...icmpCount.items()].sort((x, y) => x[0] - y[0]);
    for (const [saddr, n] of rows) printf("%-16s %d\n", ipv4(saddr), n);
  };
  printf("Counting ICMP packets on %s, hit Ctrl-C to end.\n", device);
  printf("%-16s %s\n", "SOURCE", "PACKETS");
  while (await ctx.sleep(1000)) print();

  b.removeXdp(device, 0);
  printf("Removed XDP from %s; totals:\n", device);
  print();
});

runIfMain(import.meta.url, example);
