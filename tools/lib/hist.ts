/**
 * Histogram output shared by the aggregating tools: bcc's log2 (and
 * linear) layout in text mode, bcc's `print_json_hist` records with --json
 * (`ts`, `val_type`, `data` rows of `interval-start`/`interval-end`/`count`,
 * and the section under its name), one line per section.
 *
 * The tools' BPF programs keep histograms in a hash keyed by
 * `struct hist_key { u32 id; u32 slot; }` (tools/include/tool.bpf.h):
 * `id` is the section (a pid, a disk, …; 0 when there is none).
 */
import type { Table } from "../../src/index.js";
import { formatLinearHist, formatLog2Hist, type HistEntry, jsonHist } from "../../src/maps/histogram.js";
import type { Output } from "./output.js";

interface HistKey {
  id: number;
  slot: number;
}

/** How to print a histogram map. */
export interface HistPrint {
  /** bcc's val_type: "usecs", "msecs", "kbytes", … */
  label: string;
  /** The section's column name ("pid", "disk", …); none: one histogram. */
  section?: string;
  /** Shows a section id (a disk name for a device number, …); default: the number. */
  sectionName?: (id: number) => unknown;
  /** Linear buckets (the slot is the value) instead of log2. */
  linear?: boolean;
  /** The key's field holding the section, for maps keyed by another struct than hist_key (default "id"). */
  sectionKey?: string;
  /** The section's field name in --json records when it differs from `section` (bcc's "Process Name" → "comm"). */
  jsonSection?: string;
}

/** Reads the histogram map's entries (and clears it when `clear`). */
export function readHist(table: Table, clear: boolean): Array<{ key: HistKey; value: number | bigint }> {
  const out: Array<{ key: HistKey; value: number | bigint }> = [];
  for (const [k, v] of table.items()) out.push({ key: k as HistKey, value: v as number | bigint });
  if (clear) table.clear();
  return out;
}

/** Prints a histogram map as bcc does (text) or as bcc's JSON records (--json). */
export function printHist(out: Output, table: Table, how: HistPrint, clear = true): void {
  const raw = readHist(table, clear);
  const sectioned = how.section !== undefined;
  const field = how.sectionKey ?? "id";
  const name = out.json && how.jsonSection ? how.jsonSection : (how.section as string);
  const entries: HistEntry[] = raw.map(({ key, value }) =>
    sectioned
      ? { key: { [name]: (key as unknown as Record<string, unknown>)[field], slot: key.slot }, value }
      : { key: key.slot, value },
  );
  const opts = sectioned
    ? {
        sectionHeader: name,
        sectioned: true,
        sectionPrintFn: (id: unknown) =>
          typeof id === "string" ? id : how.sectionName ? how.sectionName(Number(id)) : Number(id),
        bucketSort: (a: unknown, b: unknown) =>
          typeof a === "string" ? String(a).localeCompare(String(b)) : Number(a) - Number(b),
      }
    : {};
  if (out.json) {
    for (const rec of jsonHist(entries, how.label, opts))
      out.record(rec as unknown as Record<string, unknown>);
    return;
  }
  out.text(
    how.linear ? formatLinearHist(entries, how.label, opts) : formatLog2Hist(entries, how.label, opts),
  );
}
