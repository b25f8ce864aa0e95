/**
 * The tools `tsbpf NAME` runs, each loaded only when asked for (the CLI
 * bundle holds them all; a tool's module runs nothing until it is loaded).
 */
import type { Tool } from "./lib/runtime.js";

const LOADERS: Record<string, () => Promise<{ tool: Tool }>> = {
  bashreadline: () => import("./bashreadline.js"),
  cachestat: () => import("./cachestat.js"),
  capable: () => import("./capable.js"),
  drsnoop: () => import("./drsnoop.js"),
  execsnoop: () => import("./execsnoop.js"),
  gethostlatency: () => import("./gethostlatency.js"),
  hardirqs: () => import("./hardirqs.js"),
  memleak: () => import("./memleak.js"),
  oomkill: () => import("./oomkill.js"),
  slabratetop: () => import("./slabratetop.js"),
  softirqs: () => import("./softirqs.js"),
  sslsniff: () => import("./sslsniff.js"),
  wqlat: () => import("./wqlat.js"),
  runqlat: () => import("./runqlat.js"),
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
