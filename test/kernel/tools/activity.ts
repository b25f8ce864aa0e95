/** Activity that more than one tool test watches (each tool's own variants and the function-hook variants). */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";

/** The name filetop cuts: longer than the dentry's 32 inline bytes. */
export const LONG_NAME = "a-file-name-longer-than-dname-inline-len.txt";

/**
 * A child (node, its main thread: TID = PID) that writes 24 KiB to `file`
 * (write, write, writev of 8 KiB each), reads them back with pread64 (three
 * reads of 8 KiB and one at the end that returns 0), and writes one byte to
 * a file with a long name in dir. Returns its pid.
 */
export function fileIo(dir: string, file: string): number {
  const script = `
    const fs = require("node:fs");
    const fd = fs.openSync(${JSON.stringify(file)}, "w+");
    const b = Buffer.alloc(8192, 120);
    fs.writeSync(fd, b);
    fs.writeSync(fd, b);
    fs.writevSync(fd, [b.subarray(0, 4096), b.subarray(4096)]);
    let pos = 0, n;
    while ((n = fs.readSync(fd, b, 0, 8192, pos)) > 0) pos += n;
    fs.closeSync(fd);
    fs.writeFileSync(${JSON.stringify(join(dir, LONG_NAME))}, "x");
  `;
  const r = spawnSync(process.execPath, ["-e", script], { stdio: ["ignore", "ignore", "inherit"] });
  assert.equal(r.status, 0);
  return r.pid as number;
}

/** A child that opens a raw ICMP socket: a CAP_NET_RAW check. Returns its pid. */
export function rawSocket(): number {
  const r = spawnSync(
    "/usr/bin/python3",
    ["-c", "import socket; socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP).close()"],
    { stdio: "ignore" },
  );
  assert.equal(r.status, 0);
  return r.pid as number;
}
