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

/**
 * C strings packed one after another (as tools send argv), decoded as
 * UTF-8: the first `count` that end in a NUL (bytes after the last NUL are
 * no string).
 */
export function splitCStrings(bytes: Uint8Array, count: number): string[] {
  const out: string[] = [];
  // a view of the same bytes (Buffer.from of a Uint8Array would copy them)
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let start = 0;
  while (out.length < count) {
    const end = buf.indexOf(0, start);
    if (end < 0) break;
    out.push(end === start ? "" : buf.toString("utf8", start, end));
    start = end + 1;
  }
  return out;
}

/** /proc/loadavg as the kernel writes it (with its newline), or undefined. */
export function loadavg(): string | undefined {
  try {
    return readFileSync("/proc/loadavg", "utf8");
  } catch {
    return undefined;
  }
}

/** A process's comm from /proc/PID/comm (without the newline), or undefined when it is gone. */
export function commOf(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/comm`, "utf8").trimEnd();
  } catch {
    return undefined;
  }
}

/** /proc/meminfo's values in kB by name (empty when it cannot be read). */
export function meminfo(): Record<string, number> {
  const out: Record<string, number> = {};
  try {
    for (const line of readFileSync("/proc/meminfo", "utf8").split("\n")) {
      const m = /^(\w+):\s+(\d+)/.exec(line);
      if (m) out[m[1] as string] = Number(m[2]);
    }
  } catch {}
  return out;
}
