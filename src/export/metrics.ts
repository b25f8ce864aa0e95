// @init-at-first-use (scripts/bundle_rewrite.mjs)
/**
 * BPF maps as Prometheus metrics on a prom-client Registry, read when the
 * registry is scraped (no polling): a map's entries become the samples of
 * a counter or gauge, or the buckets of a histogram, its keys decoded into
 * label values by ebpf_exporter-style decoder chains (./decoders.ts).
 *
 * Two ways to say where a label comes from in the key:
 * - by BTF field (`field: "comm"`, or the whole key when it is a number):
 *   the field's offset and size come from the map's BTF, and its default
 *   decoder from its type (a char array → string, an enum → its names,
 *   an integer → uint);
 * - by bytes, as ebpf_exporter's configs do (`size`, `padding`): the labels
 *   cover the key in order.
 *
 * Histograms: the bucket is the key's last label (ebpf_exporter's layout),
 * or a key field (`bucketField`; bcc's `BPF_HISTOGRAM(dist)` keyed by slot
 * is the whole key), or the index of an array of slots in the value
 * (libbpf-tools' `struct hist { __u32 slots[N]; }`). Bucket types:
 * `log2` is bcc's `bpf_log2l()` slot (slot k holds 2^(k-1) .. 2^k - 1, so
 * `le` is 2^k - 1); `exp2`, `exp2zero`, `linear` and `fixed` are
 * ebpf_exporter's, with its `le` values. Buckets are cumulative, from
 * bucketMin to bucketMax, then `+Inf` (slots above bucketMax count there).
 * `_sum` is not known from buckets: as in ebpf_exporter, it is the value at
 * bucket bucketMax + 1 when the program keeps one there, else 0.
 */
import type { Btf, BtfComposite, BtfEnum, BtfInt } from "../btf/btf.js";
import { ConfigError } from "../kernel/errors.js";
import type { Table } from "../maps/table.js";
import { type DecoderSpec, LabelDecoder, type LabelSpec, SKIP } from "./decoders.js";

/** One label of a metric. */
export interface MetricLabel {
  /** The Prometheus label name. */
  name: string;
  /** A field of the key's struct (dots for nested ones); the whole key when omitted and the key is not a struct. */
  field?: string;
  /** ebpf_exporter layout: bytes of the key this label takes (the labels cover the key in order). */
  size?: number;
  /** ebpf_exporter layout: bytes skipped after this label. */
  padding?: number;
  /** The decoder chain (default from the field's BTF type: string, static_map of an enum, uint). */
  decoders?: DecoderSpec[];
  /**
   * After the decoders: the label value from the decoded one (a disk's name
   * from its number, …), given the key's other decoded labels too; undefined
   * leaves the key out.
   */
  format?: (decoded: string, all: readonly string[]) => string | undefined;
}

interface MetricSpecBase {
  /** The metric's name (Prometheus naming: `[a-zA-Z_:][a-zA-Z0-9_:]*`). */
  name: string;
  help: string;
  /** The map to read (default: the metric's name, as in ebpf_exporter). */
  table?: string;
  labels?: MetricLabel[];
  /** A value struct's field to export (default: the value itself; per-CPU values are summed). */
  valueField?: string;
  /** Multiplies every value (counters and gauges; histograms use bucketMultiplier). */
  multiplier?: number;
}

export interface CounterSpec extends MetricSpecBase {
  type: "counter";
}

export interface GaugeSpec extends MetricSpecBase {
  type: "gauge";
}

export type BucketType = "log2" | "exp2" | "exp2zero" | "linear" | "fixed";

export interface HistogramSpec extends MetricSpecBase {
  type: "histogram";
  /** How a bucket index becomes its upper bound (`le`). */
  bucketType: BucketType;
  /** The first bucket index exported (default 0). */
  bucketMin?: number;
  /** The last bucket index exported (default: the last slot of an array of slots, or of an array map). */
  bucketMax?: number;
  /** Multiplies the bounds (e.g. 1e-6: microseconds to seconds). */
  bucketMultiplier?: number;
  /** `fixed`: the bucket keys, in order. */
  bucketKeys?: number[];
  /** The key field holding the bucket index (default: the last label, or the whole key). */
  bucketField?: string;
}

