/** Activity that more than one tool test watches (each tool's own variants and the function-hook variants). */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
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

/**
 * A memory cgroup with a small limit, made under this process's own one:
 * cgroup v2 (memory.max) where the memory controller is there, else v1
 * (memory.limit_in_bytes). Undefined when neither can be made.
 */
export function smallMemoryCgroup(): { dir: string; procs: string } | undefined {
  const mounts = readFileSync("/proc/mounts", "utf8")
    .split("\n")
    .map((l) => l.split(" "));
  const own = readFileSync("/proc/self/cgroup", "utf8").split("\n");
  const name = `tsbpf-oomkill-${process.pid}`;
  const v2 = mounts.find((f) => f[2] === "cgroup2")?.[1];
  if (v2 && readFileSync(join(v2, "cgroup.controllers"), "utf8").includes("memory")) {
    const path = own.find((l) => l.startsWith("0::"))?.slice(3) ?? "/";
    const dir = join(v2, path, name);
    try {
      // the controller enabled for children where nothing has (a VM's init in the root cgroup)
      const sub = join(v2, path, "cgroup.subtree_control");
      if (!readFileSync(sub, "utf8").includes("memory")) writeFileSync(sub, "+memory");
      mkdirSync(dir);
      writeFileSync(join(dir, "memory.max"), "24M");
      writeFileSync(join(dir, "memory.swap.max"), "0");
      return { dir, procs: join(dir, "cgroup.procs") };
    } catch {
      if (existsSync(dir)) rmdirSync(dir);
    }
  }
  const v1 = mounts.find((f) => f[2] === "cgroup" && (f[3] ?? "").split(",").includes("memory"))?.[1];
  if (!v1) return undefined;
  const path = own.find((l) => /^\d+:memory:/.test(l))?.replace(/^\d+:memory:/, "") ?? "/";
  const dir = join(v1, path, name);
  try {
    mkdirSync(dir);
    writeFileSync(join(dir, "memory.limit_in_bytes"), "24M");
    return { dir, procs: join(dir, "cgroup.procs") };
  } catch {
    if (existsSync(dir)) rmdirSync(dir);
    return undefined;
  }
}

/** A shell that moves itself into the cgroup, then a python that allocates until it is killed. */
export function hog(procs: string): number {
  const r = spawnSync(
    "/bin/sh",
    [
      "-c",
      `echo $$ > ${procs} && exec /usr/bin/python3 -c 'a = []\nwhile True: a.append(bytearray(1 << 20))'`,
    ],
    { stdio: "ignore" },
  );
  assert.equal(r.signal, "SIGKILL");
  return r.pid as number;
}

/**
 * A python3 child that, once told (a line on stdin), runs `body` (Python,
 * `os` and `sys` imported), prints "done", and stays until stdin closes
 * (waiting in `tail`, by default a read of stdin): its symbols are read
 * after the tool stops, as bcc's are. `prefix` runs python3 under another
 * command (taskset -c 1).
 */
export function pythonChild(body: string, opts: { prefix?: string[]; tail?: string } = {}) {
  const prefix = opts.prefix ?? [];
  const script = `import os, select, sys\nsys.stdin.readline()\n${body}\nprint('done', flush=True)\n${opts.tail ?? "sys.stdin.read()"}`;
  const child = spawn(
    prefix[0] ?? "/usr/bin/python3",
    [...prefix.slice(1), ...(prefix.length ? ["/usr/bin/python3"] : []), "-c", script],
    {
      stdio: ["pipe", "pipe", "inherit"],
    },
  );
  const done = once(child.stdout, "data");
  return {
    pid: child.pid as number,
    go: async () => {
      child.stdin.write("go\n");
      await done;
    },
    end: () => child.stdin.end(),
  };
}

/** A python3 child that, once told, calls getppid() through libc 1000 times (see pythonChild). */
export function getppidCaller(opts: { prefix?: string[] } = {}) {
  return pythonChild("for _ in range(1000): os.getppid()", opts);
}
