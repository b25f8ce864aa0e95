/**
 * `tsbpf exporter --otlp URL`: the exporter's registry pushed over
 * OTLP/HTTP (JSON encoding) to a collector, every --otlp.interval seconds,
 * with the OpenTelemetry JS SDK. The SDK is an optional dependency, loaded
 * only here and only when asked for (`loadOtel`); without it --otlp ends in
 * a ConfigError saying what to install.
 *
 * The data is not re-recorded into SDK instruments: a MetricProducer (the
 * SDK's interface for an outside source) reads the prom-client Registry at
 * each export, as a scrape of /metrics would, and hands the samples to the
 * SDK's PeriodicExportingMetricReader already as OTLP metric data:
 * - counters → cumulative monotonic Sums;
 * - gauges → Gauges;
 * - histograms → cumulative Histograms: prom-client's cumulative `_bucket`
 *   samples become explicit bounds (the finite `le`s, ascending) and
 *   per-bucket counts (differences of the cumulative ones, plus the count
 *   above the last bound), with `_sum` and `_count`;
 * - labels → attributes (string values); names and help as on /metrics.
 * The resource says service.name "tsbpf-exporter" and host.name (with the
 * SDK's telemetry.sdk.* attributes; OTEL_SERVICE_NAME and
 * OTEL_RESOURCE_ATTRIBUTES override them).
 *
 * Export errors are said on stderr once per kind (not at every interval)
 * until a push succeeds again; they never stop the exporter.
 */
import { hostname } from "node:os";
import type { DiagLogger } from "@opentelemetry/api";
import type {
  DataPoint,
  Histogram,
  MetricData,
  MetricProducer,
  PushMetricExporter,
  ResourceMetrics,
} from "@opentelemetry/sdk-metrics";
import { ConfigError } from "../kernel/errors.js";
import { importOptional } from "../optional_import.js";

/** The optional packages --otlp needs, with the versions package.json's optionalDependencies pin. */
export const OTEL_PACKAGES = {
  "@opentelemetry/api": "1.9.1",
  "@opentelemetry/exporter-metrics-otlp-http": "0.223.0",
  "@opentelemetry/resources": "2.12.0",
  "@opentelemetry/sdk-metrics": "2.12.0",
} as const;

/** The loaded SDK modules. */
export interface Otel {
  api: typeof import("@opentelemetry/api");
  metrics: typeof import("@opentelemetry/sdk-metrics");
  http: typeof import("@opentelemetry/exporter-metrics-otlp-http");
  resources: typeof import("@opentelemetry/resources");
}
/** How each of them is imported. */
export type OtelImports = { [K in keyof Otel]: () => Promise<Otel[K]> };

/** How each optional package is imported: only ever dynamically, and only by loadOtel. */
const OTEL_IMPORTS: OtelImports = {
  api: () => import("@opentelemetry/api"),
  // (the SDK is not bundled: see optional_import.ts)
  metrics: () => importOptional("@opentelemetry/sdk-metrics"),
  http: () => importOptional("@opentelemetry/exporter-metrics-otlp-http"),
  resources: () => importOptional("@opentelemetry/resources"),
};
const IMPORT_PACKAGE: Record<keyof OtelImports, keyof typeof OTEL_PACKAGES> = {
  api: "@opentelemetry/api",
  metrics: "@opentelemetry/sdk-metrics",
  http: "@opentelemetry/exporter-metrics-otlp-http",
  resources: "@opentelemetry/resources",
};

function isNotFound(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND";
}

/**
 * Imports the OpenTelemetry packages. When some are not installed: a
 * ConfigError naming them and the command that installs them. Other import
 * failures are thrown as they are. (`imports` is for tests.)
 */
