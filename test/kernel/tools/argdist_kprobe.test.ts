/**
 * argdist on kernel functions: `p::fn` (kprobes) and `r::fn` (kretprobes,
 * with the entry kprobe that $entry() and $latency need). This machine's
 * kernel has no kprobes (its error is tested in argdist.test.ts); these run
 * in the kernel matrix (Debian's 6.1).
 * @kernel-matrix kprobes and kretprobes attach there.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { kprobeSupport } from "../../../src/kernel/features.js";
import { syscallPrefix } from "../../../src/kernel/kernel_info.js";
import { skipUnlessRoot } from "../../helpers.js";
import { getppidCaller, pythonChild } from "./activity.js";
import { traceWhile } from "./run_tool.js";

const skip =
  skipUnlessRoot ||
  (kprobeSupport() === "yes" ? false : "this kernel has no kprobes: runs in the kernel matrix");

/** A python3 child that, once told, writes 100 bytes 3 times and 200 bytes 5 times to /dev/null. */
function writer() {
  return pythonChild(
    "fd = os.open('/dev/null', os.O_WRONLY)\nfor _ in range(3): os.write(fd, b'x' * 100)\nfor _ in range(5): os.write(fd, b'y' * 200)",
  );
}

/** The rows under a -C section's header. */
function rows(lines: string[], title: string): string[] {
  const at = lines.indexOf(title);
  assert.ok(at >= 0, `no section ${title} in:\n${lines.join("\n")}`);
  const out: string[] = [];
  for (const l of lines.slice(at + 2)) {
    if (!l.startsWith("\t")) break;
    out.push(l);
  }
  return out;
}

describe("argdist on kernel functions", { skip }, () => {
  it("p::fn counts calls; r::fn counts $retval (getppid()'s result: the parent)", async () => {
    const fn = `${syscallPrefix()}getppid`;
    const c = getppidCaller();
    const calls = `p::${fn}()`;
    const ret = `r::${fn}():int:$retval`;
    const r = await traceWhile("argdist", ["-p", String(c.pid), "-C", calls, "-C", ret], c.go);
    c.end();
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(rows(r.lines, calls), ["\t1000       total calls"]);
    assert.deepEqual(rows(r.lines, ret), [`\t1000       $retval = ${process.pid}`]);
  });

  it("a kernel function's parameters; $entry(count) and $retval on its return; $latency", async () => {
    const sig = "vfs_write(struct file *file, const char *buf, size_t count)";
    const entry = `p::${sig}:size_t:count:count >= 100`;
    const exit = `r::${sig}:size_t,long:$entry(count),$retval:$entry(count) >= 100`;
    const lat = `r::${sig}:u64:$latency:$entry(count) >= 100#write ns`;
    const w = writer();
    const r = await traceWhile("argdist", ["-p", String(w.pid), "-C", entry, "-C", exit, "-H", lat], w.go);
    w.end();
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(rows(r.lines, entry), ["\t3          count = 100", "\t5          count = 200"]);
    assert.deepEqual(rows(r.lines, exit), [
      "\t3          count = 100, $retval = 100",
      "\t5          count = 200, $retval = 200",
    ]);
    const counts = [...r.stdout.matchAll(/^ +\d+ -> \d+ +: (\d+) +\|/gm)].reduce(
      (n, m) => n + Number(m[1]),
      0,
    );
    assert.match(r.stdout, /^ +write ns +: count +distribution$/m);
    assert.equal(counts, 8);
  });
});