export type MetricSpec = CounterSpec | GaugeSpec | HistogramSpec;

/** Where a spec came from, for errors: a config file, or "metrics spec" for one given in code. */
export interface SpecOrigin {
  file: string;
  /** The spec's field path in it, e.g. "metrics.counters[0]". */
  field: string;
}

/** A prom-client metric value (prom-client's MetricValue shape, which its Registry formats). */
interface PromValue {
  value: number;
  labels: Record<string, string | number>;
  metricName?: string;
  sharedLabels?: Record<string, string>;
}

/**
 * No shared labels, as one object: prom-client's formatter caches the text
 * of a value's sharedLabels by object, and makes a new empty one per value
 * when there is none (a tenth of a 10k-series scrape).
 */
const NO_SHARED_LABELS: Record<string, string> = Object.freeze({}) as Record<string, string>;

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** How a key's bytes become label values (and a histogram's bucket index). */
interface KeyLayout {
  /** Slices [offset, size] of the key, concatenated in label order for the decoder. */
  slices: Array<[number, number]>;
  labels: LabelSpec[];
  /** The bucket index's place in the key, when it is a key field. */
  bucket?: { offset: number; size: number };
  /** ebpf_exporter layout histograms: the bucket is the last decoded label. */
  bucketIsLastLabel: boolean;
}

/** How a value becomes a number, or slots. */
interface ValueLayout {
  field?: string;
  /** The value holds an array of slots (a histogram's buckets). */
  slots: number | undefined;
}

const bad = (o: SpecOrigin, field: string, problem: string, fix: string): never => {
  throw new ConfigError(o.file, `${o.field}.${field}`, problem, fix);
};

/** A member of a struct by dotted path: its byte offset and type id. */
function member(btf: Btf, typeId: number, path: string): { offset: number; type: number } | undefined {
  let offset = 0;
  let type = typeId;
  for (const part of path.split(".")) {
    const t = btf.type(btf.resolve(type));
    if (t.kind !== "STRUCT" && t.kind !== "UNION") return undefined;
    const m = (t as BtfComposite).members.find((x) => x.name === part);
    if (m?.bitfieldSize !== 0) return undefined;
    offset += m.bitOffset / 8;
    type = m.type;
  }
  return { offset, type };
}

function memberNames(btf: Btf, typeId: number): string[] {
  const t = btf.type(btf.resolve(typeId));
  return t.kind === "STRUCT" || t.kind === "UNION" ? (t as BtfComposite).members.map((m) => m.name) : [];
}

/** The decoders a field's BTF type suggests. */
function defaultDecoders(btf: Btf, typeId: number): DecoderSpec[] {
  const t = btf.type(btf.resolve(typeId));
  if (t.kind === "ARRAY") {
    const el = btf.type(btf.resolve(t.type));
    if (el.kind === "INT" && (el as BtfInt).size === 1) return [{ name: "string" }];
    return [{ name: "hex" }];
  }
  if (t.kind === "ENUM") {
    const e = t as BtfEnum;
    const map: Record<string, string> = {};
    for (const v of e.values) map[String(v.value >>> 0)] = v.name;
    return [{ name: "uint" }, { name: "static_map", static_map: map, allow_unknown: true }];
  }
  if (t.kind === "INT" || t.kind === "PTR") return [{ name: "uint" }];
  return [{ name: "hex" }];
}

