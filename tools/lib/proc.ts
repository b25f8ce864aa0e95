/** Small readers of /proc for what a tool fills in from user space. */
import { readFileSync } from "node:fs";

/** The parent pid of a process from /proc/PID/status, 0 when it is gone. */
export function ppidOf(pid: number): number {
  try {
    const m = /^PPid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** C strings packed one after another (as tools send argv), decoded as UTF-8. */
export function splitCStrings(bytes: Uint8Array, count: number): string[] {
  const out: string[] = [];
  let start = 0;
  for (let i = 0; i < bytes.length && out.length < count; i++) {
    if (bytes[i] !== 0) continue;
    out.push(Buffer.from(bytes.subarray(start, i)).toString("utf8"));
    start = i + 1;
  }
  return out;
}
