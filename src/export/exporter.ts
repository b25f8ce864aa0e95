/**
 * The exporter behind `tsbpf exporter`: loads each config's program (a
 * prebuilt object, libbpf-style C or bcc-dialect C; ./config.ts), exports
 * its maps as metrics on one prom-client Registry (./metrics.ts), and
 * serves the registry over HTTP at /metrics. Metric names get a namespace
 * prefix, `ebpf_exporter_` by default as ebpf_exporter names them, so the
 * dashboards and alerts written for its configs keep working.
 *
 * Its own metrics (tsbpf_exporter_*): which configs are enabled, each program's id and tag,
 * its run count and run time (counted by the kernel while the exporter
 * holds BPF_ENABLE_STATS, with --bpf-stats), and the label sets each
 * metric's decoders failed on or skipped.
 */
import { Counter, Gauge, Registry } from "prom-client";
import { BPF } from "../bpf.js";
import { ConfigError } from "../kernel/errors.js";
import { native } from "../native.js";
import { type ExporterConfig, loadConfig } from "./config.js";
import { LabelDecoder } from "./decoders.js";
import type { MapMetric, MapMetrics } from "./metrics.js";
import { type MetricsServer, serveMetrics } from "./serve.js";

export interface ExporterOptions {
  /** The directory of the configs (NAME.yaml and its program). */
  dir: string;
  /** The configs to run. */
  names: string[];
  /** The metric name prefix (default "ebpf_exporter", as ebpf_exporter's; "" for none). */
  namespace?: string;
  /** Have the kernel count the programs' run time and count while the exporter runs (Linux 5.8+). */
  bpfStats?: boolean;
}

/** One running config. */
interface Running {
  config: ExporterConfig;
  bpf: BPF;
  metrics: MapMetrics;
}

/** Reads and checks every config (YAML and program files) without loading anything. */
export function checkConfigs(dir: string, names: string[]): ExporterConfig[] {
  if (names.length === 0)
    throw new ConfigError(dir, "names", "no configs named", "name them with --config.names a,b");
  return names.map((n) => loadConfig(dir, n));
}

export class Exporter {
  readonly registry = new Registry();
  private readonly running: Running[] = [];
  private statsFd = -1;
  private server: MetricsServer | undefined;

  private constructor(private readonly opts: ExporterOptions) {}

  /** Loads and attaches every config's program and registers its metrics; closes what it opened on an error. */
  static async start(opts: ExporterOptions): Promise<Exporter> {
    const configs = checkConfigs(opts.dir, opts.names);
    const e = new Exporter(opts);
    try {
      const decoder = new LabelDecoder();
      for (const config of configs) {
        await e.load(config, decoder);
        // the load parsed the kernel's BTF in the C heap: give what it freed back
        native().mallocTrim();
      }
      e.ownMetrics();
      if (opts.bpfStats) e.statsFd = native().enableStats();
    } catch (err) {
      e.close();
      throw err;
    }
    return e;
  }

  private async load(config: ExporterConfig, decoder: LabelDecoder): Promise<void> {
    const { kind, path } = config.program;
    const bpf =
      kind === "object"
        ? await BPF.open({ object: path })
        : await BPF.load({ srcFile: path, cflags: [`-I${this.opts.dir}`] });
    try {
      const ns = this.opts.namespace ?? "ebpf_exporter";
      const fields = config.metrics.map((m) => m.field);
      const metrics = bpf.metrics(
        this.registry,
        config.metrics.map(({ spec }) => spec),
        {
          origin: { file: config.file, field: "" },
          fieldOf: (i) => fields[i] as string,
          decoder,
          namespace: ns,
        },
      );
      this.running.push({ config, bpf, metrics });
    } catch (err) {
      bpf.close();
      throw err;
    }
  }

  /** The exporter's own metrics, read on scrape. */
  private ownMetrics(): void {
    const ns = "tsbpf_exporter";
    const running = this.running;
    const registers = [this.registry];
    new Gauge({
      name: `${ns}_enabled_configs`,
      help: "The configs the exporter runs",
      labelNames: ["name"],
      registers,
      collect() {
        this.reset();
        for (const r of running) this.set({ name: r.config.name }, 1);
      },
    });
    const stats = () =>
      running.flatMap((r) => r.bpf.programStats().map((s) => ({ config: r.config.name, s })));
    new Gauge({
      name: `${ns}_ebpf_program_info`,
      help: "The programs of each config: kernel id and tag",
      labelNames: ["config", "program", "tag", "id"],
      registers,
      collect() {
        this.reset();
        for (const { config, s } of stats())
          this.set({ config, program: s.name, tag: s.tag, id: String(s.id) }, 1);
      },
    });
    new Counter({
      name: `${ns}_ebpf_program_run_count_total`,
      help: "Times each program ran (counted by the kernel while kernel.bpf_stats_enabled is on: --bpf-stats)",
      labelNames: ["config", "program"],
      registers,
      collect() {
        this.reset();
        for (const { config, s } of stats()) this.inc({ config, program: s.name }, Number(s.runCount));
      },
    });
    new Counter({
      name: `${ns}_ebpf_program_run_time_seconds_total`,
      help: "Time each program ran (counted by the kernel while kernel.bpf_stats_enabled is on: --bpf-stats)",
      labelNames: ["config", "program"],
      registers,
      collect() {
        this.reset();
        for (const { config, s } of stats()) this.inc({ config, program: s.name }, Number(s.runTimeNs) / 1e9);
      },
    });
    const perMetric = (f: (m: MapMetric) => number) =>
      running.flatMap((r) =>
        r.metrics.metrics.map((m) => ({ config: r.config.name, metric: m.name, n: f(m) })),
      );
    new Counter({
      name: `${ns}_decoder_errors_total`,
      help: "Map keys whose labels could not be decoded",
      labelNames: ["config", "metric"],
      registers,
      collect() {
        this.reset();
        for (const { config, metric, n } of perMetric((m) => m.errors.failed))
          this.inc({ config, metric }, n);
      },
    });
    new Counter({
      name: `${ns}_label_sets_skipped_total`,
      help: "Map keys a decoder (regexp, static_map) chose to leave out",
      labelNames: ["config", "metric"],
      registers,
      collect() {
        this.reset();
        for (const { config, metric, n } of perMetric((m) => m.errors.skipped))
          this.inc({ config, metric }, n);
      },
    });
  }

  /** Serves /metrics (and a short index at /) on host:port (0: any free port); resolves once listening. */
  async listen(at: { host?: string; port: number }): Promise<MetricsServer> {
    this.server = await serveMetrics(this.registry, at, "tsbpf exporter");
    return this.server;
  }

  /** Stops serving, detaches every program, and lets the kernel stop counting run time. */
  close(): void {
    this.server?.close();
    this.server = undefined;
    for (const r of this.running.splice(0)) {
      r.metrics.unregister();
      r.bpf.close();
    }
    if (this.statsFd >= 0) native().closeFd(this.statsFd);
    this.statsFd = -1;
  }
}