function keyLayout(spec: MetricSpec, table: Table, o: SpecOrigin): KeyLayout {
  const labels = spec.labels ?? [];
  const { btf, keyTypeId } = table.btfTypes;
  const histogram = spec.type === "histogram";
  const bytesLayout = labels.some((l) => l.size !== undefined);
  labels.forEach((l, i) => {
    if (!LABEL_NAME.test(l.name ?? ""))
      bad(o, `labels[${i}].name`, `'${l.name}' is not a Prometheus label name`, "use letters, digits and _");
  });
  if (bytesLayout) {
    // ebpf_exporter's layout: sizes in order, covering the key
    const out: LabelSpec[] = [];
    let total = 0;
    labels.forEach((l, i) => {
      if (!l.size || l.size < 0)
        bad(
          o,
          `labels[${i}].size`,
          "missing or zero",
          "give every label its size in bytes (or none of them, to use BTF fields)",
        );
      if (!l.decoders?.length)
        bad(o, `labels[${i}].decoders`, "no decoders", "give the label a decoder, e.g. [{name: uint}]");
      out.push({
        name: l.name,
        size: l.size as number,
        padding: l.padding ?? 0,
        decoders: l.decoders as DecoderSpec[],
      });
      total += (l.size as number) + (l.padding ?? 0);
    });
    if (total !== table.keySize)
      bad(
        o,
        "labels",
        `the labels' sizes and paddings add up to ${total} bytes, but the keys of map ${table.name} are ${table.keySize} bytes`,
        "make size + padding of the labels cover the key exactly (padding for holes a struct has)",
      );
    if (histogram && out.length === 0)
      bad(
        o,
        "labels",
        "a histogram in this layout needs its bucket as the last label",
        "add a label for the bucket index",
      );
    LabelDecoder.validate(out, { file: o.file, field: `${o.field}.labels` });
    return { slices: [[0, table.keySize]], labels: out, bucketIsLastLabel: histogram };
  }
  // by BTF field
  const slices: Array<[number, number]> = [];
  const out: LabelSpec[] = [];
  const isStruct = btf !== undefined && keyTypeId > 0 && memberNames(btf, keyTypeId).length > 0;
  labels.forEach((l, i) => {
    if (!btf || keyTypeId === 0) {
      if (labels.length > 1 || l.field)
        bad(
          o,
          `labels[${i}]`,
          `map ${table.name} has no BTF key type to find fields in`,
          "give each label its size in bytes",
        );
      slices.push([0, table.keySize]);
      out.push({ name: l.name, size: table.keySize, decoders: l.decoders ?? [{ name: "uint" }] });
      return;
    }
    const path = l.field ?? (isStruct ? l.name : undefined);
    if (path === undefined) {
      slices.push([0, table.keySize]);
      out.push({
        name: l.name,
        size: table.keySize,
        decoders: l.decoders ?? defaultDecoders(btf, keyTypeId),
      });
      return;
    }
    const m = member(btf, keyTypeId, path);
    if (!m)
      bad(
        o,
        `labels[${i}].field`,
        `the key of map ${table.name} has no field '${path}'`,
        `its fields are ${memberNames(btf, keyTypeId).join(", ") || "(none: the key is not a struct)"}`,
      );
    const { offset, type } = m as { offset: number; type: number };
    const size = btf.sizeOf(type);
    slices.push([offset, size]);
    out.push({ name: l.name, size, decoders: l.decoders ?? defaultDecoders(btf, type) });
  });
  LabelDecoder.validate(out, { file: o.file, field: `${o.field}.labels` });
  let bucket: KeyLayout["bucket"];
  if (histogram) {
    const h = spec as HistogramSpec;
    if (h.bucketField !== undefined || !isStruct) {
      if (h.bucketField !== undefined && btf && keyTypeId) {
        const m = member(btf, keyTypeId, h.bucketField);
        if (!m)
          bad(
            o,
            "bucketField",
            `the key of map ${table.name} has no field '${h.bucketField}'`,
            `its fields are ${memberNames(btf, keyTypeId).join(", ")}`,
          );
        const mm = m as { offset: number; type: number };
        bucket = { offset: mm.offset, size: btf.sizeOf(mm.type) };
      } else if (!isStruct && labels.length === 0) bucket = { offset: 0, size: table.keySize };
    }
  }
  return { slices, labels: out, bucket, bucketIsLastLabel: false };
}