export async function loadOtel(imports: OtelImports = OTEL_IMPORTS): Promise<Otel> {
  const keys = Object.keys(imports) as Array<keyof OtelImports>;
  const results = await Promise.allSettled(keys.map((k) => imports[k]()));
  const missing: string[] = [];
  results.forEach((r, i) => {
    if (r.status === "rejected") {
      if (!isNotFound(r.reason)) throw r.reason;
      missing.push(IMPORT_PACKAGE[keys[i] as keyof OtelImports]);
    }
  });
  if (missing.length > 0) {
    const all = Object.entries(OTEL_PACKAGES)
      .map(([p, v]) => `${p}@${v}`)
      .join(" ");
    throw new ConfigError(
      "--otlp",
      "packages",
      `OTLP push needs the optional package${missing.length > 1 ? "s" : ""} ${missing.join(", ")}, which ${missing.length > 1 ? "are" : "is"} not installed`,
      `install them next to tsbpf (npm install ${all}), or do not give --omit=optional to npm install`,
    );
  }
  const out: Partial<Otel> = {};
  keys.forEach((k, i) => {
    (out as Record<string, unknown>)[k] = (results[i] as PromiseFulfilledResult<unknown>).value;
  });
  return out as Otel;
}

/** One metric as prom-client's Registry.getMetricsAsJSON() gives it (`type` is a string at run time). */
export interface PromMetric {
  name: string;
  help: string;
  type: string;
  values: Array<{ value: number; labels: Record<string, string | number | undefined>; metricName?: string }>;
}

type HrTime = [number, number];

function hrTime(ms: number): HrTime {
  const s = Math.floor(ms / 1000);
  return [s, Math.round((ms - s * 1000) * 1e6)];
}

function attributesOf(
  labels: Record<string, string | number | undefined>,
  drop?: string,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(labels)) if (k !== drop && v !== undefined) out[k] = String(v);
  return out;
}

