/**
 * The metrics the tools serve under --prometheus, for the map layouts they
 * share: a log2 histogram map (`struct hist_key { u32 id; u32 slot; }` →
 * count, tools/include/tool.bpf.h) becomes one Prometheus histogram in
 * seconds (or in the tool's own unit for counts), sectioned by the id when
 * the tool prints a histogram per disk, process or IRQ.
 */
import type { HistogramSpec, MetricLabel } from "../../src/export/metrics.js";

/** The unit a tool's histogram counts in, and its factor to the metric's. */
const UNITS = {
  nsecs: { multiplier: 1e-9, max: 37 },
  usecs: { multiplier: 1e-6, max: 27 },
  msecs: { multiplier: 1e-3, max: 17 },
  count: { multiplier: 1, max: 32 },
  bytes: { multiplier: 1, max: 40 },
} as const;

export type HistUnit = keyof typeof UNITS;

/**
 * A `hists` map (hist_key → count) as a histogram. Time units become
 * seconds (bucket bounds `(2^slot - 1) * unit`, slots up to ~2 minutes);
 * the id is a label only when the tool sections by it.
 */
export function histMetric(
  name: string,
  help: string,
  unit: HistUnit,
  section?: { label: string; format?: (id: number) => string | undefined },
  table = "hists",
): HistogramSpec {
  const u = UNITS[unit];
  const labels: MetricLabel[] = section
    ? [{ name: section.label, field: "id", format: section.format && ((v) => section.format?.(Number(v))) }]
    : [];
  return {
    type: "histogram",
    name,
    help,
    table,
    labels,
    bucketType: "log2",
    bucketField: "slot",
    bucketMax: u.max,
    bucketMultiplier: u.multiplier,
  };
}
