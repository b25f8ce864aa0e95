import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { gunzipSync } from "node:zlib";
import { Profile } from "pprof-format";
import { skipUnlessRoot, testTempDir } from "../../helpers.js";
import { traceWhile } from "./run_tool.js";

/** A CPU-bound Node.js script whose hot function has a name to look for. */
const HOT_SCRIPT = `
function tsbpfHotLoop(n) {
  let x = 0;
  for (let i = 0; i < n; i++) x = (x * 31 + i) % 1000003;
  return x;
}
process.stdout.write("ready\\n");
for (;;) tsbpfHotLoop(1e6);
`;

/** Starts the script with V8's perf map on; resolves once it runs. */
async function hotNode(dir: string): Promise<ChildProcess> {
  const script = join(dir, "hot.js");
  writeFileSync(script, HOT_SCRIPT);
  const child = spawn(process.execPath, ["--perf-basic-prof", "--interpreted-frames-native-stack", script], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  await once(child.stdout as NodeJS.ReadableStream, "data");
  return child;
}

describe("profile", { skip: skipUnlessRoot }, () => {
  const dir = skipUnlessRoot ? "" : testTempDir("tsbpf-profile");

  it("-p PID -U -f: a Node.js process's JavaScript function by name, in folded lines, SVG and pprof", async () => {
    const child = await hotNode(dir);
    const pid = child.pid as number;
    const svg = join(dir, "cpu.svg");
    const pprof = join(dir, "cpu.pb.gz");
    try {
      assert.ok(existsSync(`/tmp/perf-${pid}.map`), "node wrote its perf map");
      const r = await traceWhile(
        "profile",
        ["-p", String(pid), "-U", "-f", "-F", "99", "--svg", svg, "--pprof", pprof, "2"],
        () => 0,
        { untilExit: true },
      );
      assert.equal(r.code, 0, r.stderr);
      assert.ok(r.lines.length > 0, r.stderr);
      for (const l of r.lines) assert.match(l, /^node;.* \d+$/);
      const hot = r.lines.filter((l) => /tsbpfHotLoop/.test(l));
      assert.ok(hot.length > 0, r.stdout.slice(0, 3000));
      // most samples are in the hot function
      const count = (ls: string[]) => ls.reduce((n, l) => n + Number(l.slice(l.lastIndexOf(" ") + 1)), 0);
      assert.ok(count(hot) * 2 > count(r.lines), `${count(hot)} of ${count(r.lines)}`);

      const text = readFileSync(svg, "utf8");
      assert.match(text, /^<\?xml[^>]*>\s*(<!DOCTYPE[^>]*>\s*)?<svg[\s>]/);
      assert.match(text, /<\/svg>\s*$/);
      assert.match(text, /tsbpfHotLoop/);

      const profile = Profile.decode(gunzipSync(readFileSync(pprof)));
      const strings = profile.stringTable.strings;
      const names = profile.function.map((f) => strings[Number(f.name)] as string);
      assert.ok(
        names.some((n) => n.includes("tsbpfHotLoop")),
        names.slice(0, 20).join(", "),
      );
      assert.deepEqual(
        profile.sampleType.map((t) => [strings[Number(t.type)], strings[Number(t.unit)]]),
        [
          ["samples", "count"],
          ["cpu", "nanoseconds"],
        ],
      );
      const total = profile.sample.reduce((n, s) => n + Number(s.value[0]), 0);
      assert.equal(total, count(r.lines));
    } finally {
      child.kill();
    }
  });

  it("bcc's multi-line stacks with the kernel's frames, and --json", async () => {
    // a child in the kernel most of the time: copying /dev/zero to /dev/null
    const busy = spawn("dd", ["if=/dev/zero", "of=/dev/null", "bs=64k"], { stdio: "ignore" });
    try {
      const pid = busy.pid as number;
      const r = await traceWhile("profile", ["-p", String(pid), "-K", "1"], () => 0, { untilExit: true });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.lines[0], `Sampling at 49 Hertz of PID ${pid} by kernel stack for 1 secs.`);
      const at = r.lines.findIndex((l) => l.startsWith(`    -                dd (${pid})`));
      assert.ok(at > 1, r.stdout);
      assert.match(r.lines[at + 1] as string, /^ {8}\d+$/);
      assert.match(r.lines[at - 1] as string, /^ {4}\S+/); // a kernel frame
      const j = await traceWhile("profile", ["-p", String(pid), "--json", "1"], () => 0, { untilExit: true });
      assert.equal(j.code, 0, j.stderr);
      const rec = j.records.find((x) => x.pid === pid);
      assert.ok(rec, j.stdout);
      assert.equal(rec.comm, "dd");
      assert.ok(Array.isArray(rec.kernel_stack) && Array.isArray(rec.user_stack));
      assert.ok(typeof rec.count === "number" && rec.count > 0);
    } finally {
      busy.kill();
    }
  });

  it("bcc's option errors", async () => {
    const both = await traceWhile("profile", ["-F", "99", "-c", "1000"], () => 0);
    assert.equal(both.code, 2);
    assert.match(both.stderr, /-c\/--count: not allowed with argument -F\/--frequency/);
    const uk = await traceWhile("profile", ["-U", "-K"], () => 0);
    assert.equal(uk.code, 2);
    const bad = await traceWhile("profile", ["-p", "12x"], () => 0);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /comma-separated positive integers/);
  });
});
