import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  formatTraceFields,
  isLostEvents,
  type LostEvents,
  parseTraceLine,
  type TraceLine,
} from "../../src/kernel/trace_line.js";

function parseOk(line: string): TraceLine {
  const r = parseTraceLine(line);
  assert.ok(r, `did not parse: ${JSON.stringify(line)}`);
  assert.ok(!isLostEvents(r), "unexpected LostEvents");
  return r;
}

describe("parseTraceLine", () => {
  it("parses a current-kernel bpf_trace_printk line", () => {
    assert.deepEqual(
      parseOk("           <...>-12345   [001] d..31  5678.123456: bpf_trace_printk: hello world\n"),
      {
        task: "<...>",
        pid: 12345,
        cpu: 1,
        flags: "d..31",
        ts: 5678.123456,
        event: "bpf_trace_printk",
        msg: "hello world",
      },
    );
  });

  it("parses an older-kernel line with 0: as the event column", () => {
    assert.deepEqual(parseOk("            bash-1234    [000] ....  1234.567890: 0: hello"), {
      task: "bash",
      pid: 1234,
      cpu: 0,
      flags: "....",
      ts: 1234.56789,
      event: "0",
      msg: "hello",
    });
  });

  it("parses an address in the event column (kernels 4.13+ before bpf_trace_printk became an event)", () => {
    const r = parseOk("          python-4242  [003] .... 99.000001: 0x00000001: Hello, World!");
    assert.equal(r.event, "0x00000001");
    assert.equal(r.msg, "Hello, World!");
  });

  it("parses the record-tgid column", () => {
    const r = parseOk("   bash-1234    (   1230) [000] d..3.  1.000000: bpf_trace_printk: x");
    assert.equal(r.task, "bash");
    assert.equal(r.pid, 1234);
    assert.equal(r.tgid, 1230);
    assert.equal(r.cpu, 0);
    assert.equal(r.flags, "d..3.");
    assert.equal(r.ts, 1);
    assert.equal(r.msg, "x");
  });

  it("leaves tgid undefined when the kernel printed dashes", () => {
    // Captured from a 6.18 kernel with record-tgid on.
    const r = parseOk(
      "           <...>-3666    (-------) [000] ...1.   374.739600: tracing_mark_write: tgidtest",
    );
    assert.equal(r.tgid, undefined);
    assert.ok(!("tgid" in r));
    assert.equal(r.pid, 3666);
    assert.equal(r.event, "tracing_mark_write");
    const old = parseOk("  bash-1234  (-----) [002] ....  5.5: 0: y");
    assert.equal(old.tgid, undefined);
    assert.equal(old.cpu, 2);
  });

  it("handles task names with dashes, spaces, digits and parentheses", () => {
    const k = parseOk("kworker/u8:2-events_unbound-77 [002] d..2. 10.5: bpf_trace_printk: k");
    assert.equal(k.task, "kworker/u8:2-events_unbound");
    assert.equal(k.pid, 77);
    const w = parseOk("  Web Content-123     [001] .... 2.000000: bpf_trace_printk: w");
    assert.equal(w.task, "Web Content");
    assert.equal(w.pid, 123);
    const d = parseOk("     my-app-2-99 (     98) [004] ..... 3.25: bpf_trace_printk: d");
    assert.equal(d.task, "my-app-2");
    assert.equal(d.pid, 99);
    assert.equal(d.tgid, 98);
    const s = parseOk("        (sd-pam)-1500    [000] .....   12.000001: bpf_trace_printk: s");
    assert.equal(s.task, "(sd-pam)");
    assert.equal(s.pid, 1500);
    const idle = parseOk("          <idle>-0       [007] d.h2. 100.000000: bpf_trace_printk: irq");
    assert.equal(idle.task, "<idle>");
    assert.equal(idle.pid, 0);
    assert.equal(idle.cpu, 7);
    assert.equal(idle.flags, "d.h2.");
  });

  it("parses lines without the flags column (irq-info off)", () => {
    const a = parseOk("bash-1234 [000] 1234.567890: bpf_trace_printk: x");
    assert.equal(a.flags, "");
    assert.equal(a.ts, 1234.56789);
    assert.equal(a.msg, "x");
    // Captured from a 6.18 kernel with irq-info off.
    const b = parseOk("            bash-3622    [001]    372.450748: tracing_mark_write: noirq");
    assert.equal(b.flags, "");
    assert.equal(b.ts, 372.450748);
    assert.equal(b.event, "tracing_mark_write");
    assert.equal(b.msg, "noirq");
  });

  it("does not take a number-like message for the timestamp", () => {
    const r = parseOk("bash-1 [000] 5.000001: bpf_trace_printk: 7.5: not a timestamp");
    assert.equal(r.ts, 5.000001);
    assert.equal(r.flags, "");
    assert.equal(r.msg, "7.5: not a timestamp");
    const t = parseOk("bash-1 [000] .... 5.000001: 9.0: x");
    assert.equal(t.event, "9.0");
    assert.equal(t.msg, "x");
  });

  it("parses integer timestamps from counter trace clocks", () => {
    const r = parseOk("  bash-1234  [000] ....    123456789012: bpf_trace_printk: c");
    assert.equal(r.ts, 123456789012);
  });

  it("keeps message spacing and trailing text, dropping only the final newline", () => {
    assert.equal(parseOk("  a-1 [000] .... 1.0: bpf_trace_printk:   two  spaces  \n").msg, "  two  spaces  ");
    assert.equal(parseOk("  a-1 [000] .... 1.0: bpf_trace_printk: crlf\r\n").msg, "crlf");
    assert.equal(parseOk("  a-1 [000] .... 1.0: bpf_trace_printk: tab\there").msg, "tab\there");
    assert.equal(parseOk("  a-1 [000] .... 1.0: bpf_trace_printk: a: b: c").msg, "a: b: c");
    assert.equal(parseOk("  a-1 [000] .... 1.0: bpf_trace_printk: ").msg, "");
    assert.equal(parseOk("  a-1 [000] .... 1.0: bpf_trace_printk:").msg, "");
    assert.equal(parseOk("  a-1 [000] .... 1.0: bpf_trace_printk: [001] x-2 [003]").msg, "[001] x-2 [003]");
  });

  it("returns other events with their name so callers can filter", () => {
    const r = parseOk(
      "          <idle>-0       [001] d..2. 5.0: sched_switch: prev_comm=swapper/1 prev_pid=0 prev_prio=120 prev_state=R ==> next_comm=bash next_pid=42 next_prio=120",
    );
    assert.equal(r.event, "sched_switch");
    assert.equal(r.msg.slice(0, 20), "prev_comm=swapper/1 ");
    const exec = parseOk(
      "            true-3625    [001] .....   372.244959: sched_process_exec: filename=/bin/true pid=3625 old_pid=3625",
    );
    assert.equal(exec.event, "sched_process_exec");
    assert.equal(exec.msg, "filename=/bin/true pid=3625 old_pid=3625");
  });

  it("gives an empty event for lines without a name column (function tracer)", () => {
    const r = parseOk("            bash-1234    [000] .....  10.000000: do_sys_open <-__x64_sys_openat");
    assert.equal(r.event, "");
    assert.equal(r.msg, "do_sys_open <-__x64_sys_openat");
  });

  it("parses lost-event markers", () => {
    assert.deepEqual(parseTraceLine("CPU:3 [LOST 120 EVENTS]"), {
      lostEvents: 120,
      cpu: 3,
    } satisfies LostEvents);
    assert.deepEqual(parseTraceLine("   CPU:12 [LOST 1 EVENTS]\n"), { lostEvents: 1, cpu: 12 });
    assert.deepEqual(parseTraceLine("CPU:0 [LOST EVENTS]"), { lostEvents: -1, cpu: 0 });
    const r = parseTraceLine("CPU:3 [LOST 120 EVENTS]");
    assert.ok(r && isLostEvents(r));
  });

  it("returns null for headers, blank lines and garbage", () => {
    for (const line of [
      "",
      "\n",
      "   ",
      "# tracer: nop",
      "#",
      "#           TASK-PID     CPU#  |||||  TIMESTAMP  FUNCTION",
      "#              | |         |   |||||     |         |",
      "##### CPU 2 buffer started ####",
      "hello world",
      "bash-abc [000] .... 1.0: bpf_trace_printk: x",
      "bash-12 [x] .... 1.0: bpf_trace_printk: x",
      "bash-12 [000] .... notatime: bpf_trace_printk: x",
      "bash 12 [000] .... 1.0: bpf_trace_printk: x",
      "CPU:3 [LOST many EVENTS]",
    ]) {
      assert.equal(parseTraceLine(line), null, JSON.stringify(line));
    }
  });
});

