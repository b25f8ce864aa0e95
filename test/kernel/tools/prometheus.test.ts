/**
 * The aggregating tools with --prometheus: instead of printing, a tool
 * serves its maps at /metrics (never cleared, as Prometheus wants), and the
 * counts are the kernel's: a child's 1000 getppid() calls counted by
 * syscount -p and by funccount's uprobe, runqlat's histogram filled by the
 * machine's own scheduling; tcpretrans -c, biopattern and bitesize declare
 * their metrics. The top tools (filetop, biotop, tcptop, slabratetop) and
 * cachestat serve totals since start of I/O the test makes: a child's
 * file reads and writes, dd's direct I/O on a loop device, a loopback TCP
 * transfer, files opened, a cached file read. SIGTERM ends it cleanly;
 * tools without aggregates do not take the option.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { closeSync, fsyncSync, openSync, readFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { loadTool } from "../../../tools/index.js";
import { helpText } from "../../../tools/lib/args.js";
import { hasTracepoint } from "../../../tools/lib/runtime.js";
import {
  assertNothingLeft,
  kernelObjects,
  repoRoot,
  skipUnlessRoot,
  testTempDir,
  waitFor,
} from "../../helpers.js";
import { fileIo, getppidCaller, LONG_NAME } from "./activity.js";
import { loopDevice } from "./loopdev.js";
import { answering, connectAndSend } from "./tcp_helpers.js";

const CLI = `${repoRoot}dist/bundle/tsbpf.cjs`;

interface Serving {
  child: ChildProcess;
  url: string;
  stdout: () => string;
}

async function serve(tool: string, args: string[]): Promise<Serving> {
  const child = spawn(process.execPath, [CLI, tool, ...args, "--prometheus", "127.0.0.1:0"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout?.on("data", (b: Buffer) => {
    out += b.toString();
  });
  child.stderr?.on("data", (b: Buffer) => {
    err += b.toString();
  });
  const re = /serving metrics at (http:\S+)/;
  await waitFor(() => re.test(err) || child.exitCode !== null, 30_000);
  const m = re.exec(err);
  assert.ok(m, `${tool} did not serve: ${err}`);
  return { child, url: m[1] as string, stdout: () => out };
}

async function end(s: Serving): Promise<number | null> {
  const exited = once(s.child, "exit");
  s.child.kill("SIGTERM");
  const [code] = (await exited) as [number | null];
  return code;
}

async function scrape(url: string): Promise<Map<string, number>> {
  const text = await (await fetch(url)).text();
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const at = line.lastIndexOf(" ");
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

/** A sample's key: the metric name and its labels, in the order the tool gives them. */
function sample(name: string, labels: Record<string, string | number>): string {
  const body = Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .join(",");
  return `${name}{${body}}`;
}