function valueLayout(spec: MetricSpec, table: Table, o: SpecOrigin): ValueLayout {
  const { btf, valueTypeId } = table.btfTypes;
  let type = valueTypeId;
  if (spec.valueField !== undefined) {
    if (!btf || !valueTypeId)
      return bad(o, "valueField", `map ${table.name} has no BTF value type`, "drop valueField");
    const m = member(btf, valueTypeId, spec.valueField);
    if (!m)
      bad(
        o,
        "valueField",
        `the value of map ${table.name} has no field '${spec.valueField}'`,
        `its fields are ${memberNames(btf, valueTypeId).join(", ")}`,
      );
    type = (m as { type: number }).type;
  }
  if (!btf || !type) return { field: spec.valueField, slots: undefined };
  const t = btf.type(btf.resolve(type));
  if (t.kind === "ARRAY") {
    if (spec.type !== "histogram")
      bad(
        o,
        "valueField",
        `the value of map ${table.name} is an array`,
        "export it as a histogram (its slots as buckets)",
      );
    return { field: spec.valueField, slots: t.nelems };
  }
  if (t.kind === "STRUCT" && spec.valueField === undefined) {
    // libbpf-tools' struct hist { __u32 slots[N]; ... }: its one array member
    const arrays = (t as BtfComposite).members.filter((m) => btf.type(btf.resolve(m.type)).kind === "ARRAY");
    if (spec.type === "histogram" && arrays.length === 1) {
      const a = arrays[0] as { name: string; type: number };
      return { field: a.name, slots: (btf.type(btf.resolve(a.type)) as { nelems: number }).nelems };
    }
    bad(
      o,
      "valueField",
      `the value of map ${table.name} is a struct (${memberNames(btf, type).join(", ")})`,
      "name the field to export with valueField",
    );
  }
  return { field: spec.valueField, slots: undefined };
}

/** A number from a decoded value: per-CPU arrays summed (element-wise for arrays of slots). */
function toNumber(v: unknown): number {
  if (typeof v === "number") return v;
  if (typeof v === "bigint") return Number(v);
  if (typeof v === "boolean") return v ? 1 : 0;
  return Number.NaN;
}

function pick(v: unknown, field: string | undefined): unknown {
  if (field === undefined) return v;
  let cur = v;
  for (const part of field.split(".")) cur = (cur as Record<string, unknown> | undefined)?.[part];
  return cur;
}

/** The value of one entry: a number, or (arrays of slots) numbers; per-CPU values summed. */
function entryValue(v: unknown, layout: ValueLayout, perCpu: boolean): number | number[] {
  const one = (x: unknown): number | number[] => {
    const p = pick(x, layout.field);
    if (layout.slots !== undefined) return Array.from(p as ArrayLike<unknown>, toNumber);
    return toNumber(p);
  };
  if (!perCpu) return one(v);
  const parts = (v as unknown[]).map(one);
  if (layout.slots !== undefined) {
    const sum = new Array<number>(layout.slots).fill(0);
    for (const p of parts as number[][]) {
      for (let i = 0; i < p.length; i++) sum[i] = (sum[i] ?? 0) + (p[i] as number);
    }
    return sum;
  }
  return (parts as number[]).reduce((a, b) => a + b, 0);
}

function readUint(bytes: Uint8Array, offset: number, size: number): number {
  const dv = new DataView(bytes.buffer, bytes.byteOffset + offset, size);
  if (size === 1) return dv.getUint8(0);
  if (size === 2) return dv.getUint16(0, true);
  if (size === 4) return dv.getUint32(0, true);
  if (size === 8) return Number(dv.getBigUint64(0, true));
  return Number.NaN;
}

/** x to 15 significant digits: a scaled bound prints as 0.000255, not 0.00025499999999999996. */
function clean(x: number): number {
  return Number.isFinite(x) ? Number(x.toPrecision(15)) : x;
}

/** The upper bound (`le`) of bucket index i. */
export function bucketBound(type: BucketType, i: number, multiplier: number, keys?: number[]): number {
  return clean(rawBound(type, i, multiplier, keys));
}

function rawBound(type: BucketType, i: number, multiplier: number, keys?: number[]): number {
  switch (type) {
    case "log2":
      return (2 ** i - 1) * multiplier;
    case "exp2":
      return 2 ** i * multiplier;
    case "exp2zero":
      return (i === 0 ? 0 : 2 ** (i - 1)) * multiplier;
    case "linear":
      return i * multiplier;
    case "fixed":
      return (keys?.[i] ?? Number.NaN) * multiplier;
  }
}

/**
 * Cumulative buckets, count and sum of one label set's counts (bucket index
 * → count; for `fixed`, the key value → count). Indices below bucketMin
 * count in the first bucket, above bucketMax in `+Inf` only. With
 * `sumAtMaxPlusOne` (ebpf_exporter's layout) index bucketMax + 1 holds the
 * sum, not a count.
 */
