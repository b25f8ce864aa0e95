/**
 * The tools `tsbpf NAME` runs, each loaded only when asked for (the CLI
 * bundle holds them all; a tool's module runs nothing until it is loaded).
 */
import type { Tool } from "./lib/runtime.js";

const LOADERS: Record<string, () => Promise<{ tool: Tool }>> = {
  bindsnoop: () => import("./bindsnoop.js"),
  execsnoop: () => import("./execsnoop.js"),
  exitsnoop: () => import("./exitsnoop.js"),
  killsnoop: () => import("./killsnoop.js"),
  mountsnoop: () => import("./mountsnoop.js"),
  opensnoop: () => import("./opensnoop.js"),
  runqlat: () => import("./runqlat.js"),
  solisten: () => import("./solisten.js"),
  statsnoop: () => import("./statsnoop.js"),
  syncsnoop: () => import("./syncsnoop.js"),
  threadsnoop: () => import("./threadsnoop.js"),
};

/** The names of every tool, sorted. */
export function toolNames(): string[] {
  return Object.keys(LOADERS).sort();
}

/** The tool called name, or undefined. */
export async function loadTool(name: string): Promise<Tool | undefined> {
  const load = Object.hasOwn(LOADERS, name) ? LOADERS[name] : undefined;
  return load ? (await load()).tool : undefined;
}
