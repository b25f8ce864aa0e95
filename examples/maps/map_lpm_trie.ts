/**
 * Chapter 13, Maps: BPF_LPM_TRIE, longest-prefix match on IPv4 addresses.
 * User space inserts the prefixes given on the command line (a.b.c.d/len);
 * the BPF side looks up the destination of every IPv4 TCP connect in the
 * trie and counts it on the longest prefix that holds it. On Ctrl-C it
 * prints one row per prefix.
 *
 * Connects are seen on the sock:inet_sock_set_state tracepoint (a socket
 * entering SYN_SENT), which this kernel has: no fallback.
 *
 *   tsbpf example maps/map_lpm_trie [--duration SECONDS] [PREFIX...]
 *   (default prefixes: 127.0.0.0/8 127.0.0.1/32 10.0.0.0/8 0.0.0.0/0)
 */

import { printf } from "../../src/format/printf.js";
import { BPF, type LpmTrie } from "../../src/index.js";
import { defineExample, runIfMain } from "../lib/example.js";

export const bpfText = `
#include <net/sock.h>

struct key_v4 {
    u32 prefixlen;
    u8 addr[4];
};

BPF_LPM_TRIE(prefixes, struct key_v4, u64, 128);

TRACEPOINT_PROBE(sock, inet_sock_set_state)
{
    if (args->protocol != IPPROTO_TCP || args->family != AF_INET)
        return 0;
    if (args->newstate != TCP_SYN_SENT)
        return 0;

    struct key_v4 key = { .prefixlen = 32 };
    __builtin_memcpy(key.addr, args->daddr, 4);
    u64 *count = prefixes.lookup(&key);
    if (count)
        __sync_fetch_and_add(count, 1);
    return 0;
}
`;

type Key = { prefixlen: number; addr: number[] };

/** "a.b.c.d/len" as a trie key (the address bytes in network order). */
function parsePrefix(s: string): Key {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)\/(\d+)$/.exec(s);
  const bytes = m ? m.slice(1, 5).map(Number) : [];
  const len = m ? Number(m[5]) : -1;
  if (!m || bytes.some((x) => x > 255) || len > 32) throw new Error(`not an IPv4 prefix a.b.c.d/len: ${s}`);
  return { prefixlen: len, addr: bytes };
}

export const example = defineExample({ name: "maps/map_lpm_trie", usage: "[PREFIX...]" }, async (ctx) => {
  const given = ctx.args.length > 0 ? ctx.args : ["127.0.0.0/8", "127.0.0.1/32", "10.0.0.0/8", "0.0.0.0/0"];
  const keys = given.map(parsePrefix);

  await using b = await BPF.load({ text: bpfText });
  const prefixes = b.getTable<LpmTrie<Key, bigint>>("prefixes");
  for (const k of keys) prefixes.set(k, 0n);

  printf("Counting IPv4 connects per longest matching prefix... Hit Ctrl-C to end.\n");
  while (await ctx.sleep(1000));

  printf("\n%-18s %10s\n", "PREFIX", "CONNECTS");
  for (const k of keys) {
    printf("%-18s %10d\n", `${k.addr.join(".")}/${k.prefixlen}`, prefixes.get(k) ?? 0n);
  }
});

runIfMain(import.meta.url, example);
