/**
 * Chapter 13, Maps: map_hist2. The same two histograms as map_hist (linear
 * `dist` and log2 `log_dist` of completed block I/O sizes in kbytes, printed
 * with printLinearHist and printLog2Hist when the program stops), fed by the
 * block:block_rq_complete tracepoint instead of a kprobe: a stable interface
 * that every kernel has, so this variant needs no kprobes and no choice of
 * kernel function. The tracepoint reports the completed size in 512-byte
 * sectors, so kbytes = nr_sector * 512 / 1024.
 *
 *   tsbpf example maps/map_hist2 [--duration S]
 */

import { printf } from "../../src/format/printf.js";
import { BPF } from "../../src/index.js";
import { defineExample, runIfMain } from "../lib/example.js";

export const bpfText = `
BPF_HISTOGRAM(dist);       /* linear: one slot per kbyte */
BPF_HISTOGRAM(log_dist);   /* log2 of the kbytes */

TRACEPOINT_PROBE(block, block_rq_complete)
{
    u64 kbytes = (u64)args->nr_sector * 512 / 1024;

    dist.increment(kbytes);
    log_dist.increment(bpf_log2l(kbytes));
    return 0;
}
`;

export const example = defineExample({ name: "maps/map_hist2" }, async (ctx) => {
  await using b = await BPF.load({ text: bpfText });

  printf("Tracing block I/O... Hit Ctrl-C to end.\n");
  while (await ctx.sleep(60_000)) {
    // the histograms are printed once, at the end
  }

  printf("\n");
  printf("Linear histogram\n");
  b.getTable("dist").printLinearHist("kbytes");
  printf("\n");
  printf("log2 histogram\n");
  b.getTable("log_dist").printLog2Hist("kbytes");
});

runIfMain(import.meta.url, example);
