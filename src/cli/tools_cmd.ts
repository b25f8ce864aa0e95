/**
 * `tsbpf tools`: every tool with the hooks it uses on the running kernel,
 * and `tsbpf NAME [options]`: runs one.
 */
import { loadTool, toolNames } from "../../tools/index.js";
import { runTool } from "../../tools/lib/runtime.js";

/** `tsbpf tools`: one line per tool: name, summary, hooks here. */
export async function toolsMain(): Promise<number> {
  const rows: Array<[string, string, string]> = [];
  for (const name of toolNames()) {
    const t = await loadTool(name);
    if (!t) continue;
    let hooks: string;
    try {
      hooks = t.hooks() || "(none on this kernel)";
    } catch (err) {
      hooks = `(${(err as Error).message})`;
    }
    rows.push([name, t.summary.replace(/\.$/, ""), hooks]);
  }
  const w0 = Math.max(4, ...rows.map((r) => r[0].length));
  const w1 = Math.max(14, ...rows.map((r) => r[1].length));
  let out = `${"TOOL".padEnd(w0)}  ${"WHAT IT TRACES".padEnd(w1)}  HOOKS ON THIS KERNEL\n`;
  for (const [n, s, h] of rows) out += `${n.padEnd(w0)}  ${s.padEnd(w1)}  ${h}\n`;
  process.stdout.write(out);
  return 0;
}

/** Runs the tool called name, or returns undefined when there is none. */
export async function toolMain(name: string, argv: string[]): Promise<number | undefined> {
  const t = await loadTool(name);
  return t ? runTool(t, argv) : undefined;
}