export function histogramValues(
  counts: Map<number, number>,
  h: Pick<HistogramSpec, "bucketType" | "bucketMultiplier" | "bucketKeys">,
  min: number,
  max: number,
  sumAtMaxPlusOne = false,
): { buckets: Array<[number, number]>; count: number; sum: number } {
  const m = h.bucketMultiplier ?? 1;
  const buckets: Array<[number, number]> = [];
  let count = 0;
  let sum = 0;
  if (h.bucketType === "fixed") {
    const keys = h.bucketKeys ?? [];
    let acc = 0;
    for (const k of keys) {
      acc += counts.get(k) ?? 0;
      buckets.push([clean(k * m), acc]);
    }
    for (const c of counts.values()) count += c;
    return { buckets, count, sum };
  }
  let acc = 0;
  for (const [i, c] of counts) {
    if (sumAtMaxPlusOne && i === max + 1) sum = clean(c * m);
    else {
      count += c;
      if (i < min) acc += c;
    }
  }
  for (let i = min; i <= max; i++) {
    acc += counts.get(i) ?? 0;
    buckets.push([bucketBound(h.bucketType, i, m, h.bucketKeys), acc]);
  }
  return { buckets, count, sum };
}

/** A decoded key: its label set (id and object) and, for histograms keyed by bucket, the bucket. */
interface Decoded {
  id: string;
  labels: Record<string, string>;
  bucket?: number;
}

/** Keys remembered decoded per metric (the memo is dropped when full). */
const MEMO_MAX = 65_536;

/**
 * One map exported as one metric. prom-client's Registry calls get() on
 * each scrape; registerMetric() accepts any object of this shape.
 */
export class MapMetric {
  readonly name: string;
  readonly help: string;
  readonly type: "counter" | "gauge" | "histogram";
  readonly aggregator = "sum" as const;
  /** Label sets a decoder chain skipped, and keys that failed to decode, since the start. */
  readonly errors = { skipped: 0, failed: 0 };
  private readonly memo = new Map<string, Decoded | "skipped" | "failed">();
  private readonly key: KeyLayout;
  private readonly value: ValueLayout;
  private readonly perCpu: boolean;
  private readonly min: number;
  private readonly max: number;

  constructor(
    private readonly spec: MetricSpec,
    private readonly table: Table,
    private readonly decoder: LabelDecoder,
    origin: SpecOrigin,
  ) {
    if (!METRIC_NAME.test(spec.name ?? ""))
      bad(origin, "name", `'${spec.name}' is not a Prometheus metric name`, "use letters, digits, _ and :");
    if (!spec.help) bad(origin, "help", "missing", "say what the metric counts");
    this.name = spec.name;
    this.help = spec.help;
    this.type = spec.type;
    this.key = keyLayout(spec, table, origin);
    this.value = valueLayout(spec, table, origin);
    this.perCpu = /PERCPU/.test(table.typeName);
    this.min = 0;
    this.max = 0;
    if (spec.type === "histogram") {
      const types: BucketType[] = ["log2", "exp2", "exp2zero", "linear", "fixed"];
      if (!types.includes(spec.bucketType))
        bad(
          origin,
          "bucketType",
          `unknown bucket type '${spec.bucketType}'`,
          `use one of ${types.join(", ")}`,
        );
      if (spec.bucketType === "fixed" && !spec.bucketKeys?.length)
        bad(origin, "bucketKeys", "a fixed histogram needs its bucket keys", "list the keys, in order");
      if (this.value.slots === undefined && !this.key.bucket && !this.key.bucketIsLastLabel)
        bad(
          origin,
          "bucketField",
          `no bucket index in the key of map ${table.name}`,
          "name the key field holding it with bucketField",
        );
      this.min = spec.bucketMin ?? 0;
      const defaultMax =
        spec.bucketType === "fixed"
          ? (spec.bucketKeys?.length ?? 1) - 1
          : (this.value.slots ?? (this.key.bucket && /ARRAY/.test(table.typeName) ? table.maxEntries : 0)) -
            1;
      this.max = spec.bucketMax ?? defaultMax;
      if (this.max < this.min)
        bad(
          origin,
          "bucketMax",
          `no buckets (bucketMin ${this.min}, bucketMax ${this.max})`,
          "give bucketMax, the last bucket index the program writes",
        );
    }
  }