/** Scrapes until every key has a value (the last events may still be on their way), then returns the samples. */
async function scrapeFor(url: string, keys: string[], timeoutMs = 5000): Promise<Map<string, number>> {
  let m = await scrape(url);
  const end = Date.now() + timeoutMs;
  while (keys.some((k) => !m.has(k)) && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 100));
    m = await scrape(url);
  }
  return m;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe("tools serving Prometheus metrics", { skip: skipUnlessRoot }, () => {
  it("syscount -p: the child's 1000 getppid() calls, cumulative across scrapes", async () => {
    const before = kernelObjects();
    const c = getppidCaller();
    const s = await serve("syscount", ["-p", String(c.pid)]);
    try {
      await c.go();
      const first = await scrape(s.url);
      assert.equal(first.get('tsbpf_syscount_syscalls_total{syscall="getppid"}'), 1000);
      // a second scrape reads the same map: nothing cleared
      const again = await scrape(s.url);
      assert.equal(again.get('tsbpf_syscount_syscalls_total{syscall="getppid"}'), 1000);
    } finally {
      c.end();
      assert.equal(await end(s), 0);
    }
    // the tool printed its banner only, no interval output
    assert.doesNotMatch(s.stdout(), /SYSCALL +COUNT/);
    await assertNothingLeft(before);
  });

  it("funccount -p c:getppid: 1000 calls of the libc function, by name", async () => {
    const before = kernelObjects();
    const c = getppidCaller();
    const s = await serve("funccount", ["-p", String(c.pid), "c:getppid"]);
    try {
      await c.go();
      const m = await scrape(s.url);
      assert.equal(m.get('tsbpf_funccount_calls_total{function="getppid"}'), 1000);
    } finally {
      c.end();
      assert.equal(await end(s), 0);
    }
    await assertNothingLeft(before);
  });

  it("runqlat: a histogram in seconds with cumulative buckets", async () => {
    const s = await serve("runqlat", []);
    try {
      // some wakeups of our own
      for (let i = 0; i < 20; i++) await new Promise((r) => setTimeout(r, 5));
      const m = await scrape(s.url);
      const count = m.get("tsbpf_runqlat_seconds_count") ?? 0;
      assert.ok(count > 0, "no run queue latency counted");
      assert.equal(m.get('tsbpf_runqlat_seconds_bucket{le="+Inf"}'), count);
      const les = [...m.keys()]
        .filter((k) => k.startsWith("tsbpf_runqlat_seconds_bucket{le=") && !k.includes("+Inf"))
        .map((k) => Number(/le="([^"]+)"/.exec(k)?.[1]));
      assert.deepEqual(les.slice(0, 4), [0, 0.000001, 0.000003, 0.000007]);
      let prev = 0;
      for (const le of les) {
        const v = m.get(`tsbpf_runqlat_seconds_bucket{le="${le}"}`) as number;
        assert.ok(v >= prev, "buckets are cumulative");
        prev = v;
      }
    } finally {
      assert.equal(await end(s), 0);
    }
  });

  it("tcpretrans -c, biopattern and bitesize serve their metrics (declared even before any event)", async () => {
    const before = kernelObjects();
    for (const [tool, args, types] of [
      ["tcpretrans", ["-c"], ["tsbpf_tcpretrans_retransmits_total counter"]],
      [
        "biopattern",
        [],
        [
          "tsbpf_biopattern_random_total counter",
          "tsbpf_biopattern_sequential_total counter",
          "tsbpf_biopattern_bytes_total counter",
        ],
      ],
      ["bitesize", [], ["tsbpf_bitesize_kbytes histogram"]],
    ] as Array<[string, string[], string[]]>) {
      const s = await serve(tool, args);
      try {
        const text = await (await fetch(s.url)).text();
        for (const t of types) assert.ok(text.includes(`# TYPE ${t}`), `${tool}: no ${t} in\n${text}`);
      } finally {
        assert.equal(await end(s), 0, tool);
      }
      // served, not printed: no table at the end
      assert.doesNotMatch(s.stdout(), /RETRANSMITS|Kbytes/);
    }
    await assertNothingLeft(before);
  });

  it("filetop: a child's reads and writes by tid, comm, file and type, never cleared", async () => {
    const before = kernelObjects();
    const dir = testTempDir("tsbpf-prom-filetop");
    const s = await serve("filetop", []);
    try {
      const pid = fileIo(dir, join(dir, "known-file"));
      const mine = { tid: pid, comm: "node", file: "known-file", type: "regular" };
      const long = { tid: pid, comm: "node", file: "a-file-name-longer-than-dname...", type: "regular" };
      assert.ok(LONG_NAME.startsWith(long.file.slice(0, 29)));
      const key = (n: string, l: Record<string, string | number>) => sample(`tsbpf_filetop_${n}_total`, l);
      const m = await scrapeFor(s.url, [key("reads", mine), key("write_bytes", long)]);
      // the child's own I/O on its files: write, write, writev of 8 KiB; 3 reads of 8 KiB and one of 0
      assert.equal(m.get(key("reads", mine)), 4);
      assert.equal(m.get(key("writes", mine)), 3);
      assert.equal(m.get(key("read_bytes", mine)), 24576);
      assert.equal(m.get(key("write_bytes", mine)), 24576);
      // a name longer than the dentry's 32 inline bytes, cut as the FILE column cuts it
      assert.equal(m.get(key("writes", long)), 1);
      assert.equal(m.get(key("write_bytes", long)), 1);
      // the same counts at the next scrape and after an interval's time: nothing cleared
      await sleep(1200);
      const again = await scrape(s.url);
      assert.equal(again.get(key("reads", mine)), 4);
      assert.equal(again.get(key("write_bytes", mine)), 24576);
    } finally {
      assert.equal(await end(s), 0);
    }
    // served, not printed: no banner, no table
    assert.doesNotMatch(s.stdout(), /READS|Tracing/);
    await assertNothingLeft(before);
  });

  it("biotop: dd's direct I/O on a loop device by pid, comm, direction and disk", async () => {
    const dev = loopDevice();
    const s = await serve("biotop", []);
    try {
      const [major, minor] = dev.majorMinor();
      const w = { comm: "dd", direction: "write", major, minor, disk: dev.name };
      const wpid = dev.write(4096, 32);
      const rpid = dev.read(8192, 4);
      const key = (n: string, pid: number, l: typeof w) => sample(`tsbpf_biotop_${n}_total`, { pid, ...l });
      const r = { ...w, direction: "read" };
      const m = await scrapeFor(s.url, [key("io", wpid, w), key("io", rpid, r)]);
      assert.equal(m.get(key("io", wpid, w)), 32);
      assert.equal(m.get(key("io_bytes", wpid, w)), 32 * 4096);
      assert.ok((m.get(key("io_seconds", wpid, w)) as number) > 0);
      assert.equal(m.get(key("io", rpid, r)), 4);
      assert.equal(m.get(key("io_bytes", rpid, r)), 4 * 8192);
      assert.ok((m.get(key("io_seconds", rpid, r)) as number) > 0);
      // the same totals a scrape and an interval's time later: nothing cleared
      await sleep(1200);
      const again = await scrape(s.url);
      assert.equal(again.get(key("io", wpid, w)), 32);
    } finally {
      assert.equal(await end(s), 0);
      dev.close();
    }
    assert.doesNotMatch(s.stdout(), /Kbytes/);
  });

  it("tcptop -p: a loopback transfer's bytes by pid, comm, addresses, ports and family", {
    skip: hasTracepoint("sock:sock_send_length")
      ? false
      : "needs the sock_send_length tracepoint (Linux 6.3+)",
  }, async () => {
    const l4 = await answering("127.0.0.1");
    const l6 = await answering("::1");
    const s = await serve("tcptop", ["-p", String(process.pid)]);
    try {
      const a = await connectAndSend("127.0.0.1", l4.port, 50000, 20000);
      const b = await connectAndSend("::1", l6.port, 50000, 20000);
      const comm = readFileSync("/proc/self/comm", "utf8").trim();
      const flow = (la: string, lp: number, ra: string, rp: number, family: string) => ({
        pid: process.pid,
        comm,
        laddr: la,
        lport: lp,
        raddr: ra,
        rport: rp,
        family,
      });
      const c4 = flow("127.0.0.1", a.lport, "127.0.0.1", l4.port, "ipv4");
      const s4 = flow("127.0.0.1", l4.port, "127.0.0.1", a.lport, "ipv4");
      const c6 = flow("::1", b.lport, "::1", l6.port, "ipv6");
      const sent = (l: object) => sample("tsbpf_tcptop_sent_bytes_total", l as Record<string, string>);
      const received = (l: object) =>
        sample("tsbpf_tcptop_received_bytes_total", l as Record<string, string>);
      const m = await scrapeFor(s.url, [
        sent(c4),
        received(c4),
        sent(s4),
        received(s4),
        sent(c6),
        received(c6),
      ]);
      // the client sent 50000 bytes and read the 20000 of the answer; the server the other way round
      assert.equal(m.get(sent(c4)), 50000);
      assert.equal(m.get(received(c4)), 20000);
      assert.equal(m.get(sent(s4)), 20000);
      assert.equal(m.get(received(s4)), 50000);
      assert.equal(m.get(sent(c6)), 50000);
      assert.equal(m.get(received(c6)), 20000);
      // a second transfer on another connection: the first one's totals stay
      await sleep(1200);
      await connectAndSend("127.0.0.1", l4.port, 50000, 20000);
      const again = await scrape(s.url);
      assert.equal(again.get(sent(c4)), 50000);
    } finally {
      assert.equal(await end(s), 0);
      await l4.close();
      await l6.close();
    }
  });

  it("slabratetop: the struct file allocations of files the test opens, cumulative", async () => {
    const s = await serve("slabratetop", []);
    const filp = 'tsbpf_slabratetop_allocations_total{cache="filp"}';
    const bytes = 'tsbpf_slabratetop_bytes_total{cache="filp"}';
    const openFiles = (n: number): void => {
      for (let i = 0; i < n; i++) closeSync(openSync("/proc/self/stat", "r"));
    };
    try {
      openFiles(5000);
      const m = await scrapeFor(s.url, [filp]);
      const n1 = m.get(filp) as number;
      assert.ok(n1 >= 5000, String(n1));
      // an object size an allocation (read a moment after the count, by another metric)
      const b1 = m.get(bytes) as number;
      assert.ok(b1 >= n1 * 8, `${b1} bytes in ${n1} allocations`);
      await sleep(1200);
      openFiles(5000);
      const again = await scrape(s.url);
      assert.ok((again.get(filp) as number) >= n1 + 5000, `${again.get(filp)} after ${n1}`);
    } finally {
      assert.equal(await end(s), 0);
    }
    assert.doesNotMatch(s.stdout(), /ALLOCS/);
  });

  it("cachestat: accesses, hits and misses of a file the test reads, totals since start", async () => {
    const PAGES = 8192; // a 32 MB file
    const file = join(testTempDir("tsbpf-prom-cachestat"), "data");
    const fd = openSync(file, "w");
    writeSync(fd, Buffer.alloc(PAGES * 4096, 7));
    fsyncSync(fd); // written back, so that its pages can be dropped
    closeSync(fd);
    readFileSync(file);
    const s = await serve("cachestat", []);
    const names = ["accesses", "hits", "misses", "pages_added", "pages_dirtied", "buffers_dirtied"] as const;
    const read = async (): Promise<Record<(typeof names)[number], number>> => {
      await sleep(200);
      const m = await scrape(s.url);
      const out = {} as Record<(typeof names)[number], number>;
      for (const n of names) {
        const v = m.get(`tsbpf_cachestat_${n}_total`);
        assert.equal(typeof v, "number", `no tsbpf_cachestat_${n}_total`);
        out[n] = v as number;
      }
      // derived as the tool prints them: every access is a hit or a miss
      assert.equal(out.hits + out.misses, out.accesses, JSON.stringify(out));
      return out;
    };
    try {
      const m0 = await read();
      readFileSync(file);
      const m1 = await read();
      // every page read is a hit unless memory pressure evicted it since it was written: then a miss
      assert.ok(m1.accesses - m0.accesses >= PAGES, JSON.stringify({ m0, m1 }));
      assert.ok(m1.hits - m0.hits >= PAGES / 2, JSON.stringify({ m0, m1 }));
      // its pages dropped (posix_fadvise DONTNEED), the next read misses
      const drop = spawnSync("dd", [`if=${file}`, "iflag=nocache", "count=0"]);
      assert.equal(drop.status, 0, String(drop.stderr));
      readFileSync(file);
      const m2 = await read();
      assert.ok(m2.misses - m1.misses >= PAGES / 2, JSON.stringify({ m1, m2 }));
      assert.ok(m2.pages_added - m1.pages_added >= PAGES / 2, JSON.stringify({ m1, m2 }));
      for (const n of names) assert.ok(m2[n] >= m1[n], `${n} only grows`);
    } finally {
      assert.equal(await end(s), 0);
    }
    assert.doesNotMatch(s.stdout(), /HITS/);
  });

  it("filetop, biotop, tcptop, slabratetop and cachestat say what they serve in their help", async () => {
    for (const name of ["filetop", "biotop", "tcptop", "slabratetop", "cachestat"]) {
      const t = await loadTool(name);
      assert.ok(t, name);
      const help = helpText(t);
      assert.match(help, /--prometheus \[HOST:\]PORT/, name);
      assert.match(help, new RegExp(`tsbpf ${name} --prometheus 9100 +# .*tsbpf_${name}_`), name);
    }
  });

  it("tcpretrans without -c has nothing to serve: a usage error", () => {
    const r = spawnSync(process.execPath, [CLI, "tcpretrans", "--prometheus", "127.0.0.1:0"], {
      encoding: "utf8",
      timeout: 30_000,
    });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /--prometheus: tcpretrans has no aggregates to serve with these options/);
  });

  it("a tool with no aggregates does not take --prometheus; a bad address is a usage error", () => {
    const r = spawnSync(process.execPath, [CLI, "execsnoop", "--prometheus", "9100"], { encoding: "utf8" });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /prometheus/);
    const bad = spawnSync(process.execPath, [CLI, "runqlat", "--prometheus", "localhost:notaport"], {
      encoding: "utf8",
    });
    assert.equal(bad.status, 2, bad.stderr);
    assert.match(bad.stderr, /--prometheus: 'localhost:notaport' is not \[HOST:\]PORT/);
  });
});
