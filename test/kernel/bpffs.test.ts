/**
 * Pins on a machine where nothing is mounted at /sys/fs/bpf (a fresh machine
 * without systemd): tested in a private mount namespace with /sys/fs/bpf
 * unmounted inside it, so the result does not depend on the host's mounts
 * and the host's mounts stay as they were.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { pathToFileURL } from "node:url";
import { BPF, PinError } from "../../src/index.js";
import { repoRoot, skipUnlessRoot } from "../helpers.js";

const BPF_FS_MAGIC = 0xcafe4a11;

// Run inside `unshare -m`: /sys/fs/bpf starts unmounted; tsbpf mounts it for
// the first pin, the pins work, and both programs share the pinned maps.
const childScript = (indexUrl: string) => `
import { existsSync, statfsSync } from "node:fs";
const { BPF } = await import(${JSON.stringify(indexUrl)});
const out = { before: Number(statfsSync("/sys/fs/bpf").type) };
const text = \`
BPF_TABLE_PINNED("hash", u32, u64, pinned_counts, 16, "/sys/fs/bpf/tsbpf_test/nested/pinned_counts");
struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __type(key, u32);
    __type(value, u64);
    __uint(max_entries, 1);
    __uint(pinning, LIBBPF_PIN_BY_NAME);
} tsbpf_by_name SEC(".maps");
int f(void *ctx) { return 0; }\`;
const a = await BPF.load({ text });
a.getTable("pinned_counts").set(5, 55n);
a.getTable("tsbpf_by_name").set(0, 7n);
out.after = Number(statfsSync("/sys/fs/bpf").type);
out.pins = ["/sys/fs/bpf/tsbpf_test/nested/pinned_counts", "/sys/fs/bpf/tsbpf_by_name"].map((p) => existsSync(p));
a.close();
const b = await BPF.load({ text });
out.reused = [String(b.getTable("pinned_counts").get(5)), String(b.getTable("tsbpf_by_name").get(0))];
b.close();
console.log(JSON.stringify(out));
`;

describe("pins and bpffs", { skip: skipUnlessRoot }, () => {
  const dir = mkdtempSync(join(tmpdir(), "tsbpf-bpffs-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("with nothing mounted at /sys/fs/bpf, root mounts bpffs there (saying so under NODE_DEBUG=tsbpf) and pins; the host's mounts stay as they were", () => {
    const hostBefore = readFileSync("/proc/self/mountinfo", "utf8")
      .split("\n")
      .filter((l) => l.split(" ")[4] === "/sys/fs/bpf").length;
    const script = join(dir, "pin_child.mjs");
    writeFileSync(script, childScript(pathToFileURL(join(repoRoot, "dist/src/index.js")).href));
    // Private propagation, so that nothing done inside reaches the host;
    // every bpffs stacked at /sys/fs/bpf is unmounted inside only.
    const r = spawnSync(
      "unshare",
      [
        "--mount",
        "--propagation",
        "private",
        "sh",
        "-c",
        'while mountpoint -q /sys/fs/bpf; do umount -l /sys/fs/bpf || exit 99; done; exec "$0" "$@"',
        process.execPath,
        script,
      ],
      { encoding: "utf8", env: { ...process.env, NODE_DEBUG: "tsbpf" }, timeout: 120_000 },
    );
    assert.equal(r.status, 0, `child failed: ${r.stderr}`);
    const out = JSON.parse(r.stdout.trim().split("\n").pop() as string) as {
      before: number;
      after: number;
      pins: boolean[];
      reused: string[];
    };
    assert.notEqual(out.before, BPF_FS_MAGIC, "the namespace started without bpffs at /sys/fs/bpf");
    assert.equal(out.after, BPF_FS_MAGIC, "tsbpf mounted bpffs at /sys/fs/bpf");
    assert.deepEqual(
      out.pins,
      [true, true],
      "BPF_TABLE_PINNED's path (in a new directory) and the by-name pin",
    );
    assert.deepEqual(out.reused, ["55", "7"], "the second object reused both pinned maps");
    assert.match(r.stderr, /TSBPF \d+: mounted a bpf file system at \/sys\/fs\/bpf for the pin /);
    const hostAfter = readFileSync("/proc/self/mountinfo", "utf8")
      .split("\n")
      .filter((l) => l.split(" ")[4] === "/sys/fs/bpf").length;
    assert.equal(hostAfter, hostBefore, "the host's mounts at /sys/fs/bpf did not change");
  });

  it("a pin path outside any bpf file system: PinError naming the path, its file system and the mount command", async () => {
    const pin = join(dir, "not_bpffs", "counts");
    const b = await BPF.load({
      text: `BPF_TABLE_PINNED("hash", u32, u64, counts, 16, "${pin}");\nint f(void *ctx) { return 0; }`,
    });
    try {
      assert.throws(
        () => b.getTable("counts"),
        (err: unknown) =>
          err instanceof PinError &&
          err.path === pin &&
          err.message.includes(`cannot pin map counts at ${pin}: ${dir} is on a file system of type `) &&
          err.message.includes("only a bpf file system (bpffs) can hold pins") &&
          err.fix.includes(`mount -t bpf bpf ${join(dir, "not_bpffs")}`),
      );
    } finally {
      b.close();
    }
  });

  it("a relative pin path: PinError", async () => {
    const b = await BPF.load({
      text: 'BPF_TABLE_PINNED("hash", u32, u64, counts, 16, "relative/counts");\nint f(void *ctx) { return 0; }',
    });
    try {
      assert.throws(
        () => b.getTable("counts"),
        (err: unknown) => err instanceof PinError && /pin paths must be absolute/.test(err.message),
      );
    } finally {
      b.close();
    }
  });
});
