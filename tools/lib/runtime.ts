/**
 * What every tool does around its own logic: parse the command line, open
 * its prebuilt BPF object (no compiler at run time) with its filters as
 * read-only globals, attach the hooks this kernel has, run until Ctrl-C,
 * SIGTERM, --duration or the reader going away, and leave nothing in the
 * kernel on any of those exits.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import type * as PromClient from "prom-client";
import { endQuietPause } from "../../src/compile_pause.js";
import type { MetricSpec } from "../../src/export/metrics.js";
import type { MetricsServer } from "../../src/export/serve.js";
import {
  BPF,
  BpfError,
  type CgroupArray,
  NotSupportedError,
  type PerCpuArray,
  type USDT,
} from "../../src/index.js";
import { Errno } from "../../src/kernel/constants.js";
import { permissionErrorFor } from "../../src/kernel/errors.js";
import { bpfPrivileged } from "../../src/kernel/features.js";
import { packageRoot } from "../../src/paths.js";
import { sleepUnlessAborted } from "../../src/sleep.js";
import { writeAll } from "../../src/stdio.js";
import { type Args, type CommandSpec, helpText, parseToolArgs, UsageError } from "./args.js";
import { Output, type Sink } from "./output.js";

/** A tool: its command line, the hooks it uses on this kernel, and its body. */
export interface Tool extends CommandSpec {
  /** One line for `tsbpf tools`: the hooks it uses on the running kernel. */
  hooks(): string;
  /**
   * When the hooks differ from bcc's tool on this kernel: one line saying
   * which hook bcc uses and what the difference changes, printed on stderr
   * at start (undefined: nothing to say).
   */
  hookNote?(): string | undefined;
  /** The fields of the --json records, documented in the README. */
  jsonFields: string[];
  run(ctx: ToolContext): Promise<void>;
}

/** Where a tool's compiled BPF object is (built by `npm run build` from tools/NAME.bpf.c). */
export function objectPath(name: string): string {
  return join(packageRoot(), "dist", "tools", `${name}.bpf.o`);
}

/** A tracepoint "cat:event", present on this kernel or not. */
export function hasTracepoint(tp: string): boolean {
  const [cat, ev] = tp.split(":");
  return cat !== undefined && ev !== undefined && BPF.tracepointExists(cat, ev);
}

/** Registers a tool's own prom-client metrics (ToolContext.exportCollectors). */
export type Collectors = (prom: typeof PromClient, registry: PromClient.Registry) => void;

/** What a tool's body works with. */
export class ToolContext {
  /** Aborted on SIGINT, SIGTERM, --duration, or when the reader of stdout goes away. */
  readonly signal: AbortSignal;
  private readonly ctl = new AbortController();
  private onReady: (() => void) | undefined;
  private readonly objects: BPF[] = [];

  constructor(
    readonly tool: Tool,
    readonly args: Args,
    readonly out: Output,
    private readonly errSink: (text: string) => void,
    onReady: (() => void) | undefined = undefined,
  ) {
    this.onReady = onReady;
    this.signal = this.ctl.signal;
    out.onClosed = () => this.stop();
  }

  /** Ends the run (the tool's body sees `signal` aborted). */
  stop(): void {
    this.ctl.abort();
  }

  /** The error that ended the run from inside an event-loop callback, if one did. */
  failure: unknown;

  /** One line on stderr, prefixed by the tool's name (hook notes, warnings). */
  note(text: string): void {
    this.errSink(`${this.tool.name}: ${text}\n`);
  }

  /**
   * Opens the tool's prebuilt object: read-only globals set from `rodata`,
   * maps resized, nothing attached yet. With --cgroup, the object's
   * `cgroup_map` gets the cgroup and `filter_cg` is set.
   */
  async open(
    opts: { rodata?: Record<string, unknown>; mapSizes?: Record<string, number>; name?: string } = {},
  ) {
    const name = opts.name ?? this.tool.name;
    const path = objectPath(name);
    if (!existsSync(path)) {
      throw new BpfError(
        `${name}: its BPF object ${path} is missing; build the package first (npm run build)`,
      );
    }
    const rodata = { ...opts.rodata };
    if (this.args.cgroup) rodata.filter_cg = true;
    const b = await BPF.open({ object: path, rodata, mapSizes: opts.mapSizes, autoAttach: false });
    this.objects.push(b);
    if (this.args.cgroup) {
      if (!b.tableNames().includes("cgroup_map")) {
        throw new UsageError(`--cgroup: ${name} cannot filter by cgroup`);
      }
      b.getTable<CgroupArray>("cgroup_map").set(0, this.args.cgroup);
    }
    return b;
  }

