/**
 * Chapter 13, Maps: BPF_DEVMAP and redirect_map, after bcc's
 * xdp_redirect_map. An XDP program on the input device swaps the Ethernet
 * source and destination addresses of each frame, counts it per IP protocol
 * and redirects it through slot 0 of a device map, which user space points
 * at the output device's ifindex; the output device gets a pass-through XDP
 * program, as some drivers need for native redirection (a veth needs one on
 * its peer, which receives the frames). Every second it prints the packets
 * redirected in that second, per IP protocol.
 *
 * -S: generic (skb) XDP instead of native. XDP runs natively here.
 *
 *   tsbpf example maps/xdp_devmap [--duration SECONDS] [-S] IN_IFACE OUT_IFACE
 */
import { readFileSync } from "node:fs";
import { printf } from "../../src/format/printf.js";
import { BPF, type PerCpuArray, XDP_FLAGS_SKB_MODE } from "../../src/index.js";
import { defineExample, runIfMain } from "../lib/example.js";

export const bpfText = `
#define KBUILD_MODNAME "tsbpf"
#include <uapi/linux/bpf.h>
#include <linux/in.h>
#include <linux/if_ether.h>
#include <linux/ip.h>

BPF_DEVMAP(tx_port, 1);
BPF_PERCPU_ARRAY(rxcnt, long, 256);

static inline void swap_src_dst_mac(void *data)
{
    unsigned short *p = data;
    unsigned short dst[3];

    dst[0] = p[0];
    dst[1] = p[1];
    dst[2] = p[2];
    p[0] = p[3];
    p[1] = p[4];
    p[2] = p[5];
    p[3] = dst[0];
    p[4] = dst[1];
    p[5] = dst[2];
}

int xdp_redirect_map(struct xdp_md *ctx)
{
    void *data_end = (void *)(long)ctx->data_end;
    void *data = (void *)(long)ctx->data;
    struct ethhdr *eth = data;
    uint32_t key = 0;
    long *value;
    uint64_t nh_off;

    nh_off = sizeof(*eth);
    if (data + nh_off > data_end)
        return XDP_DROP;

    if (eth->h_proto == htons(ETH_P_IP)) {
        struct iphdr *iph = data + nh_off;
        if ((void *)(iph + 1) > data_end)
            return XDP_DROP;
        key = iph->protocol;
    }

    value = rxcnt.lookup(&key);
    if (value)
        *value += 1;

    swap_src_dst_mac(data);
    return tx_port.redirect_map(0, 0);
}

int xdp_dummy(struct xdp_md *ctx)
{
    return XDP_PASS;
}
`;

function ifindex(dev: string): number {
  try {
    return Number(readFileSync(`/sys/class/net/${dev}/ifindex`, "utf8"));
  } catch {
    throw new Error(`no network device ${dev} in this namespace`);
  }
}

export const example = defineExample(
  { name: "maps/xdp_devmap", usage: "[-S] IN_IFACE OUT_IFACE" },
  async (ctx) => {
    const skb = ctx.args.includes("-S");
    const [inIf, outIf] = ctx.args.filter((a) => a !== "-S");
    if (!inIf || !outIf)
      throw new Error("usage: maps/xdp_devmap [--duration SECONDS] [-S] IN_IFACE OUT_IFACE");
    const flags = skb ? XDP_FLAGS_SKB_MODE : 0;

    await using b = await BPF.load({ text: bpfText });
    b.getTable("tx_port").set(0, ifindex(outIf));
    b.attachXdp(inIf, b.loadFunc("xdp_redirect_map", BPF.XDP), flags);
    b.attachXdp(outIf, b.loadFunc("xdp_dummy", BPF.XDP), flags);

    const rxcnt = b.getTable<PerCpuArray<bigint>>("rxcnt");
    let prev = new Map<number, bigint>();
    printf("Redirecting %s -> %s, hit Ctrl-C to stop.\n", inIf, outIf);
    while (await ctx.sleep(1000)) {
      const now = new Map<number, bigint>();
      for (let k = 0; k < 256; k++) {
        const sum = BigInt(rxcnt.sum(k));
        if (sum > 0n) now.set(k, sum);
      }
      for (const [k, sum] of now) {
        const delta = sum - (prev.get(k) ?? 0n);
        if (delta > 0n) printf("proto %d: %d pkt/s\n", k, delta);
      }
      prev = now;
    }

    b.removeXdp(inIf, flags);
    b.removeXdp(outIf, flags);
  },
);

runIfMain(import.meta.url, example);
