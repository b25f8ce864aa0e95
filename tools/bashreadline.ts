/**
 * bashreadline: print the commands entered in every running bash, bcc's
 * columns. Hook: a uretprobe on readline() in /bin/bash (or the libreadline
 * given with -s), as bcc.
 */
import type { BPF, RingBuf } from "../src/index.js";
import { hms } from "./lib/output.js";
import type { Tool } from "./lib/runtime.js";

interface LineEvent {
  str: string;
  pid: number;
}

export const tool: Tool = {
  name: "bashreadline",
  summary: "Print entered bash commands from all running shells",
  options: [
    {
      short: "s",
      long: "shared",
      type: "string",
      metavar: "PATH",
      help: "specify the location of libreadline.so library (bash's own readline by default)",
    },
  ],
  examples: [
    "tsbpf bashreadline                        # commands typed into any bash",
    "tsbpf bashreadline -s /lib/libreadline.so # a bash linked with a shared libreadline",
  ],
  jsonFields: ["time", "pid", "command"],
  hooks: () => "uretprobe /bin/bash:readline",

  async run(ctx) {
    const name = ctx.args.str("shared") ?? "/bin/bash";
    const b: BPF = await ctx.open();
    b.attachUretprobe({ name, sym: "readline", fnName: "printret" });
    const out = ctx.out;
    out.printf("%-9s %-7s %s", "TIME", "PID", "COMMAND");
    const events = b.getTable<RingBuf>("events");
    events.openRingBuffer((_c, data) => {
      const e = events.event(data) as LineEvent;
      if (out.json) {
        out.record({ time: new Date().toISOString(), pid: e.pid, command: e.str });
        return;
      }
      out.printf("%-9s %-7d %s", hms(), e.pid, e.str);
    });
    await ctx.done();
  },
};
