/**
 * `npm run compat`: bcc's tools (Debian's bpfcc-tools) recorded with default
 * arguments and replayed through tsbpf; prints a table (tool, program, how far
 * it got, the error) and the totals. Needs root.
 *
 *   node dist/test/compat/run.js [--json] [tool ...]
 */
import { existsSync } from "node:fs";
import { listTools, type ProgramResult, runCompat, summarize, type ToolResult } from "./bcc_tools.js";

const args = process.argv.slice(2);
const json = args.includes("--json");
const tools = args.filter((a) => !a.startsWith("--"));

if (!existsSync("/usr/sbin/execsnoop-bpfcc")) {
  process.stderr.write("compat: Debian's bpfcc-tools is not installed (npm run compat installs it)\n");
  process.exit(2);
}

const stageText: Record<ProgramResult["failedAt"], string> = {
  compile: "does not compile",
  verify: "compiles, not verified",
  attach: "verifies, does not attach",
  ok: "attaches",
};

function row(r: ToolResult): string[] {
  if (r.programs.length === 0) {
    const why =
      r.record.status === "failed" || r.record.status === "skipped"
        ? (r.record.error ?? "")
        : `no program (${r.record.status})`;
    return [`${r.record.tool}: ${why}`];
  }
  return r.programs.map((p) => {
    const label = r.programs.length > 1 ? `${r.record.tool}#${p.index}` : r.record.tool;
    const err = p.error ? ` (${p.kernelLacks ? "kernel lacks: " : ""}${p.error})` : "";
    return `${label}: ${stageText[p.failedAt]}${err}`;
  });
}

const results = await runCompat(tools.length ? tools : listTools(), {
  onTool: (r) => {
    if (json)
      process.stdout.write(
        `${JSON.stringify({ tool: r.record.tool, status: r.record.status, programs: r.programs })}\n`,
      );
    else for (const line of row(r)) process.stdout.write(`${line}\n`);
  },
});
const s = summarize(results);
const summary =
  `${s.tools} tools, ${s.toolsWithPrograms} build programs with default arguments: ${s.programs} programs; ` +
  `${s.compiled} compile, ${s.verified} verify, ${s.attached} attach here; ` +
  `${s.kernelLacks} of the rest fail because this kernel lacks a feature`;
if (json) process.stdout.write(`${JSON.stringify({ summary: s })}\n`);
else process.stdout.write(`\n${summary}\n`);
