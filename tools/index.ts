/**
 * The tools `tsbpf NAME` runs, each loaded only when asked for (the CLI
 * bundle holds them all; a tool's module runs nothing until it is loaded).
 */
import type { Tool } from "./lib/runtime.js";

const LOADERS: Record<string, () => Promise<{ tool: Tool }>> = {
  argdist: () => import("./argdist.js"),
  bashreadline: () => import("./bashreadline.js"),
  bindsnoop: () => import("./bindsnoop.js"),
  biolatency: () => import("./biolatency.js"),
  biopattern: () => import("./biopattern.js"),
  biosnoop: () => import("./biosnoop.js"),
  biotop: () => import("./biotop.js"),
  bitesize: () => import("./bitesize.js"),
  cachestat: () => import("./cachestat.js"),
  capable: () => import("./capable.js"),
  cpudist: () => import("./cpudist.js"),
  drsnoop: () => import("./drsnoop.js"),
  execsnoop: () => import("./execsnoop.js"),
  exitsnoop: () => import("./exitsnoop.js"),
  filetop: () => import("./filetop.js"),
  funccount: () => import("./funccount.js"),
  funclatency: () => import("./funclatency.js"),
  gethostlatency: () => import("./gethostlatency.js"),
  hardirqs: () => import("./hardirqs.js"),
  killsnoop: () => import("./killsnoop.js"),
  memleak: () => import("./memleak.js"),
  mountsnoop: () => import("./mountsnoop.js"),
  offcputime: () => import("./offcputime.js"),
  oomkill: () => import("./oomkill.js"),
  opensnoop: () => import("./opensnoop.js"),
  profile: () => import("./profile.js"),
  runqlat: () => import("./runqlat.js"),
  runqlen: () => import("./runqlen.js"),
  runqslower: () => import("./runqslower.js"),
  slabratetop: () => import("./slabratetop.js"),
  softirqs: () => import("./softirqs.js"),
  solisten: () => import("./solisten.js"),
  sslsniff: () => import("./sslsniff.js"),
  stackcount: () => import("./stackcount.js"),
  trace: () => import("./trace.js"),
  statsnoop: () => import("./statsnoop.js"),
  syncsnoop: () => import("./syncsnoop.js"),
  syscount: () => import("./syscount.js"),
  tcpaccept: () => import("./tcpaccept.js"),
  tcpconnect: () => import("./tcpconnect.js"),
  tcpconnlat: () => import("./tcpconnlat.js"),
  tcpdrop: () => import("./tcpdrop.js"),
  tcplife: () => import("./tcplife.js"),
  tcpretrans: () => import("./tcpretrans.js"),
  tcprtt: () => import("./tcprtt.js"),
  tcpstates: () => import("./tcpstates.js"),
  tcptop: () => import("./tcptop.js"),
  threadsnoop: () => import("./threadsnoop.js"),
  wqlat: () => import("./wqlat.js"),
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
