// @init-at-first-use (scripts/bundle_rewrite.mjs)
/** User names and ids, as bcc's tools take them (`-u 1000` or `-u alice`). */
import { readFileSync } from "node:fs";
import { UsageError } from "./args.js";

function passwd(): string[][] {
  try {
    return readFileSync("/etc/passwd", "utf8")
      .split("\n")
      .map((l) => l.split(":"));
  } catch {
    return [];
  }
}

/** A uid from a number or a user name; UsageError for an unknown user. */
export function parseUid(text: string, option = "-u"): number {
  if (/^\d+$/.test(text)) return Number(text);
  const row = passwd().find((f) => f[0] === text);
  if (!row || row[2] === undefined)
    throw new UsageError(`${option}: '${text}' is not a valid UID or user entry`);
  return Number(row[2]);
}