  /**
   * Compiles a program the tool generated from what the user typed (trace's
   * and argdist's probe expressions are C, so these tools need clang, as
   * bcc's do); the compile cache makes a repeated command start warm.
   * Nothing is attached yet; the object closes with the tool.
   */
  async compile(text: string, opts: { cflags?: string[]; usdtContexts?: USDT[] } = {}): Promise<BPF> {
    // (USDT contexts attach as the object loads: their probes read arguments through them)
    const b = await BPF.load({
      text,
      cflags: opts.cflags,
      usdtContexts: opts.usdtContexts,
      autoAttach: false,
    });
    this.objects.push(b);
    return b;
  }

  /**
   * Attaches fnName to the first tracepoint of `tps` this kernel has and
   * returns its name; undefined when it has none and `optional`, else a
   * NotSupportedError naming them.
   */
  attachFirstTracepoint(b: BPF, fnName: string, tps: string[], optional = false): string | undefined {
    for (const tp of tps) {
      if (!hasTracepoint(tp)) continue;
      b.attachTracepoint({ tp, fnName });
      return tp;
    }
    if (optional) return undefined;
    throw new NotSupportedError(
      `${this.tool.name}'s hooks`,
      `this kernel has none of the tracepoints ${tps.join(", ")}`,
    );
  }

  /** Attaches each [tracepoint, function] pair this kernel has; returns the tracepoints attached. */
  attachTracepoints(b: BPF, pairs: Array<[tp: string, fnName: string]>): string[] {
    const here = pairs.filter(([tp]) => hasTracepoint(tp));
    // loaded together: libbpf reads the kernel's BTF once for all of them, not once a program
    const fns = [...new Set(here.map(([, fn]) => fn))];
    if (fns.length > 1) b.loadFuncs(BPF.TRACEPOINT, fns);
    const done: string[] = [];
    for (const [tp, fnName] of here) {
      b.attachTracepoint({ tp, fnName });
      done.push(tp);
    }
    if (done.length === 0) {
      throw new NotSupportedError(
        `${this.tool.name}'s hooks`,
        `this kernel has none of the tracepoints ${pairs.map(([t]) => t).join(", ")}`,
      );
    }
    return done;
  }

  /** Attaches raw tracepoints [event, function], their programs loaded together (one kernel-BTF read). */
  attachRawTracepoints(b: BPF, pairs: ReadonlyArray<readonly [tp: string, fnName: string]>): void {
    const fns = [...new Set(pairs.map(([, fn]) => fn))];
    if (fns.length > 1) b.loadFuncs(BPF.RAW_TRACEPOINT, fns);
    for (const [tp, fnName] of pairs) b.attachRawTracepoint({ tp, fnName });
  }

  /** Events the tools' ring buffers had no room for, reported so far (tool.bpf.h's events_lost). */
  private lostReported = 0n;
  private lostTimer: NodeJS.Timeout | undefined;

  /** Events lost so far by every object of the tool, or 0n. */
  private lostEvents(): bigint {
    let n = 0n;
    for (const b of this.objects) {
      if (!b.tableNames().includes("events_lost")) continue;
      n += BigInt(b.getTable<PerCpuArray<bigint>>("events_lost").sum(0));
    }
    return n;
  }

  /** Says on stderr how many events were lost since the last report (bcc: "Possibly lost N samples"). */
  private reportLost(): void {
    const n = this.lostEvents();
    if (n <= this.lostReported) return;
    this.note(
      `lost ${n - this.lostReported} events: the ring buffer was full, the consumer fell behind (${n} lost since start)`,
    );
    this.lostReported = n;
  }