  /** The labels shown (a histogram's bucket label is `le`, not its own). */
  get labelNames(): string[] {
    const names = this.key.labels.map((l) => l.name);
    return this.key.bucketIsLastLabel ? names.slice(0, -1) : names;
  }

  /** Decodes one key: its label values and the bucket index for histograms keyed by bucket, or why not. */
  private decodeKey(raw: Uint8Array): { labels: string[]; bucket?: number } | "skipped" | "failed" {
    let bytes: Uint8Array;
    if (this.key.slices.length === 1 && this.key.slices[0]?.[0] === 0 && this.key.slices[0][1] === raw.length)
      bytes = raw;
    else {
      bytes = new Uint8Array(this.key.labels.reduce((s, l) => s + l.size + (l.padding ?? 0), 0));
      let at = 0;
      for (const [off, size] of this.key.slices) {
        bytes.set(raw.subarray(off, off + size), at);
        at += size;
      }
    }
    let labels: string[] | typeof SKIP;
    try {
      labels = this.key.labels.length ? this.decoder.decodeLabels(this.name, bytes, this.key.labels) : [];
    } catch {
      return "failed";
    }
    if (labels === SKIP) {
      return "skipped";
    }
    const formats = this.spec.labels;
    if (formats?.some((l) => l.format)) {
      try {
        const out: string[] = [];
        for (let i = 0; i < labels.length; i++) {
          const f = formats[i]?.format;
          const v = f ? f(labels[i] as string, labels) : labels[i];
          if (v === undefined) {
            return "skipped";
          }
          out.push(v as string);
        }
        labels = out;
      } catch {
        return "failed";
      }
    }
    if (this.key.bucketIsLastLabel) {
      const b = Number.parseInt(labels[labels.length - 1] as string, 10);
      if (Number.isNaN(b)) {
        return "failed";
      }
      return { labels: labels.slice(0, -1), bucket: b };
    }
    if (this.key.bucket)
      return { labels, bucket: readUint(raw, this.key.bucket.offset, this.key.bucket.size) };
    return { labels };
  }

  private labelObject(values: string[]): Record<string, string> {
    const names = this.labelNames;
    const out: Record<string, string> = {};
    names.forEach((n, i) => {
      out[n] = values[i] as string;
    });
    return out;
  }

  /** The samples, read from the map now (prom-client's metric.get()). */
  async get(): Promise<{ name: string; help: string; type: string; values: PromValue[]; aggregator: "sum" }> {
    const values: PromValue[] = [];
    const mult = this.spec.multiplier ?? 1;
    if (this.spec.type !== "histogram") {
      const sums = new Map<string, { labels: Record<string, string>; value: number }>();
      for (const [raw, v] of this.table.rawKeyItems()) {
        const k = this.decoded(raw);
        if (!k) continue;
        const value = entryValue(v, this.value, this.perCpu) as number;
        const e = sums.get(k.id);
        if (e) e.value += value;
        else sums.set(k.id, { labels: k.labels, value });
      }
      for (const e of sums.values())
        values.push({
          value: mult === 1 ? e.value : clean(e.value * mult),
          labels: e.labels,
          sharedLabels: NO_SHARED_LABELS,
        });
    } else {
      const sets = new Map<string, { labels: Record<string, string>; counts: Map<number, number> }>();
      for (const [raw, v] of this.table.rawKeyItems()) {
        const k = this.decoded(raw);
        if (!k) continue;
        let e = sets.get(k.id);
        if (!e) {
          e = { labels: k.labels, counts: new Map() };
          sets.set(k.id, e);
        }
        const val = entryValue(v, this.value, this.perCpu);
        if (Array.isArray(val)) {
          for (let i = 0; i < val.length; i++) {
            const c = val[i] as number;
            if (c) e.counts.set(i, (e.counts.get(i) ?? 0) + c);
          }
        } else if (k.bucket !== undefined) e.counts.set(k.bucket, (e.counts.get(k.bucket) ?? 0) + val);
      }
      for (const e of sets.values()) {
        const h = histogramValues(e.counts, this.spec, this.min, this.max, this.key.bucketIsLastLabel);
        const labels = e.labels;
        for (const [le, c] of h.buckets)
          values.push({
            metricName: `${this.name}_bucket`,
            labels: { ...labels, le },
            value: c,
            sharedLabels: NO_SHARED_LABELS,
          });
        values.push({
          metricName: `${this.name}_bucket`,
          labels: { ...labels, le: "+Inf" },
          value: h.count,
          sharedLabels: NO_SHARED_LABELS,
        });
        values.push({ metricName: `${this.name}_sum`, labels, value: h.sum, sharedLabels: NO_SHARED_LABELS });
        values.push({
          metricName: `${this.name}_count`,
          labels,
          value: h.count,
          sharedLabels: NO_SHARED_LABELS,
        });
      }
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: "sum" };
  }

