/**
 * The symbol and ELF caches stay bounded over a long run: the LRU helper
 * they use, the per-process cache's bound and its drop of exited processes
 * (and of pids reused since), and the ELF files only an exited process's
 * /proc/PID/ paths reached. No privileges needed: the processes are this
 * test's own children.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { cachedElfFileCount, clearElfCache, elfFile, elfFunctionIndex } from "../../src/elf/elf.js";
import {
  cachedProcessCount,
  forgetProcessSymbols,
  ProcessSymbols,
  processSymbols,
  sweepProcessSymbols,
  sym,
} from "../../src/elf/procmaps.js";
import { Lru } from "../../src/lru.js";

describe("Lru", () => {
  it("keeps at most its capacity, evicting the least recently used, and says which", () => {
    const evicted: Array<[number, string]> = [];
    const lru = new Lru<number, string>(3, (k, v) => evicted.push([k, v]));
    for (let i = 0; i < 10; i++) lru.set(i, `v${i}`);
    assert.equal(lru.size, 3);
    assert.deepEqual([...lru.keys()], [7, 8, 9]);
    assert.deepEqual(
      evicted.map(([k]) => k),
      [0, 1, 2, 3, 4, 5, 6],
    );
    assert.deepEqual(evicted[0], [0, "v0"]);
  });

  it("get() makes a key the most recent; peek() does not", () => {
    const lru = new Lru<string, number>(3);
    lru.set("a", 1).set("b", 2).set("c", 3);
    assert.equal(lru.get("a"), 1);
    assert.equal(lru.peek("b"), 2);
    lru.set("d", 4); // "b" is now the oldest
    assert.deepEqual([...lru.keys()], ["c", "a", "d"]);
    // the most recent key again (no move), then another
    assert.equal(lru.get("d"), 4);
    assert.equal(lru.get("c"), 3);
    lru.set("e", 5);
    assert.deepEqual([...lru.keys()], ["d", "c", "e"]);
    assert.equal(lru.get("zz"), undefined);
  });

  it("delete() and clear() report what they remove; null values are kept as values", () => {
    const evicted: string[] = [];
    const lru = new Lru<string, number | null>(4, (k) => evicted.push(k));
    lru.set("a", null).set("b", 2).set("c", 3);
    assert.equal(lru.get("a"), null);
    assert.equal(lru.has("a"), true);
    assert.equal(lru.delete("c"), true);
    assert.equal(lru.delete("c"), false);
    // a deleted newest key is moved again when set back
    lru.set("c", 30);
    assert.equal(lru.get("b"), 2);
    assert.deepEqual([...lru.keys()], ["a", "c", "b"]);
    lru.clear();
    assert.equal(lru.size, 0);
    assert.deepEqual(evicted, ["c", "a", "c", "b"]);
    assert.throws(() => new Lru(0), RangeError);
  });
});

/** A child that stays until killed. */
/**
 * A running /bin/sleep, once the dynamic loader has mapped its libc: Node's
 * 'spawn' event comes when execve has succeeded, before ld.so has run.
 */
async function sleeper(): Promise<ChildProcess> {
  const child = spawn("/bin/sleep", ["60"], { stdio: "ignore" });
  await once(child, "spawn");
  for (let i = 0; i < 200; i++) {
    if (/ r-xp .*\/libc[.-]/.test(readFileSync(`/proc/${child.pid}/maps`, "utf8"))) break;
    await new Promise((r) => setTimeout(r, 10));
  }
  return child;
}

async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, "exit");
  child.kill("SIGKILL");
  await exited;
}