  /** Says the tool is attached and tracing (tests wait for it before they make activity). */
  ready(): void {
    if (!this.lostTimer && this.objects.length > 0) {
      this.lostTimer = setInterval(() => this.reportLost(), 1000);
      this.lostTimer.unref();
    }
    this.out.flush();
    const r = this.onReady;
    this.onReady = undefined;
    r?.();
  }

  /**
   * Marks the tool ready, then resolves when the run ends (signal,
   * --duration, reader gone); under --prometheus, serves the exported maps
   * meanwhile.
   */
  done(): Promise<void> {
    const prometheus = this.args.str("prometheus");
    if (prometheus !== undefined && !this.metricsServer) return this.serveUntilEnd(prometheus);
    return this.untilEnd();
  }

  /** Whether the run serves its maps as metrics (--prometheus) instead of printing them. */
  get servingMetrics(): boolean {
    return this.args.str("prometheus") !== undefined;
  }

  private untilEnd(): Promise<void> {
    this.ready();
    if (this.signal.aborted) return Promise.resolve();
    // Signal handlers do not keep Node's event loop alive: a tool with no
    // buffer to poll (profile, offcputime) would exit at once without this.
    const keepAlive = setInterval(() => {}, 2 ** 30);
    return new Promise((resolve) =>
      this.signal.addEventListener(
        "abort",
        () => {
          clearInterval(keepAlive);
          resolve();
        },
        { once: true },
      ),
    );
  }

  /**
   * bcc's `interval [count]` loop: calls tick every interval seconds until
   * count ticks or the end of the run; the last call gets `last = true`
   * (also when the run ends between ticks, as bcc prints on Ctrl-C).
   */
  async intervals(interval: number, count: number | undefined, tick: (last: boolean) => void): Promise<void> {
    if (!(interval > 0)) throw new UsageError("interval: expected a positive number of seconds");
    const prometheus = this.args.str("prometheus");
    if (prometheus !== undefined) return this.serveUntilEnd(prometheus);
    this.ready();
    let n = 0;
    for (;;) {
      const ended = await this.sleep(interval * 1000);
      n++;
      const last = ended || (count !== undefined && n >= count);
      tick(last);
      this.out.flush();
      if (last) return;
    }
  }

  /** Sleeps ms; resolves true when the run ended meanwhile. */
  sleep(ms: number): Promise<boolean> {
    return sleepUnlessAborted(ms, this.signal);
  }

  /**
   * The maps the tool serves as metrics under --prometheus (bcc's tools
   * print them instead): registered when the run reaches intervals(). Names
   * get the prefix `tsbpf_`.
   */
  exportMetrics(b: BPF, specs: MetricSpec[]): void {
    this.metricSources.push({ b, specs });
  }

  /**
   * Metrics the tool derives itself, where a map's entries are not the
   * values (cachestat's hits and misses): `register` puts prom-client
   * metrics (of the module it is given, loaded only under --prometheus)
   * whose collect() reads the maps on the registry served, next to those of
   * exportMetrics(). Names get no prefix here: give them `tsbpf_`.
   */
  exportCollectors(register: Collectors): void {
    this.collectors.push(register);
  }

  private readonly metricSources: Array<{ b: BPF; specs: MetricSpec[] }> = [];
  private readonly collectors: Collectors[] = [];
  private metricsServer: MetricsServer | undefined;

  /**
   * --prometheus: serves the exported maps until the run ends, never
   * clearing them (Prometheus wants cumulative counts); the tool prints
   * nothing of its own meanwhile.
   */
  private async serveUntilEnd(listenText: string): Promise<void> {
    if (this.metricSources.length === 0 && this.collectors.length === 0)
      throw new UsageError(`--prometheus: ${this.tool.name} has no aggregates to serve with these options`);
    // (node:http is loaded only here: a tool that serves nothing spares its 1.3 MB)
    const { parseListenAddress, serveMetrics } = await import("../../src/export/serve.js");
    let listen: { host?: string; port: number };
    try {
      listen = parseListenAddress(listenText, "--prometheus");
    } catch {
      throw new UsageError(`--prometheus: '${listenText}' is not [HOST:]PORT (e.g. 9100 or 127.0.0.1:9100)`);
    }
    const prom = await import("prom-client");
    const registry = new prom.Registry();
    for (const { b, specs } of this.metricSources) b.metrics(registry, specs, { namespace: "tsbpf" });
    for (const register of this.collectors) register(prom, registry);
    this.metricsServer = await serveMetrics(registry, listen, `tsbpf ${this.tool.name}`);
    this.note(`serving metrics at ${this.metricsServer.url}`);
    await this.untilEnd();
  }

