/**
 * Exporter configs in cloudflare/ebpf_exporter's format (v2): a directory
 * holding, per config NAME, `NAME.yaml` (the metrics) and its program:
 * `NAME.bpf.o` (a prebuilt CO-RE object, as ebpf_exporter takes), or
 * `NAME.bpf.c` (libbpf-style C, compiled at start with the directory on the
 * include path, so its own headers such as maps.bpf.h are found), or
 * `NAME.c` (bcc's dialect).
 *
 * The YAML: `metrics.counters[]` and `metrics.histograms[]` (name, help,
 * labels with size/padding/decoders; histograms' bucket_type, bucket_min,
 * bucket_max, bucket_multiplier, bucket_keys), each read from the map of
 * the metric's name, plus tsbpf's `metrics.gauges[]` and a `table:` field
 * naming another map. Parts of ebpf_exporter this exporter does not run
 * (perf_event_array counters, tracing spans, cgroup_id_map, kaddrs) are
 * refused when the config loads, naming the field, never skipped.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { isMap, LineCounter, parseDocument } from "yaml";
import { ConfigError } from "../kernel/errors.js";
import { type DecoderSpec, LabelDecoder, type LabelSpec } from "./decoders.js";
import type { BucketType, MetricLabel, MetricSpec } from "./metrics.js";

/** One config: its metrics and where its program is. */
export interface ExporterConfig {
  name: string;
  /** The YAML file. */
  file: string;
  /** The program: a prebuilt object, libbpf-style C or bcc-dialect C. */
  program: { kind: "object" | "libbpf" | "bcc"; path: string };
  /** The metrics, each with its field path in the YAML (for errors found later, at registration). */
  metrics: Array<{ spec: MetricSpec; field: string }>;
}

type Obj = Record<string, unknown>;

const METRIC_KEYS: Record<string, string[]> = {
  counters: ["name", "help", "labels", "table", "perf_event_array", "flush_interval"],
  gauges: ["name", "help", "labels", "table"],
  histograms: [
    "name",
    "help",
    "labels",
    "table",
    "bucket_type",
    "bucket_min",
    "bucket_max",
    "bucket_multiplier",
    "bucket_keys",
  ],
};
const LABEL_KEYS = ["name", "size", "padding", "decoders"];
const UNSUPPORTED: Record<string, string> = {
  tracing: "tracing spans (OpenTelemetry traces from ring buffers) are not run by tsbpf's exporter",
  cgroup_id_map: "cgroup_id_map (a map of cgroup ids filled from regexps) is not run by tsbpf's exporter",
  kaddrs: "kaddrs (kernel addresses written into the program's globals) are not run by tsbpf's exporter",
};

/** Which program file a config has (first found: NAME.bpf.o, NAME.bpf.c, NAME.c). */
function programOf(dir: string, name: string, file: string): ExporterConfig["program"] {
  const candidates: Array<[ExporterConfig["program"]["kind"], string]> = [
    ["object", `${name}.bpf.o`],
    ["libbpf", `${name}.bpf.c`],
    ["bcc", `${name}.c`],
  ];
  for (const [kind, f] of candidates) {
    const path = join(dir, f);
    if (existsSync(path)) return { kind, path };
  }
  throw new ConfigError(
    file,
    "(program)",
    `no program for config ${name} in ${dir}`,
    `put its object (${name}.bpf.o), its libbpf-style C (${name}.bpf.c) or its bcc-dialect C (${name}.c) next to it`,
  );
}