describe("formatTraceFields", () => {
  const line: TraceLine = {
    task: "bash",
    pid: 1234,
    cpu: 1,
    flags: "d..3.",
    ts: 5678,
    event: "bpf_trace_printk",
    msg: "hello world",
  };
  const f = (fmt: string, l: TraceLine = line) => formatTraceFields(l, fmt);

  it("substitutes positional fields like bcc's trace_print(fmt=...)", () => {
    assert.equal(f("pid {1}, msg = {5}"), "pid 1234, msg = hello world");
    assert.equal(f("{0} {1} {2} {3} {4} {5}"), "bash 1234 1 d..3. 5678.0 hello world");
  });

  it("prints the timestamp like Python's repr(float)", () => {
    assert.equal(f("{4}"), "5678.0");
    assert.equal(f("{4}", { ...line, ts: 1234.567891 }), "1234.567891");
    assert.equal(f("{4}", { ...line, ts: 1e16 }), "1e+16");
    assert.equal(f("{4}", { ...line, ts: 0.0001 }), "0.0001");
    assert.equal(f("{4}", { ...line, ts: 0.00001 }), "1e-05");
    assert.equal(f("{4}", { ...line, ts: 0 }), "0.0");
  });

  it("applies alignment, width and precision", () => {
    assert.equal(f("{0:>16} {1:<6}|{4:.6f}"), "            bash 1234  |5678.000000");
    assert.equal(f("{0:^10}|"), "   bash   |");
    assert.equal(f("{0:.2}"), "ba");
    assert.equal(f("{1:*^9}"), "**1234***");
    assert.equal(f("{1:06}"), "001234");
    assert.equal(f("{1:=+8}"), "+   1234");
    assert.equal(f("{1:+}"), "+1234");
    assert.equal(f("{4:10.2f}|"), "   5678.00|");
    assert.equal(f("{4:08.1f}"), "005678.0");
    assert.equal(f("{5:-<15}|"), "hello world----|");
  });

  it("supports integer and float type codes", () => {
    assert.equal(f("{1:x} {1:#x} {1:o} {1:b} {1:#X}"), "4d2 0x4d2 2322 10011010010 0X4D2");
    assert.equal(f("{1:d} {2:d}"), "1234 1");
    assert.equal(f("{4:e}"), "5.678000e+03");
    assert.equal(f("{4:g}"), "5678");
    assert.equal(f("{4:.3}"), "5.68e+03");
    assert.equal(f("{4:%}"), "567800.000000%");
    assert.equal(f("{1:,} {4:,.1f}"), "1,234 5,678.0");
    assert.equal(f("{1:.1f}"), "1234.0");
  });

  it("supports automatic numbering, brace escapes and conversions", () => {
    assert.equal(f("{{}} {}-{}"), "{} bash-1234");
    assert.equal(f("{0!r}"), "'bash'");
    assert.equal(f("{1!r:>6}"), "  1234");
    assert.equal(f("{4!s}"), "5678.0");
  });

  it("supports named fields including tgid and event", () => {
    assert.equal(
      f("{task}/{pid}/{cpu}/{flags}/{event}: {msg}"),
      "bash/1234/1/d..3./bpf_trace_printk: hello world",
    );
    assert.equal(f("[{tgid}]"), "[]");
    assert.equal(f("[{tgid:>5}]", { ...line, tgid: 1230 }), "[ 1230]");
    assert.equal(f("{ts:.2f}"), "5678.00");
  });

  it("throws on bad formats", () => {
    assert.throws(
      () => f("{6}"),
      (e: unknown) => e instanceof RangeError && /index 6 out of range/.test(e.message),
    );
    assert.throws(() => f("{nope}"), /unknown field name \{nope\}/);
    assert.throws(() => f("{0"), /unmatched '\{'/);
    assert.throws(() => f("a } b"), /single '\}'/);
    assert.throws(() => f("{0:d}"), /unknown format code 'd' for a string field/);
    assert.throws(() => f("{4:d}"), /for the float field ts/);
    assert.throws(() => f("{1:s}"), /'s' for a numeric field/);
    assert.throws(() => f("{1:.2}"), /precision not allowed/);
    assert.throws(() => f("{0:=5}"), /'=' alignment not allowed/);
    assert.throws(() => f("{0:+}"), /sign not allowed/);
    assert.throws(() => f("{0:q}"), /invalid format spec/);
  });
});