  /**
   * One key decoded, remembered by its bytes from one scrape to the next
   * (a scrape of 10k keys would otherwise decode 10k keys each time):
   * its label set's id and object, its bucket; a key a decoder skipped or
   * failed on is remembered as such and counted again at each scrape.
   */
  private decoded(raw: Uint8Array): Decoded | undefined {
    const k = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString("latin1");
    let d = this.memo.get(k);
    if (d === undefined) {
      const r = this.decodeKey(raw);
      d =
        typeof r === "string"
          ? r
          : { id: r.labels.join("\0"), labels: this.labelObject(r.labels), bucket: r.bucket };
      if (this.memo.size >= MEMO_MAX) this.memo.clear();
      this.memo.set(k, d);
    }
    if (typeof d === "string") {
      this.errors[d]++;
      return undefined;
    }
    return d;
  }

  /** prom-client's Registry.resetMetrics() calls it: the map is the state, nothing to reset here. */
  reset(): void {}
}

/** What registerMetrics returns: the metrics, and a way to take them off the registry. */
export interface MapMetrics {
  metrics: MapMetric[];
  unregister(): void;
}

/** The registry surface used (prom-client's Registry). */
export interface MetricsRegistry {
  registerMetric(metric: never): void;
  removeSingleMetric(name: string): void;
}

/** How registerMetrics reads the specs. */
export interface RegisterOptions {
  /** Where the specs came from, for errors. */
  origin?: SpecOrigin;
  /** A decoder (and its caches) shared with other metrics. */
  decoder?: LabelDecoder;
  /** The field path of spec i in its file (default `[i]`). */
  fieldOf?: (i: number) => string;
  /** A prefix for every metric name (`NS_name`); the map read is still the spec's table, or its unprefixed name. */
  namespace?: string;
}

/**
 * Registers each spec's map as a metric on the registry; checks every spec
 * first (a ConfigError names the spec's field and the fix), so nothing is
 * registered when one is wrong.
 */
export function registerMetrics(
  registry: MetricsRegistry,
  specs: MetricSpec[],
  getTable: (name: string) => Table,
  opts: RegisterOptions = {},
): MapMetrics {
  const decoder = opts.decoder ?? new LabelDecoder();
  const origin = opts.origin ?? { file: "metrics spec", field: "" };
  const metrics = specs.map((spec, i) => {
    const o = { file: origin.file, field: opts.fieldOf?.(i) ?? `${origin.field}[${i}]` };
    const name = spec.table ?? spec.name;
    let table: Table;
    try {
      table = getTable(name);
    } catch (e) {
      return bad(
        o,
        spec.table ? "table" : "name",
        `no map '${name}' in the program`,
        `name the map to read with table (${(e as Error).message})`,
      );
    }
    const named = opts.namespace ? { ...spec, name: `${opts.namespace}_${spec.name}` } : spec;
    return new MapMetric(named, table, decoder, o);
  });
  const seen = new Set<string>();
  metrics.forEach((m, i) => {
    if (seen.has(m.name))
      bad(
        { file: origin.file, field: opts.fieldOf?.(i) ?? `${origin.field}[${i}]` },
        "name",
        `metric ${m.name} is defined twice`,
        "give each metric its own name",
      );
    seen.add(m.name);
  });
  for (const m of metrics) registry.registerMetric(m as never);
  return {
    metrics,
    unregister() {
      for (const m of metrics) registry.removeSingleMetric(m.name);
    },
  };
}