/** Reads DIR/NAME.yaml and finds its program; throws ConfigError naming the file, the field and the fix. */
export function loadConfig(dir: string, name: string): ExporterConfig {
  if (!/^[\w.-]+$/.test(name))
    throw new ConfigError(
      dir,
      "names",
      `'${name}' is not a config name`,
      "name configs by their file name, without .yaml",
    );
  const file = join(dir, `${name}.yaml`);
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new ConfigError(
      file,
      "(file)",
      `cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
      `check --config.dir and --config.names: config ${name} is read from ${name}.yaml`,
    );
  }
  return parseConfig(text, file, name, programOf(dir, name, file));
}

/** Parses a config's YAML text (for --config.check and tests, with the program already found). */
export function parseConfig(
  text: string,
  file: string,
  name: string,
  program: ExporterConfig["program"],
): ExporterConfig {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true });
  if (doc.errors.length) {
    const e = doc.errors[0] as { message: string; linePos?: Array<{ line: number; col: number }> };
    const at = e.linePos?.[0];
    throw new ConfigError(
      file,
      at ? `line ${at.line}` : "(yaml)",
      `not valid YAML: ${e.message.split("\n")[0]}`,
      "fix the YAML syntax (indentation, a missing ':')",
    );
  }
  const root = doc.toJS() as unknown;
  const bad = (field: string, problem: string, fix: string): never => {
    throw new ConfigError(file, field, problem, fix);
  };
  if (!isMap(doc.contents) || typeof root !== "object" || root === null)
    bad("(top)", "the config is not a mapping", "start it with 'metrics:'");
  const top = root as Obj;
  for (const k of Object.keys(top)) {
    if (k in UNSUPPORTED)
      bad(k, UNSUPPORTED[k] as string, "remove it, or run this config with ebpf_exporter");
    if (k !== "metrics")
      bad(k, "unknown field", "the config's fields are metrics (counters, gauges, histograms)");
  }
  const metrics = top.metrics as Obj | undefined;
  if (!metrics || typeof metrics !== "object")
    bad("metrics", "no metrics", "add metrics.counters or metrics.histograms");
  const out: ExporterConfig["metrics"] = [];
  for (const [kind, list] of Object.entries(metrics as Obj)) {
    const keys = METRIC_KEYS[kind];
    if (!keys) bad(`metrics.${kind}`, "unknown kind of metric", "use counters, gauges or histograms");
    if (!Array.isArray(list)) bad(`metrics.${kind}`, "not a list", "make it a list of metrics ('- name: …')");
    (list as unknown[]).forEach((m, i) => {
      const field = `metrics.${kind}[${i}]`;
      out.push({ spec: metricSpec(file, m, kind, field, keys as string[], bad), field });
    });
  }
  if (out.length === 0) bad("metrics", "no metrics", "add metrics.counters or metrics.histograms");
  return { name, file, program, metrics: out };
}

function metricSpec(
  file: string,
  raw: unknown,
  kind: string,
  field: string,
  keys: string[],
  bad: (field: string, problem: string, fix: string) => never,
): MetricSpec {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw))
    bad(field, "not a mapping", "give the metric its name, help and labels");
  const m = raw as Obj;
  for (const k of Object.keys(m)) {
    if (!keys.includes(k))
      bad(`${field}.${k}`, "unknown field", `a ${kind.slice(0, -1)} has ${keys.join(", ")}`);
  }
  if (m.perf_event_array)
    bad(
      `${field}.perf_event_array`,
      "counters fed by a perf event array are not run by tsbpf's exporter",
      "count into a hash map the counter reads instead",
    );
  if (typeof m.name !== "string" || m.name === "")
    bad(`${field}.name`, "missing", "name the metric (and its map)");
  if (typeof m.help !== "string" || m.help === "")
    bad(`${field}.help`, "missing", "say what the metric counts");
  if (m.table !== undefined && typeof m.table !== "string")
    bad(`${field}.table`, "not a name", "name the map to read");
  const labels = labelSpecs(m.labels, `${field}.labels`, bad);
  // decoders checked now, so that --config.check finds what a start would
  LabelDecoder.validate(labels as LabelSpec[], { file, field: `${field}.labels` });
  const base = {
    name: m.name as string,
    help: m.help as string,
    table: m.table as string | undefined,
    labels,
  };
  if (kind === "counters") return { type: "counter", ...base };
  if (kind === "gauges") return { type: "gauge", ...base };
  const num = (k: string): number | undefined => {
    if (m[k] === undefined) return undefined;
    if (typeof m[k] !== "number" || !Number.isFinite(m[k]))
      bad(`${field}.${k}`, "not a number", `give ${k} a number`);
    return m[k] as number;
  };
  const types = ["exp2", "exp2zero", "linear", "fixed", "log2"];
  if (!types.includes(m.bucket_type as string))
    bad(
      `${field}.bucket_type`,
      m.bucket_type === undefined ? "missing" : `unknown bucket type '${String(m.bucket_type)}'`,
      `use one of ${types.join(", ")}`,
    );
  if (
    m.bucket_keys !== undefined &&
    (!Array.isArray(m.bucket_keys) || m.bucket_keys.some((k) => typeof k !== "number"))
  )
    bad(`${field}.bucket_keys`, "not a list of numbers", "list the bucket keys, in order");
  if (m.bucket_type !== "fixed" && m.bucket_max === undefined)
    bad(`${field}.bucket_max`, "missing", "give the last bucket index the program writes");
  // ebpf_exporter's layout: the bucket is the last label
  if (labels.length === 0)
    bad(
      `${field}.labels`,
      "a histogram needs its bucket as the last label",
      "add a label for the bucket index (decoders: [{name: uint}])",
    );
  return {
    type: "histogram",
    ...base,
    bucketType: m.bucket_type as BucketType,
    bucketMin: num("bucket_min"),
    bucketMax: num("bucket_max"),
    bucketMultiplier: num("bucket_multiplier"),
    bucketKeys: m.bucket_keys as number[] | undefined,
  };
}

function labelSpecs(
  raw: unknown,
  field: string,
  bad: (field: string, problem: string, fix: string) => never,
): MetricLabel[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) bad(field, "not a list", "make labels a list ('- name: …')");
  return (raw as unknown[]).map((l, i) => {
    const f = `${field}[${i}]`;
    if (typeof l !== "object" || l === null)
      bad(f, "not a mapping", "give the label its name, size and decoders");
    const o = l as Obj;
    for (const k of Object.keys(o))
      if (!LABEL_KEYS.includes(k)) bad(`${f}.${k}`, "unknown field", `a label has ${LABEL_KEYS.join(", ")}`);
    if (typeof o.size !== "number" || !Number.isInteger(o.size) || o.size <= 0)
      bad(
        `${f}.size`,
        o.size === undefined ? "missing" : "not a positive whole number",
        "give the bytes of the key this label takes",
      );
    if (
      o.padding !== undefined &&
      (typeof o.padding !== "number" || !Number.isInteger(o.padding) || o.padding < 0)
    )
      bad(`${f}.padding`, "not a whole number of bytes", "give the bytes skipped after this label");
    if (!Array.isArray(o.decoders))
      bad(`${f}.decoders`, "missing", "give the label its decoders, e.g. [{name: uint}]");
    return {
      name: String(o.name ?? ""),
      size: o.size as number,
      padding: o.padding as number | undefined,
      decoders: o.decoders as DecoderSpec[],
    };
  });
}
