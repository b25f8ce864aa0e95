import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { kprobeSupport } from "../../../src/kernel/features.js";
import { parsePattern } from "../../../tools/stackcount.js";
import { skipUnlessRoot } from "../../helpers.js";
import { getppidCaller as caller } from "./activity.js";
import { traceWhile } from "./run_tool.js";

const sum = (lines: string[]) => lines.reduce((n, l) => n + Number(l.slice(l.lastIndexOf(" ") + 1)), 0);

describe("stackcount", () => {
  it("parses bcc's patterns", () => {
    assert.deepEqual(parsePattern("c:malloc", false), { type: "p", library: "c", regex: /^malloc$/ });
    assert.deepEqual(parsePattern("t:sched:sched_switch", false), {
      type: "t",
      library: "",
      regex: /^sched:sched_switch$/,
    });
    assert.deepEqual(parsePattern("vfs_*", false), { type: "p", library: "", regex: /^vfs_.*$/ });
    assert.deepEqual(parsePattern("p:c:str(cmp|len)", true), {
      type: "p",
      library: "c",
      regex: /str(cmp|len)/,
    });
    assert.throws(() => parsePattern("x:c:malloc", false), /Type must be 'p', 't', or 'u', but got x/);
    assert.throws(() => parsePattern("a:b:c:d", false), /Too many ':'-separated components/);
  });

  describe("kernel", { skip: skipUnlessRoot }, () => {
    it("-p PID -f c:getppid: the child's 1000 calls under its user stacks, folded", async () => {
      const c = caller();
      const r = await traceWhile("stackcount", ["-p", String(c.pid), "-f", "c:getppid"], c.go);
      c.end();
      assert.equal(r.code, 0, r.stderr);
      assert.ok(r.lines.length > 0, r.stderr);
      for (const l of r.lines) assert.match(l, /;getppid \d+$/);
      assert.equal(sum(r.lines), 1000, r.stdout);
    });

    it("-P t:syscalls:sys_enter_getppid: kernel and user frames per process, bcc's layout; --json", async () => {
      const c = caller();
      const r = await traceWhile("stackcount", ["-P", "-d", "t:syscalls:sys_enter_getppid"], c.go);
      c.end();
      assert.equal(r.code, 0, r.stderr);
      assert.equal(
        r.lines[0],
        'Tracing 1 functions for "t:syscalls:sys_enter_getppid"... Hit Ctrl-C to end.',
      );
      const blocks = r.stdout.split("\n\n").filter((b) => b.includes(`\n    python3 [${c.pid}]\n`));
      assert.ok(blocks.length > 0, r.stdout);
      assert.equal(
        blocks.reduce((n, b) => n + Number(/\n {4}(\d+)$/.exec(b)?.[1]), 0),
        1000,
      );
      const block = blocks[0] as string;
      assert.match(block, /\n {2}do_syscall_64\n/); // a kernel frame
      assert.match(block, /\n {4}--\n/); // -d between the kernel and user frames
      assert.match(block, /\n {2}getppid\n/); // libc's wrapper, a user frame
      assert.equal(r.lines.at(-1), "Detaching...");

      const c2 = caller();
      const j = await traceWhile("stackcount", ["--json", "-P", "-U", "c:getppid"], c2.go);
      c2.end();
      assert.equal(j.code, 0, j.stderr);
      const mine = j.records.filter((x) => x.pid === c2.pid);
      assert.equal(
        mine.reduce((n, x) => n + (x.count as number), 0),
        1000,
      );
      assert.equal(mine[0]?.comm, "python3");
      assert.equal((mine[0]?.user_stack as string[] | undefined)?.[0], "getppid");
    });

    it("kernel functions need kprobes: a typed error naming tracepoints", {
      skip: kprobeSupport() === "yes" && "this kernel has kprobes",
    }, async () => {
      const r = await traceWhile("stackcount", ["sched_switch"], () => 0);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /NotSupportedError: .*no kprobes.*t:sched:sched_switch/);
      const none = await traceWhile("stackcount", ["c:no_such_function_xyz"], () => 0);
      assert.equal(none.code, 1);
      assert.match(none.stderr, /AttachError: .*no_such_function_xyz.*: no function matches/);
    });
  });
});
