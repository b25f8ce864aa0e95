import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readlinkSync } from "node:fs";
import { describe, it } from "node:test";
import { skipUnlessRoot, testTempDir } from "../../helpers.js";
import { traceWhile } from "./run_tool.js";

function run(argv: string[]): number {
  const r = spawnSync(argv[0] as string, argv.slice(1), { stdio: "ignore" });
  return r.pid as number;
}

/** The new mount API from Python (x86-64 system call numbers): fsopen, fsconfig, fsmount, move_mount. */
function newApi(target: string): string {
  return [
    "import ctypes, os",
    "libc = ctypes.CDLL(None, use_errno=True)",
    "fs = libc.syscall(430, b'tmpfs', 0)",
    "assert libc.syscall(431, fs, 1, b'size', b'1m', 0) == 0",
    "assert libc.syscall(431, fs, 6, None, None, 0) == 0",
    "m = libc.syscall(432, fs, 0, 0)",
    `assert libc.syscall(429, m, b'', -100, ${JSON.stringify(target)}.encode(), 4) == 0`,
  ].join("\n");
}

describe("mountsnoop", { skip: skipUnlessRoot }, () => {
  const dir = testTempDir("tsbpf-mountsnoop");
  const mntNs = Number(/\[(\d+)\]/.exec(readlinkSync("/proc/self/ns/mnt"))?.[1]);

  it("prints bcc's columns and CALL text for mount and umount", async () => {
    const r = await traceWhile("mountsnoop", ["-P"], () => ({
      mount: run(["/bin/mount", "-t", "tmpfs", "-o", "size=1m", "tsbpf-src", dir]),
      umount: run(["/bin/umount", dir]),
    }));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.lines[0] as string, /^COMM {13}PID {5}TID {5}PCOMM {12}PPID {4}MNT_NS {6}CALL$/);
    const m = r.lines.find((l) => l.includes(`mount("tsbpf-src", "${dir}"`));
    assert.match(
      m ?? r.stdout,
      new RegExp(
        `^mount +${r.result.mount} +${r.result.mount} +node +${process.pid} +${mntNs} +mount\\("tsbpf-src", "${dir}", "tmpfs", [A-Z_|0-9x]+, "size=1m"\\) = 0$`,
      ),
    );
    const u = r.lines.find((l) => l.includes(`umount("${dir}"`));
    assert.match(u ?? r.stdout, new RegExp(`^umount +${r.result.umount} .* umount\\("${dir}", 0x0\\) = 0$`));
  });

  it("the new mount API's calls, failures as bcc's -ERRNO, --json records", {
    skip: process.arch !== "x64",
  }, async () => {
    const r = await traceWhile("mountsnoop", ["--json"], () => {
      const pid = spawnSync("/usr/bin/python3", ["-c", newApi(dir)], { stdio: "ignore" }).pid;
      run(["/bin/umount", dir]);
      run(["/bin/umount", `${dir}/not-mounted`]);
      return pid;
    });
    assert.equal(r.code, 0, r.stderr);
    const mine = r.records.filter((e) => e.pid === r.result);
    assert.deepEqual(
      mine.map((e) => e.call),
      ["fsopen", "fsconfig", "fsconfig", "fsmount", "move_mount"],
    );
    assert.equal(mine[0]?.text, 'fsopen("tmpfs", 0x0) = 3');
    assert.equal(mine[1]?.text, 'fsconfig(3, FSCONFIG_SET_STRING, "size", "1m", 0) = 0');
    assert.equal(mine[2]?.text, "fsconfig(3, FSCONFIG_CMD_CREATE, NULL, NULL, 0) = 0");
    assert.equal(mine[3]?.text, "fsmount(3, 0x0, 0x0) = 4");
    assert.equal(mine[4]?.text, `move_mount(4, "", -100, "${dir}", 0x4) = 0`);
    assert.equal(mine[4]?.comm, "python3");
    assert.equal(mine[4]?.mnt_ns, mntNs);
    const bad = r.records.find((e) => e.call === "umount" && (e.text as string).includes("not-mounted"));
    assert.match((bad?.text as string) ?? JSON.stringify(r.records), /\) = -E(INVAL|NOENT)$/);
  });
});
