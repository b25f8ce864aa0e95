// @init-at-first-use (scripts/bundle_rewrite.mjs)
/**
 * Stack counts as a pprof profile (profile.proto, gzipped): what `go tool
 * pprof`, Speedscope and Grafana Pyroscope read. Frames are symbol names (a
 * function and a location per distinct name, no addresses), so the file
 * holds what tsbpf resolved. Encoded by pprof-format (Datadog's maintained,
 * dependency-free encoder of the protobuf schema).
 */
import { Location, Function as PprofFunction, Profile, Sample, StringTable, ValueType } from "pprof-format";
import { lazyZlib } from "../lazy_zlib.js";

/** One stack: frames root first (as folded lines have them), with its count. */
export interface StackCount {
  frames: string[];
  value: number | bigint;
}

/** What the values are. */
export interface PprofOptions {
  /** The sample type and unit: ["samples", "count"] (default) or e.g. ["off-cpu", "microseconds"]. */
  sampleType?: [type: string, unit: string];
  /**
   * For sampled profiles, what one sample stands for: a second value per
   * stack, e.g. ["cpu", "nanoseconds", 1e9 / 49] for 49 Hz (pprof's period).
   */
  period?: [type: string, unit: string, value: number];
  /** When the profile started (ms since the epoch) and how long it ran (ms). */
  startMs?: number;
  durationMs?: number;
  /** A comment stored in the file (the command line, the tool). */
  comment?: string;
}

/** The gzipped pprof bytes of these stacks. */
export function pprofProfile(stacks: Iterable<StackCount>, opts: PprofOptions = {}): Uint8Array {
  const strings = new StringTable();
  const functions: PprofFunction[] = [];
  const locations: Location[] = [];
  const locationOf = new Map<string, number>();
  const location = (name: string): number => {
    let id = locationOf.get(name);
    if (id === undefined) {
      id = locations.length + 1;
      const fn = new PprofFunction({ id, name: strings.dedup(name), systemName: strings.dedup(name) });
      functions.push(fn);
      locations.push(new Location({ id, line: [{ functionId: id }] }));
      locationOf.set(name, id);
    }
    return id;
  };
  const [type, unit] = opts.sampleType ?? ["samples", "count"];
  const sampleType = [new ValueType({ type: strings.dedup(type), unit: strings.dedup(unit) })];
  const period = opts.period;
  if (period)
    sampleType.push(new ValueType({ type: strings.dedup(period[0]), unit: strings.dedup(period[1]) }));
  const samples: Sample[] = [];
  for (const s of stacks) {
    const n = typeof s.value === "bigint" ? s.value : BigInt(Math.round(s.value));
    if (n <= 0n) continue;
    // pprof's location list is innermost first
    const ids = s.frames.map(location).reverse();
    const value: Array<number | bigint> = [n];
    if (period) value.push(BigInt(Math.round(period[2])) * n);
    samples.push(new Sample({ locationId: ids, value }));
  }
  const profile = new Profile({
    sampleType,
    sample: samples,
    location: locations,
    function: functions,
    stringTable: strings,
    ...(period
      ? {
          periodType: new ValueType({ type: strings.dedup(period[0]), unit: strings.dedup(period[1]) }),
          period: Math.round(period[2]),
        }
      : {}),
    ...(opts.startMs !== undefined ? { timeNanos: BigInt(Math.round(opts.startMs)) * 1_000_000n } : {}),
    ...(opts.durationMs !== undefined
      ? { durationNanos: BigInt(Math.round(opts.durationMs)) * 1_000_000n }
      : {}),
    ...(opts.comment !== undefined ? { comment: [strings.dedup(opts.comment)] } : {}),
  });
  return lazyZlib().gzipSync(profile.encode());
}
