/**
 * The README's table of attach kinds, made from the attach-kind table
 * (kinds.ts) so the documentation cannot drift from what the code does.
 * scripts/attach-kinds-table.mjs writes it; a unit test checks README.md
 * contains exactly this text.
 */
import { AttachType, ProgType } from "../kernel/constants.js";
import { ATTACH_KINDS, type AttachKind } from "./kinds.js";

function nameOf(table: Readonly<Record<string, number>>, value: number): string {
  return Object.entries(table).find(([, v]) => v === value)?.[0] ?? String(value);
}

function sectionsOf(k: AttachKind): string {
  const names = k.sections.map((s) => `\`SEC("${s.endsWith("/") ? `${s}…` : s}")\``).join(", ");
  return k.sectionAttaches ? `${names} (attaches at load)` : names;
}

function bccFormOf(k: AttachKind): string {
  const forms: string[] = [];
  if (k.bccPrefix) forms.push(`\`${k.bccPrefix}…\``);
  if (k.bccMacro) forms.push(`\`${k.bccMacro}\``);
  return forms.join(", ") || "—";
}

/** The markdown table, one row per attach kind, in the table's order. */
export function attachKindsTable(): string {
  const rows = ATTACH_KINDS.map((k) =>
    [
      k.name,
      `BPF_PROG_TYPE_${nameOf(ProgType, k.progType)}`,
      k.attachTypes
        ? "the section's (" +
          [...new Set(Object.values(k.attachTypes))].map((t) => `BPF_${nameOf(AttachType, t)}`).join(", ") +
          ")"
        : k.expectedAttachType === 0 && !k.btfTarget
          ? "—"
          : `BPF_${nameOf(AttachType, k.expectedAttachType)}`,
      sectionsOf(k),
      bccFormOf(k),
      k.minKernel,
      `\`${k.feature}\``,
    ].join(" | "),
  );
  return [
    "| kind | program type | expected attach type | libbpf sections | bcc name prefix, macro | min. kernel | `BPF.supports` |",
    "|---|---|---|---|---|---|---|",
    ...rows.map((r) => `| ${r} |`),
    "",
  ].join("\n");
}