/** A label set's identity (sorted, so the order labels come in does not matter). */
function labelKey(attrs: Record<string, string>): string {
  return JSON.stringify(Object.entries(attrs).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** An `le` label value as a number ("+Inf" → Infinity). */
function leValue(le: string | number | undefined): number {
  if (typeof le === "number") return le;
  if (le === undefined) return Number.NaN;
  if (le === "+Inf" || le === "Inf") return Number.POSITIVE_INFINITY;
  return Number(le);
}

/**
 * One Prometheus histogram label set as an OTLP histogram value: the finite
 * bounds ascending, per-bucket counts (non-cumulative, one more than the
 * bounds: the last counts what lies above the last bound), sum and count.
 */
export function histogramFromCumulative(
  buckets: Array<{ le: number; cumulative: number }>,
  sum: number | undefined,
  count: number | undefined,
): Histogram {
  const sorted = [...buckets].filter((b) => !Number.isNaN(b.le)).sort((a, b) => a.le - b.le);
  const finite = sorted.filter((b) => Number.isFinite(b.le));
  const inf = sorted.find((b) => b.le === Number.POSITIVE_INFINITY);
  const total = count ?? inf?.cumulative ?? finite[finite.length - 1]?.cumulative ?? 0;
  const boundaries: number[] = [];
  const counts: number[] = [];
  let prev = 0;
  for (const b of finite) {
    boundaries.push(b.le);
    counts.push(Math.max(0, b.cumulative - prev));
    prev = Math.max(prev, b.cumulative);
  }
  counts.push(Math.max(0, total - prev));
  const h: Histogram = { buckets: { boundaries, counts }, count: total };
  if (sum !== undefined) h.sum = sum;
  return h;
}

/**
 * The registry's metrics as OTLP metric data. Types other than counter,
 * gauge and histogram (prom-client's summaries) are left out, and so are
 * metrics without samples.
 */
export function toMetricData(
  otel: Pick<Otel, "api" | "metrics">,
  metrics: PromMetric[],
  startTime: HrTime,
  endTime: HrTime,
): MetricData[] {
  const { DataPointType, AggregationTemporality } = otel.metrics;
  const valueType = otel.api.ValueType.DOUBLE;
  const out: MetricData[] = [];
  for (const m of metrics) {
    const descriptor = { name: m.name, description: m.help, unit: "", valueType };
    const aggregationTemporality = AggregationTemporality.CUMULATIVE;
    if (m.type === "counter" || m.type === "gauge") {
      const dataPoints: DataPoint<number>[] = m.values.map((v) => ({
        startTime,
        endTime,
        attributes: attributesOf(v.labels),
        value: v.value,
      }));
      if (m.type === "counter")
        out.push({
          descriptor,
          aggregationTemporality,
          dataPointType: DataPointType.SUM,
          isMonotonic: true,
          dataPoints,
        });
      else out.push({ descriptor, aggregationTemporality, dataPointType: DataPointType.GAUGE, dataPoints });
    } else if (m.type === "histogram") {
      const sets = new Map<
        string,
        {
          attributes: Record<string, string>;
          buckets: Array<{ le: number; cumulative: number }>;
          sum?: number;
          count?: number;
        }
      >();
      for (const v of m.values) {
        const attributes = attributesOf(v.labels, "le");
        const key = labelKey(attributes);
        let set = sets.get(key);
        if (!set) {
          set = { attributes, buckets: [] };
          sets.set(key, set);
        }
        const which = v.metricName?.slice(m.name.length) ?? "";
        if (which === "_bucket") set.buckets.push({ le: leValue(v.labels.le), cumulative: v.value });
        else if (which === "_sum") set.sum = v.value;
        else if (which === "_count") set.count = v.value;
      }
      out.push({
        descriptor,
        aggregationTemporality,
        dataPointType: DataPointType.HISTOGRAM,
        dataPoints: [...sets.values()].map((s) => ({
          startTime,
          endTime,
          attributes: s.attributes,
          value: histogramFromCumulative(s.buckets, s.sum, s.count),
        })),
      });
    }
  }
  // a metric with no samples yet (an empty map) has no series on /metrics either
  return out.filter((m) => m.dataPoints.length > 0);
}

/**
 * Checks --otlp's URL (http or https) and --otlp.interval (seconds > 0,
 * default 10, a number or its text); ConfigErrors name the flag.
 */
export function checkOtlpOptions(
  url: string,
  interval?: number | string,
): { url: string; intervalSeconds: number } {
  const intervalSeconds = interval === undefined ? 10 : Number(interval);
  if (!(intervalSeconds > 0 && Number.isFinite(intervalSeconds)))
    throw new ConfigError("--otlp.interval", String(interval), "not a positive number of seconds", "e.g. 10");
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new ConfigError("--otlp", url, "not a URL", "e.g. http://collector:4318/v1/metrics");
  }
  if (u.protocol !== "http:" && u.protocol !== "https:")
    throw new ConfigError(
      "--otlp",
      url,
      `${u.protocol} is not an OTLP/HTTP scheme`,
      "give an http:// or https:// URL, e.g. http://collector:4318/v1/metrics",
    );
  return { url, intervalSeconds };
}

export interface OtlpPushOptions {
  /** The OTLP/HTTP metrics endpoint, e.g. http://collector:4318/v1/metrics. */
  url: string;
  /** Seconds between pushes (default 10). */
  intervalSeconds?: number;
  /** Where errors are said (default: stderr). */
  warn?: (line: string) => void;
  /** The SDK, when already loaded (default: loadOtel()). */
  otel?: Otel;
}

/** Where the metrics come from: a prom-client Registry. */
export interface MetricSource {
  getMetricsAsJSON(): Promise<unknown[]>;
}

/** A running push: close() pushes once more and stops. */
export class OtlpPush {
  private closed: Promise<void> | undefined;

  private constructor(
    private readonly shutdownProvider: () => Promise<void>,
    private readonly disableDiag: () => void,
    /** The endpoint pushed to. */
    readonly url: string,
    /** Milliseconds between pushes. */
    readonly intervalMs: number,
  ) {}

  /** Starts pushing `source`'s metrics to opts.url; the first push is one interval from now. */
  static async start(source: MetricSource, opts: OtlpPushOptions): Promise<OtlpPush> {
    const { intervalSeconds } = checkOtlpOptions(opts.url, opts.intervalSeconds);
    const otel = opts.otel ?? (await loadOtel());
    const { api, metrics, http, resources } = otel;
    const warn = opts.warn ?? ((line: string) => process.stderr.write(`${line}\n`));
    const intervalMs = Math.max(1, Math.round(intervalSeconds * 1000));
    // a push may take at most the interval (the reader requires it), and 10 s
    const timeoutMs = Math.min(intervalMs, 10_000);

    // errors, once per kind until a push succeeds again
    const said = new Set<string>();
    const sayOnce = (kind: string, text: string): void => {
      if (said.has(kind)) return;
      said.add(kind);
      warn(`tsbpf exporter: OTLP push to ${opts.url}: ${text}`);
    };
    // the SDK's own error reports (timeouts, collection errors); export
    // failures it also reports are said by the exporter wrapper below
    const logger: DiagLogger = {
      error: (message: string, ...args: unknown[]) => {
        if (message.includes("metrics export failed")) return;
        const extra = args.map((a) => (a instanceof Error ? a.message : String(a))).join(" ");
        sayOnce(`diag:${message}`, extra ? `${message} ${extra}` : message);
      },
      warn: () => {},
      info: () => {},
      debug: () => {},
      verbose: () => {},
    };
    api.diag.setLogger(logger, { logLevel: api.DiagLogLevel.ERROR, suppressOverrideMessage: true });

    const inner = new http.OTLPMetricExporter({
      url: opts.url,
      timeoutMillis: timeoutMs,
      temporalityPreference: http.AggregationTemporalityPreference.CUMULATIVE,
    });
    const exporter: PushMetricExporter = {
      export(data, done) {
        inner.export(data, (result) => {
          if (result.code === 0) {
            if (said.size > 0) warn(`tsbpf exporter: OTLP push to ${opts.url} works again`);
            said.clear();
          } else {
            const e = result.error;
            const code = (e as { code?: unknown } | undefined)?.code;
            const text = e
              ? `${code !== undefined && !String(e.message).includes(String(code)) ? `${code} ` : ""}${e.message}`
              : "failed";
            sayOnce(`export:${e?.name}:${code}:${e?.message}`, `${text} (said once; pushes go on)`);
          }
          done(result);
        });
      },
      forceFlush: () => inner.forceFlush(),
      shutdown: () => inner.shutdown(),
      selectAggregationTemporality: (t) => inner.selectAggregationTemporality(t),
    };

    const resource = resources
      .defaultResource()
      .merge(resources.resourceFromAttributes({ "service.name": "tsbpf-exporter", "host.name": hostname() }))
      .merge(resources.detectResources({ detectors: [resources.envDetector] }));
    const startTime = hrTime(Date.now());
    const scope = { name: "tsbpf" };
    const producer: MetricProducer = {
      async collect() {
        let data: MetricData[] = [];
        try {
          const json = (await source.getMetricsAsJSON()) as PromMetric[];
          data = toMetricData(otel, json, startTime, hrTime(Date.now()));
        } catch (err) {
          sayOnce(
            `collect:${err instanceof Error ? err.message : String(err)}`,
            `reading the metrics failed: ${err instanceof Error ? err.message : String(err)}`,
          );
        }
        const resourceMetrics: ResourceMetrics = {
          resource,
          scopeMetrics: data.length > 0 ? [{ scope, metrics: data }] : [],
        };
        return { resourceMetrics, errors: [] };
      },
    };
    const reader = new metrics.PeriodicExportingMetricReader({
      exporter,
      exportIntervalMillis: intervalMs,
      exportTimeoutMillis: timeoutMs,
      metricProducers: [producer],
    });
    // the provider binds the reader (and gives it the resource); it has no instruments of its own
    const provider = new metrics.MeterProvider({ resource, readers: [reader] });
    return new OtlpPush(
      () => provider.shutdown(),
      () => api.diag.disable(),
      opts.url,
      intervalMs,
    );
  }

  /** Pushes once more (what the maps hold now) and stops; later calls wait for the first. */
  close(): Promise<void> {
    this.closed ??= this.shutdownProvider()
      .catch(() => {})
      .finally(() => this.disableDiag());
    return this.closed;
  }
}
