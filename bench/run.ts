/**
 * Benchmarks, each measured side by side with its baseline in one run; each
 * lives in its own file (startup.ts, compile.ts, events.ts, tools.ts,
 * profile.ts, exporter.ts, soak.ts), which says what it measures and how.
 *
 *   npm run bench                     human table
 *   npm run bench -- --json           JSON lines: { name, value, unit, baseline, … }
 *   npm run bench -- --runs=N --only=startup|compile|events|tools|profile|exporter|soak
 *   npm run bench -- --only=soak --soak-seconds=90   (soak: 10 minutes unless shortened)
 */
import { compileBench } from "./compile.js";
import { eventsBench } from "./events.js";
import { exporterBench } from "./exporter.js";
import { json, rows } from "./lib.js";
import { profileBench } from "./profile.js";
import { soakBench } from "./soak.js";
import { startupBench } from "./startup.js";
import { toolsBench } from "./tools.js";

const runsArg = process.argv.find((a) => a.startsWith("--runs="));
const RUNS = runsArg ? Number(runsArg.slice("--runs=".length)) : 10;
const only = process.argv.find((a) => a.startsWith("--only="))?.slice("--only=".length);

if (!only || only === "startup") await startupBench(RUNS);
if (!only || only === "compile") await compileBench(RUNS);
if (!only || only === "events") await eventsBench(RUNS);
if (!only || only === "tools") await toolsBench(RUNS);
if (!only || only === "profile") await profileBench(RUNS);
if (!only || only === "exporter") await exporterBench(RUNS);
// 10 minutes: only when asked for by name
if (only === "soak") await soakBench();

if (!json) {
  const head = ["benchmark", "tsbpf", "baseline", "unit", "extra"];
  const table = rows.map((r) => {
    const extra = Object.entries(r)
      .filter(([k]) => !["name", "value", "unit", "baseline", "baseline_name"].includes(k))
      .map(([k, v]) => `${k}=${v}`)
      .join(" ");
    return [
      r.name,
      String(r.value),
      r.baseline === null ? "-" : `${r.baseline} (${r.baseline_name})`,
      r.unit,
      extra,
    ];
  });
  const widths = head.map((h, k) => Math.max(h.length, ...table.map((r) => (r[k] as string).length)));
  const line = (cells: string[]): string => cells.map((c, k) => c.padEnd(widths[k] as number)).join("  ");
  process.stdout.write(`${line(head)}\n${line(widths.map((w) => "-".repeat(w)))}\n`);
  for (const r of table) process.stdout.write(`${line(r)}\n`);
}