  /** Closes every object the tool opened (links, maps, buffers) and the metrics server. */
  close(): void {
    this.metricsServer?.close();
    this.metricsServer = undefined;
    clearInterval(this.lostTimer);
    this.lostTimer = undefined;
    try {
      this.reportLost();
    } catch {
      // an object already closed: nothing more to say
    }
    for (const b of this.objects.splice(0)) b.close();
  }
}

/** I/O of a tool run (tests pass functions; the CLI passes the process's). */
export interface ToolIO {
  out?: Sink;
  err?: (text: string) => void;
  /** Ends the run when aborted (as Ctrl-C does). */
  signal?: AbortSignal;
  /** Called once the tool has attached its hooks and is tracing. */
  onReady?: () => void;
}

/**
 * Runs a tool from its command line: returns the exit status (0 done, 1 an
 * error, 2 a usage error), having printed the error on stderr.
 */
export async function runTool(tool: Tool, argv: string[], io: ToolIO = {}): Promise<number> {
  // (with fs's writes, as Output writes stdout: process.stderr, a stream, costs a start ~5 ms to make)
  const err = io.err ?? ((t: string) => writeAll(2, Buffer.from(t), () => {}));
  let args: Args;
  try {
    args = parseToolArgs(tool, argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    err(`usage: tsbpf ${tool.name} [options] (-h for help)\n${tool.name}: error: ${e.message}\n`);
    return 2;
  }
  const out = new Output(args.json, io.out ?? 1);
  if (args.flag("help")) {
    out.text(helpText(tool));
    out.flush();
    return 0;
  }
  const ctx = new ToolContext(tool, args, out, err, io.onReady);
  // what a tool does once stopped (a report of what it gathered) runs at V8's full speed
  ctx.signal.addEventListener("abort", endQuietPause, { once: true });
  const stop = (): void => ctx.stop();
  if (io.signal?.aborted) stop();
  io.signal?.addEventListener("abort", stop, { once: true });
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  const timer = args.duration ? setTimeout(stop, args.duration * 1000) : undefined;
  // An error thrown by a callback (a record that does not decode, a write
  // that fails) ends the run and becomes the tool's error, not a crash.
  const onUncaught = (err: unknown): void => {
    ctx.failure ??= err;
    stop();
  };
  process.on("uncaughtException", onUncaught);
  try {
    // Unprivileged, tracefs is unreadable as well, so every hook would look
    // missing from the kernel: name the privilege instead.
    const unprivileged = process.getuid?.() !== 0 && bpfPrivileged() === "no";
    const perm = unprivileged ? permissionErrorFor(`tsbpf ${tool.name}`, Errno.EPERM) : undefined;
    if (perm) throw perm;
    const note = tool.hookNote?.();
    if (note) ctx.note(note);
    await tool.run(ctx);
    if (ctx.failure !== undefined) throw ctx.failure;
    return 0;
  } catch (e) {
    if (e instanceof UsageError) {
      err(`${tool.name}: error: ${e.message}\n`);
      return 2;
    }
    if (e instanceof Error) {
      err(`${tool.name}: ${e.name}: ${e.message}\n`);
      return 1;
    }
    throw e;
  } finally {
    clearTimeout(timer);
    io.signal?.removeEventListener("abort", stop);
    process.removeListener("uncaughtException", onUncaught);
    process.removeListener("SIGINT", stop);
    process.removeListener("SIGTERM", stop);
    ctx.close();
    out.flush();
  }
}
