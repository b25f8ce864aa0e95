import type { BPF, RingBuf } from "../src/index.js";
import { attachFirstHook, describeHooks, HOOK_OPTION, type HookOffer, hookCandidates } from "./lib/hooks.js";
import { hms } from "./lib/output.js";
import { loadavg } from "./lib/proc.js";
import { hasTracepoint, type Tool } from "./lib/runtime.js";

interface OomEvent {
  fpid: number;
  tpid: number;
  pages: bigint;
  anon_rss: bigint;
  file_rss: bigint;
  shmem_rss: bigint;
  uid: number;
  oom_score_adj: number;
  fcomm: string;
  tcomm: string;
}

const TP = "oom:mark_victim";

const offer = (): HookOffer => ({
  functions: ["oom_kill_process"],
  tracepoint: hasTracepoint(TP),
  tracepointPartial: true,
});

/** bcc's line for one kill. */
export function formatKill(e: OomEvent, time: string, load: string): [string, ...unknown[]] {
  return [
    '%s Triggered by PID %d ("%s"), OOM kill of PID %d ("%s"), %d pages, loadavg: %s',
    time,
    e.fpid,
    e.fcomm,
    e.tpid,
    e.tcomm,
    e.pages,
    load,
  ];
}

export const tool: Tool = {
  name: "oomkill",
  summary: "Trace the out-of-memory (OOM) killer",
  options: [HOOK_OPTION],
  examples: [
    "tsbpf oomkill            # one line per OOM kill",
    "tsbpf oomkill --json     # one JSON object per OOM kill",
  ],
  jsonFields: [
    "time",
    "fpid",
    "fcomm",
    "tpid",
    "tcomm",
    "pages",
    "anon_rss",
    "file_rss",
    "shmem_rss",
    "uid",
    "oom_score_adj",
    "loadavg",
  ],
  hooks: () =>
    hasTracepoint(TP)
      ? describeHooks(offer(), { kprobe: `${TP} + kprobe oom_kill_process`, tracepoint: TP })
      : "none (needs the oom:mark_victim tracepoint)",

  async run(ctx) {
    const candidates = hookCandidates("oomkill", ctx.args.str("hook"), offer());
    const b: BPF = await ctx.open();
    // the tracepoint reports every kill; a hook on oom_kill_process() adds bcc's page count
    const hook = attachFirstHook(candidates, (kind) => {
      if (kind === "kprobe") b.attachKprobe({ event: "oom_kill_process", fnName: "oom_kill_process_kprobe" });
      else if (kind === "fentry")
        b.attachKfunc({ fnName: "oom_kill_process_fentry", target: "oom_kill_process" });
    });
    ctx.attachFirstTracepoint(b, "on_mark_victim", [TP]);
    if (hook === "tracepoint") {
      ctx.note(
        "tracepoint oom:mark_victim (bcc: a kprobe on oom_kill_process): 'pages' is the victim's total_vm, not the OOM control's total pages, which the tracepoint does not carry",
      );
    }
    const out = ctx.out;
    out.line("Tracing OOM kills... Ctrl-C to stop.");
    const events = b.getTable<RingBuf>("events");
    events.openRingBuffer((_c, data) => {
      const e = events.event(data) as OomEvent;
      const load = loadavg()?.trimEnd() ?? "?";
      if (out.json) {
        out.record({
          time: new Date().toISOString(),
          fpid: e.fpid,
          fcomm: e.fcomm,
          tpid: e.tpid,
          tcomm: e.tcomm,
          pages: e.pages,
          anon_rss: e.anon_rss,
          file_rss: e.file_rss,
          shmem_rss: e.shmem_rss,
          uid: e.uid,
          oom_score_adj: e.oom_score_adj,
          loadavg: load,
        });
        return;
      }
      out.printf(...formatKill(e, hms(), load));
    });
    await ctx.done();
  },
};
