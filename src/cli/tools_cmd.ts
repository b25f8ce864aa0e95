/**
 * `tsbpf tools`: every tool with the hooks it uses on the running kernel,
 * and `tsbpf NAME [options]`: runs one.
 */
import { loadTool, toolNames } from "../../tools/index.js";
import { runTool } from "../../tools/lib/runtime.js";

/** `tsbpf tools`: one line per tool: name, summary, hooks here. */
export async function toolsMain(): Promise<number> {
  let out = `${"TOOL".padEnd(16)} ${"WHAT IT TRACES".padEnd(44)} HOOKS ON THIS KERNEL\n`;
  for (const name of toolNames()) {
    const t = await loadTool(name);
    if (!t) continue;
    let hooks: string;
    try {
      hooks = t.hooks() || "(none on this kernel)";
    } catch (err) {
      hooks = `(${(err as Error).message})`;
    }
    out += `${name.padEnd(16)} ${t.summary.padEnd(44)} ${hooks}\n`;
  }
  process.stdout.write(out);
  return 0;
}

/** Runs the tool called name, or returns undefined when there is none. */
export async function toolMain(name: string, argv: string[]): Promise<number | undefined> {
  const t = await loadTool(name);
  return t ? runTool(t, argv) : undefined;
}
