import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { gunzipSync } from "node:zlib";
import { Profile } from "pprof-format";
import { commandLine } from "../../../tools/lib/launch.js";
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
  const [node, ...args] = commandLine([process.execPath, script]);
  const child = spawn(node as string, args, {
    stdio: ["ignore", "pipe", "inherit"],
    cwd: dir,
  });
  await once(child.stdout as NodeJS.ReadableStream, "data");
  return child;
}

/** A script that spins for a second of CPU time in a named function, then exits (status 3 with "fail"). */
const ENDING_SCRIPT = `
function tsbpfEndingLoop(n) {
  let x = 0;
  for (let i = 0; i < n; i++) x = (x * 31 + i) % 1000003;
  return x;
}
while (process.cpuUsage().user < 1e6) tsbpfEndingLoop(1e5);
process.exitCode = process.argv[2] === "fail" ? 3 : 0;
`;

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
      rmSync(`/tmp/perf-${pid}.map`, { force: true });
    }
  });

  it("-- node script.js: starts it with V8's perf map, profiles it until it exits, names its JavaScript frames", async () => {
    const script = join(dir, "ends.js");
    writeFileSync(script, ENDING_SCRIPT);
    const perfMaps = () => new Set(readdirSync("/tmp").filter((f) => /^perf-\d+\.map$/.test(f)));
    // (--perf-basic-prof turns V8's log on, into the working directory: Node 20)
    const v8Logs = () => new Set(readdirSync(process.cwd()).filter((f) => /^isolate-.*-v8\.log$/.test(f)));
    const before = perfMaps();
    const logsBefore = v8Logs();
    const r = await traceWhile("profile", ["-U", "-f", "-F", "99", "--", "node", script], () => 0, {
      untilExit: true,
    });
    assert.equal(r.code, 0, r.stderr);
    // (the held shell exec's into node; an exiting task has no user stack left)
    for (const l of r.lines) assert.match(l, /^(node|sh)(;.*)? \d+$/);
    const hot = r.lines.filter((l) => l.includes(`;tsbpfEndingLoop ${script}:`));
    assert.ok(hot.length > 0, r.stdout.slice(0, 3000));
    assert.ok(!r.stdout.includes("JS:"), "V8's markers stripped by default");
    const count = (ls: string[]) => ls.reduce((n, l) => n + Number(l.slice(l.lastIndexOf(" ") + 1)), 0);
    // a second of CPU at 99 Hz, most of it in the loop
    assert.ok(count(hot) >= 40 && count(hot) * 2 > count(r.lines), `${count(hot)} of ${count(r.lines)}`);
    // its perf map, written because profile asked for it, is gone
    assert.deepEqual(
      [...perfMaps()].filter((f) => !before.has(f)),
      [],
    );
    assert.ok(!r.stderr.includes("ended with"), r.stderr);
    // and it left no V8 log in the directory it ran in
    assert.deepEqual(
      [...v8Logs()].filter((f) => !logsBefore.has(f)),
      [],
    );
  });

  it("--v8-markers keeps V8's tier markers; a failing command's status is said", async () => {
    const script = join(dir, "ends.js");
    writeFileSync(script, ENDING_SCRIPT);
    const r = await traceWhile(
      "profile",
      ["-U", "-f", "--v8-markers", "--", process.execPath, script, "fail"],
      () => 0,
      { untilExit: true },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /;JS:[~^+*]?tsbpfEndingLoop /);
    assert.match(r.stderr, /profile: .*node \(PID \d+\) ended with 3/);
    const bad = await traceWhile("profile", ["-p", "1", "--", "node", script], () => 0);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /-- COMMAND: not allowed with -p\/--pid/);
  });

  it("-p PID of Node.js without a perf map: says how to get JavaScript frames", async () => {
    const script = join(dir, "plain.js");
    writeFileSync(script, HOT_SCRIPT);
    const child = spawn(process.execPath, [script], { stdio: ["ignore", "pipe", "inherit"] });
    try {
      await once(child.stdout as NodeJS.ReadableStream, "data");
      const r = await traceWhile("profile", ["-p", String(child.pid), "-U", "-f", "1"], () => 0, {
        untilExit: true,
      });
      assert.equal(r.code, 0, r.stderr);
      assert.match(
        r.stderr,
        new RegExp(
          `PID ${child.pid} is Node.js without a perf map \\(/tmp/perf-${child.pid}.map\\).*--perf-basic-prof`,
        ),
      );
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
