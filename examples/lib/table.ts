/** The README's table of tutorial examples, generated from the catalog. */
import { chapters } from "../catalog.js";

const HOW: Record<string, string> = {
  native: "natively",
  error: "natively: its point is the typed error",
  matrix: "only in the kernel matrix",
};

function howHere(here: string): string {
  if (here.startsWith("fallback: ")) return `through its fallback: ${here.slice("fallback: ".length)}`;
  return HOW[here] ?? here;
}

export function examplesTable(): string {
  let out =
    "| chapter | program | what it shows | runs here (6.18, no kprobes, no fentry) |\n|---|---|---|---|\n";
  for (const c of chapters)
    for (const p of c.programs)
      out += `| ${c.number}. ${c.title} | \`${c.dir}/${p.name}\` | ${p.summary.replace(/\|/g, "\\|")} | ${howHere(p.here)} |\n`;
  return out;
}
