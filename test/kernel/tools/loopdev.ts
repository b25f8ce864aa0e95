/** A file-backed loop device for the block I/O tools' tests. */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";

/** A loop device over a fresh file: its path (/dev/loopN) and name (loopN). */
export interface LoopDev {
  path: string;
  name: string;
  /** Writes `count` blocks of `bs` bytes with O_DIRECT (one request per block); returns dd's pid. */
  write(bs: number, count: number, seekBlocks?: number): number;
  /** Reads `count` blocks of `bs` bytes with O_DIRECT; returns dd's pid. */
  read(bs: number, count: number, skipBlocks?: number): number;
  /** Its major and minor numbers. */
  majorMinor(): [number, number];
  close(): void;
}

/** Sets up a loop device over a `mb`-MiB file (losetup -f). */
export function loopDevice(mb = 8): LoopDev {
  const dir = mkdtempSync(join(tmpdir(), "tsbpf-loop-"));
  const file = join(dir, "disk.img");
  execFileSync("truncate", ["-s", `${mb}M`, file]);
  const path = execFileSync("losetup", ["-f", "--show", file], { encoding: "utf8" }).trim();
  const dd = (args: string[]): number => {
    const r = spawnSync("dd", args, { stdio: "ignore" });
    if (r.status !== 0) throw new Error(`dd ${args.join(" ")}: status ${r.status}`);
    return r.pid as number;
  };
  return {
    path,
    name: basename(path),
    write: (bs, count, seek = 0) =>
      dd(["if=/dev/zero", `of=${path}`, `bs=${bs}`, `count=${count}`, `seek=${seek}`, "oflag=direct"]),
    read: (bs, count, skip = 0) =>
      dd([`if=${path}`, "of=/dev/null", `bs=${bs}`, `count=${count}`, `skip=${skip}`, "iflag=direct"]),
    majorMinor: () =>
      readFileSync(`/sys/block/${basename(path)}/dev`, "utf8")
        .trim()
        .split(":")
        .map(Number) as [number, number],
    close() {
      spawnSync("losetup", ["-d", path]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
