/** The README's table of tools, made from the tools themselves (scripts/readme-tables.mjs writes it). */
import { loadTool, toolNames } from "../index.js";

/** Markdown rows: tool, what it traces, its options, its --json fields. */
export async function toolsTable(): Promise<string> {
  let out =
    "| tool | what it does | options (bcc's, plus `--json --duration --cgroup`) | `--json` fields |\n|---|---|---|---|\n";
  for (const name of toolNames()) {
    const t = await loadTool(name);
    if (!t) continue;
    const opts = t.options.map((o) => (o.short ? `-${o.short}` : `--${o.long}`));
    const pos = (t.positionals ?? []).map((p) => (p.required ? p.name : `[${p.name}]`));
    const cell = [...opts, ...pos].map((x) => `\`${x}\``).join(" ");
    out += `| \`tsbpf ${name}\` | ${t.summary} | ${cell || "—"} | ${t.jsonFields.map((f) => `\`${f.replace(/\|/g, "\\|")}\``).join(", ")} |\n`;
  }
  return out;
}
