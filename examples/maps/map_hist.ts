/**
 * Chapter 13, Maps: map_hist. Two BPF_HISTOGRAMs of the size of completed
 * block I/O, in kbytes: `dist` counts each size in its own slot (printed with
 * printLinearHist), `log_dist` counts bpf_log2l of the size (printed with
 * printLog2Hist). Both tables are filled by one probe and printed when the
 * program stops (Ctrl-C or --duration). As in bcc, BPF_HISTOGRAM(dist) has 64
 * slots, so the linear table keeps sizes below 64 kbytes only; the log2 table
 * sees every size.
 *
 * The tutorial's probe is a kprobe on blk_account_io_completion(req, bytes).
 * Newer kernels made that function static and GCC splits it (only a
 * `blk_account_io_completion.part.0` clone is in kallsyms on 6.1 and 6.18),
 * so where the symbol is missing the kprobe goes on its caller,
 * blk_update_request(req, error, nr_bytes), which has the same byte count as
 * its third argument (bcc's own tools pick their block probe the same way).
 *
 * On a kernel without kprobes (CONFIG_KPROBES off) it says so in one line on
 * stderr and attaches to the raw tracepoint block_rq_complete instead: it
 * fires in blk_update_request too, with (rq, error, nr_bytes) as arguments;
 * with --strict it fails with the NotSupportedError. (map_hist2 is the
 * tracepoint-only variant.)
 *
 *   tsbpf example maps/map_hist [--duration S] [--strict]
 */

import { printf } from "../../src/format/printf.js";
import { BPF } from "../../src/index.js";
import { defineExample, runIfMain } from "../lib/example.js";

export const bpfText = `
#include <uapi/linux/ptrace.h>

BPF_HISTOGRAM(dist);       /* linear: one slot per kbyte */
BPF_HISTOGRAM(log_dist);   /* log2 of the kbytes */

static inline void count_kbytes(unsigned int bytes)
{
    dist.increment(bytes / 1024);
    log_dist.increment(bpf_log2l(bytes / 1024));
}

/* blk_account_io_completion(struct request *req, unsigned int bytes): the tutorial's hook */
int trace_io_completion(struct pt_regs *ctx, void *req, unsigned int bytes)
{
    count_kbytes(bytes);
    return 0;
}

/* blk_update_request(struct request *req, blk_status_t error, unsigned int nr_bytes): its caller */
int trace_update_request(struct pt_regs *ctx, void *req, int error, unsigned int bytes)
{
    count_kbytes(bytes);
    return 0;
}

/* raw tracepoint block_rq_complete(struct request *rq, blk_status_t error, unsigned int nr_bytes) */
int trace_rq_complete(struct bpf_raw_tracepoint_args *ctx)
{
    count_kbytes(ctx->args[2]);
    return 0;
}
`;

export const example = defineExample({ name: "maps/map_hist" }, async (ctx) => {
  await using b = await BPF.load({ text: bpfText });
  await ctx.fallback(
    () => {
      if (BPF.getKprobeFunctions(/^blk_account_io_completion$/).length > 0)
        b.attachKprobe({ event: "blk_account_io_completion", fnName: "trace_io_completion" });
      else b.attachKprobe({ event: "blk_update_request", fnName: "trace_update_request" });
    },
    "raw tracepoint block_rq_complete",
    () => b.attachRawTracepoint({ tp: "block_rq_complete", fnName: "trace_rq_complete" }),
  );

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
