/**
 * The aggregating tools with --prometheus: instead of printing, a tool
 * serves its maps at /metrics (never cleared, as Prometheus wants), and the
 * counts are the kernel's: a child's 1000 getppid() calls counted by
 * syscount -p and by funccount's uprobe, runqlat's histogram filled by the
 * machine's own scheduling; tcpretrans -c, biopattern and bitesize declare
 * their metrics. SIGTERM ends it cleanly; tools without
 * aggregates do not take the option.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { describe, it } from "node:test";
import { assertNothingLeft, kernelObjects, repoRoot, skipUnlessRoot, waitFor } from "../../helpers.js";
import { getppidCaller } from "./activity.js";

const CLI = `${repoRoot}dist/bundle/tsbpf.mjs`;

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
