/**
 * tsbpf exporter: BPF maps as Prometheus metrics, from configs in
 * cloudflare/ebpf_exporter's format (src/export/config.ts), served at
 * /metrics until SIGINT or SIGTERM. ebpf_exporter's flag names work too.
 */
import { parseArgs } from "node:util";
import type { MetricSource, OtlpPush } from "../export/otlp.js";
import { parseListenAddress } from "../export/serve.js";
import { ConfigError } from "../kernel/errors.js";

const USAGE = `usage: tsbpf exporter --config.dir DIR --config.names NAME[,NAME…] [options]

Serves BPF maps as Prometheus metrics. Each config NAME is DIR/NAME.yaml (ebpf_exporter's format:
metrics.counters and metrics.histograms, labels with size and decoders; tsbpf adds metrics.gauges
and table:) and its program: DIR/NAME.bpf.o (prebuilt), DIR/NAME.bpf.c (libbpf-style C) or
DIR/NAME.c (bcc's dialect).

options:
  --config.dir DIR, --config DIR            the configs' directory
  --config.names A,B, --names A,B           the configs to run
  --web.listen-address [HOST]:PORT, --listen [HOST]:PORT
                                            where to serve /metrics (default :9435)
  --config.check                            check the configs (YAML, decoders, program files) and exit
  --namespace NS                            metric name prefix (default ebpf_exporter; "" for none)
  --bpf-stats                               have the kernel count each program's run time and runs
  --otlp URL                                also push the metrics over OTLP/HTTP (JSON) to URL, e.g.
                                            http://collector:4318/v1/metrics (needs the optional
                                            @opentelemetry packages); /metrics is served still
  --otlp.interval SECONDS                   seconds between OTLP pushes (default 10)
  -h, --help                                this text
`;

export async function exporterMain(argv: string[]): Promise<number> {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        "config.dir": { type: "string" },
        config: { type: "string" },
        "config.names": { type: "string" },
        names: { type: "string" },
        "web.listen-address": { type: "string" },
        listen: { type: "string" },
        "config.check": { type: "boolean" },
        namespace: { type: "string" },
        "bpf-stats": { type: "boolean" },
        otlp: { type: "string" },
        "otlp.interval": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
    }));
  } catch (e) {
    process.stderr.write(`tsbpf exporter: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const dir = (values["config.dir"] ?? values.config) as string | undefined;
  const names = String(values["config.names"] ?? values.names ?? "")
    .split(",")
    .map((n) => n.trim())
    .filter(Boolean);
  if (!dir) {
    process.stderr.write(`tsbpf exporter: --config.dir is required\n${USAGE}`);
    return 2;
  }
  const otlpUrl = values.otlp as string | undefined;
  const otlpInterval = values["otlp.interval"] as string | undefined;
  const { checkConfigs, Exporter } = await import("../export/exporter.js");
  try {
    if (otlpInterval !== undefined && otlpUrl === undefined)
      throw new ConfigError("--otlp.interval", otlpInterval, "given without --otlp", "give --otlp URL too");
    // --otlp: its flags and the optional SDK are checked before anything loads
    let startPush: ((source: MetricSource) => Promise<OtlpPush>) | undefined;
    if (otlpUrl !== undefined) {
      const { checkOtlpOptions, loadOtel, OtlpPush } = await import("../export/otlp.js");
      const opts = checkOtlpOptions(otlpUrl, otlpInterval);
      const otel = await loadOtel();
      startPush = (source) => OtlpPush.start(source, { ...opts, otel });
    }
    if (values["config.check"]) {
      const configs = checkConfigs(dir, names);
      for (const c of configs)
        process.stdout.write(
          `${c.name}: ${c.metrics.length} metrics, program ${c.program.path} (${c.program.kind})\n`,
        );
      return 0;
    }
    const listen = parseListenAddress(String(values["web.listen-address"] ?? values.listen ?? ":9435"));
    const exporter = await Exporter.start({
      dir,
      names,
      namespace: values.namespace as string | undefined,
      bpfStats: values["bpf-stats"] === true,
    });
    let push: OtlpPush | undefined;
    try {
      const at = await exporter.listen(listen);
      process.stderr.write(`tsbpf exporter: serving ${names.join(", ")} at ${at.url}\n`);
      if (startPush) {
        push = await startPush(exporter.registry);
        process.stderr.write(
          `tsbpf exporter: pushing to ${push.url} every ${push.intervalMs / 1000} s (OTLP/HTTP)\n`,
        );
      }
    } catch (e) {
      exporter.close();
      throw e;
    }
    await new Promise<void>((resolve) => {
      const stop = (): void => {
        // the last push first, while the maps are still there
        void (push?.close() ?? Promise.resolve()).finally(() => {
          exporter.close();
          resolve();
        });
      };
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
    });
    return 0;
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`tsbpf exporter: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
}