describe("per-process symbol cache", () => {
  const children: ChildProcess[] = [];
  after(async () => {
    for (const c of children) await kill(c);
    forgetProcessSymbols();
  });

  it("holds at most 1024 processes, least recently used out first", () => {
    forgetProcessSymbols();
    const first = processSymbols(4_100_000);
    for (let pid = 4_100_001; pid < 4_100_000 + 1500; pid++) processSymbols(pid);
    assert.equal(cachedProcessCount(), 1024);
    // the first is long gone: asking again makes a new entry
    assert.notEqual(processSymbols(4_100_000), first);
    forgetProcessSymbols();
    assert.equal(cachedProcessCount(), 0);
  });

  it("drops a process once it has exited and stayed unused, and keeps its symbols until then", async () => {
    forgetProcessSymbols();
    const child = await sleeper();
    children.push(child);
    const pid = child.pid as number;
    const ps = processSymbols(pid);
    const text = ps.mappings().find((m) => m.exec && m.path.includes("libc"));
    assert.ok(text, "the child maps libc");
    // an address in libc's code resolves while it runs
    const addr = text.start + 0x100n;
    const alive = sym(addr, pid, { showModule: true });
    assert.match(alive, /\[libc/);
    await kill(child);
    // exited, just used: kept, and the address still names the same function
    assert.equal(sweepProcessSymbols(), 0);
    assert.equal(sym(addr, pid, { showModule: true }), alive);
    assert.equal(processSymbols(pid), ps);
    // unused for the idle time: dropped
    assert.equal(sweepProcessSymbols(0, Date.now() + 1), 1);
    assert.equal(cachedProcessCount(), 0);
    assert.notEqual(processSymbols(pid), ps);
    forgetProcessSymbols();
  });

  it("keeps a live process however long unused", async () => {
    forgetProcessSymbols();
    const child = await sleeper();
    children.push(child);
    processSymbols(child.pid as number).mappings();
    assert.equal(sweepProcessSymbols(0, Date.now() + 60_000), 0);
    assert.equal(cachedProcessCount(), 1);
    await kill(child);
    // found alive just now: looked at again only 10 s later
    assert.equal(sweepProcessSymbols(0, Date.now() + 60_000), 0);
    assert.equal(sweepProcessSymbols(0, Date.now() + 70_000), 1);
    forgetProcessSymbols();
  });

  it("replaces an idle entry whose pid now names a process started since", () => {
    forgetProcessSymbols();
    const ps = processSymbols(process.pid);
    ps.mappings();
    assert.equal(ps.reused(), false);
    // as if this pid had belonged to another process when the mappings were read, long ago
    (ps as unknown as { started: string }).started = "1";
    assert.equal(ps.reused(), true);
    assert.equal(processSymbols(process.pid), ps, "used just now: kept");
    ps.lastUsed = 0;
    const fresh = processSymbols(process.pid);
    assert.notEqual(fresh, ps);
    assert.equal(fresh.reused(), false);
    assert.equal(cachedProcessCount(), 1);
    forgetProcessSymbols();
  });
});

describe("ELF cache", () => {
  let dir = "";
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "tsbpf-elfcache-"));
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
    clearElfCache();
  });

  it("holds at most 256 files", () => {
    clearElfCache();
    for (let i = 0; i < 300; i++) {
      const p = join(dir, `true${i}`);
      copyFileSync("/bin/true", p);
      assert.equal(elfFile(p).type, "DYN");
    }
    assert.equal(cachedElfFileCount(), 256);
    clearElfCache();
    assert.equal(cachedElfFileCount(), 0);
  });

  it("drops the files only an exited process's /proc/PID/ paths reached when its symbols go", async () => {
    clearElfCache();
    forgetProcessSymbols();
    const own = join(dir, "own");
    const shared = join(dir, "shared");
    copyFileSync("/bin/true", own);
    copyFileSync("/bin/true", shared);
    const child = await sleeper();
    const pid = child.pid as number;
    try {
      processSymbols(pid);
      elfFunctionIndex(`/proc/${pid}/root${own}`);
      elfFunctionIndex(`/proc/${pid}/root${shared}`);
      elfFunctionIndex(shared); // reached another way too: not the process's alone
      assert.equal(cachedElfFileCount(), 2);
    } finally {
      await kill(child);
    }
    assert.equal(sweepProcessSymbols(0, Date.now() + 1), 1);
    assert.equal(cachedElfFileCount(), 1);
    assert.ok(elfFile(shared));
    assert.equal(cachedElfFileCount(), 1, "the shared file was still cached");
    clearElfCache();
  });
});

describe("perf map lookups (compact index)", () => {
  const map = `/tmp/perf-${process.pid}.map`;
  after(() => rmSync(map, { force: true }));

  // Unmapped addresses (below mmap_min_addr), so only the perf map can name them.
  const LINES = ["1000 100 A", "1080 10 B", "2000 10 C", "1000 8 D"];
  const expect = (ps: ProcessSymbols, base: bigint): void => {
    assert.deepEqual(ps.resolve(base + 0x1085n), { name: "B", offset: 5n, module: map }, "the later of two");
    assert.deepEqual(ps.resolve(base + 0x1004n), { name: "D", offset: 4n, module: map });
    assert.deepEqual(ps.resolve(base + 0x1090n), { name: "A", offset: 0x90n, module: map });
    assert.deepEqual(ps.resolve(base + 0x2000n), { name: "C", offset: 0n, module: map });
    assert.equal(ps.resolve(base + 0x2010n), undefined, "past its end");
    assert.equal(ps.resolve(base + 0xfffn), undefined, "before the first");
  };

  it("names the last written of overlapping entries, with its offset", () => {
    writeFileSync(map, `${LINES.join("\n")}\n`);
    expect(new ProcessSymbols(process.pid), 0n);
  });

  it("the same with addresses beyond 2^53 (kept as BigInt)", () => {
    const base = 1n << 60n;
    const wide = LINES.map((l) => {
      const [a, size, name] = l.split(" ") as [string, string, string];
      return `${(base + BigInt(`0x${a}`)).toString(16)} ${size} ${name}`;
    });
    writeFileSync(map, `${wide.join("\n")}\n`);
    const ps = new ProcessSymbols(process.pid);
    // (above every mapping: the perf map is asked)
    expect(ps, base);
  });
});
