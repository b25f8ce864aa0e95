/**
 * Every way out of a process detaches everything, judged by the kernel's own
 * state, not by the child's exit status.
 *
 * Return, uncaught exception, SIGINT/SIGTERM (with and without a handler of
 * the program's own): the child attaches one program of every attach kind
 * this kernel has, among them an XDP program over netlink (`{ netlink: true
 * }`), which the kernel keeps on the device after the process ends, and, where
 * the kernel has kprobes, a kretprobe with maxactive (a tracefs kprobe_events
 * entry, which the kernel keeps too). Only tsbpf's exit handlers remove those:
 * without src/lifecycle.ts these tests fail. (tsbpf pins nothing of its own:
 * pins are the user's, and stay.)

 *
 * @kernel-matrix a kernel with kprobes adds the kretprobe's kprobe_events entry, which only the exit handlers remove (~80 s in the 6.1 guest).
 *
 * SIGKILL runs no handler: there, only what is fd-based goes. Every kind,
 * XDP as a bpf_link included, must be gone; the netlink XDP program stays,
 * as documented, which shows these checks see what a process leaves.
 *
 * The device is one end of a veth pair the test creates, left down and
 * without addresses; its other end is in a network namespace of the test's
 * own. The host's interfaces are never touched.
 */
import assert from "node:assert/strict";
import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { join } from "node:path";
import { after, before, beforeEach, describe, it } from "node:test";
import { kprobeSupport, uprobeSupport } from "../../src/kernel/features.js";
import { tracefsPath } from "../../src/kernel/tracefs.js";
import { native } from "../../src/native.js";
import { CTargets, ccPresent, sdtHeaderPresent } from "../c_targets.js";
import { cgroup2Root } from "../cgroup.js";
import { repoRoot, skipUnlessRoot, testTempDir, waitFor } from "../helpers.js";
import { ip, netToolsMissing } from "../net.js";

const index = JSON.stringify(join(repoRoot, "dist/src/index.js"));
const ns = `tsbpf-life-${process.pid}`;
const dev = `tl${process.pid}h`;
const peer = `tl${process.pid}n`;
const targets = new CTargets("tsbpf-life");
const withKprobes = kprobeSupport() === "yes";
const withUsdt = ccPresent && sdtHeaderPresent && uprobeSupport() === "yes";

/** One function for each attach kind; BTF_TRACEPOINT_PROBE attaches itself at load. */
const PROGRAM = `
#include <linux/bpf.h>
int on_tp(void *ctx) { return 0; }
int on_raw(struct bpf_raw_tracepoint_args *ctx) { return 0; }
BTF_TRACEPOINT_PROBE(sched_switch, bool preempt, struct task_struct *prev, struct task_struct *next) { return 0; }
int on_uprobe(struct pt_regs *ctx) { return 0; }
int on_usdt(struct pt_regs *ctx) { return 0; }
int on_kret(struct pt_regs *ctx) { return 0; }
int on_perf(struct bpf_perf_event_data *ctx) { return 0; }
int on_xdp(struct xdp_md *ctx) { return XDP_PASS; }
int on_sock(struct __sk_buff *skb) { return 0; }
SEC("cgroup/connect4")
int on_connect(struct bpf_sock_addr *ctx) { return 1; }
BPF_ITER(task) { return 0; }
`;

interface Config {
  /** How the child attaches XDP: as a bpf_link (the default) or over netlink. */
  xdp: "link" | "netlink";
  cgroup: string;
  usdt?: string;
  kretprobe: boolean;
}

/**
 * A script that attaches every kind, prints "attached", then on a line on
 * its stdin runs `ending` (the parent signals it instead, or not).
 */
function script(ending: string, handlers = ""): string {
  const path = join(testTempDir("tsbpf-life"), "prog.mjs");
  writeFileSync(
    path,
    `import { BPF, PerfSWConfig, PerfType, USDT, XDP_FLAGS_SKB_MODE } from ${index};
const cfg = JSON.parse(process.env.TSBPF_LIFE);
const usdtContexts = [];
if (cfg.usdt) {
  const u = new USDT({ path: cfg.usdt });
  u.enableProbe({ probe: "life:tick", fnName: "on_usdt" });
  usdtContexts.push(u);
}
const b = await BPF.load({ text: ${JSON.stringify(PROGRAM)}, usdtContexts });
b.attachTracepoint({ tp: "syscalls:sys_enter_execve", fnName: "on_tp" });
b.attachRawTracepoint({ tp: "sched_switch", fnName: "on_raw" });
b.attachUprobe({ name: "c", sym: "strlen", fnName: "on_uprobe" });
if (cfg.kretprobe) b.attachKretprobe({ event: "do_nanosleep", fnName: "on_kret", maxactive: 4 });
b.attachPerfEvent({ evType: PerfType.SOFTWARE, evConfig: PerfSWConfig.CPU_CLOCK, fnName: "on_perf", sampleFreq: 1 });
b.attachXdp(${JSON.stringify(dev)}, "on_xdp", XDP_FLAGS_SKB_MODE, { netlink: cfg.xdp === "netlink" });
b.attachRawSocket("on_sock", ${JSON.stringify(dev)});
b.attachCgroup({ fnName: "on_connect", cgroup: cfg.cgroup });
b.attachIter({ fnName: "bpf_iter__task" });
${handlers}
console.log("attached");
process.stdin.once("data", () => {
  process.stdin.destroy();
  ${ending}
});
`,
  );
  return path;
}

interface Child {
  child: ChildProcessWithoutNullStreams;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts the script and resolves once everything is attached. */
async function start(path: string, cfg: Config): Promise<Child> {
  const child = spawn(process.execPath, [path], {
    env: { ...process.env, TSBPF_LIFE: JSON.stringify(cfg) },
  });
  let out = "";
  let err = "";
  child.stdout.on("data", (b: Buffer) => {
    out += b.toString();
  });
  child.stderr.on("data", (b: Buffer) => {
    err += b.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on("exit", (code, signal) => resolve({ code, signal })),
  );
  let gone = false;
  void exited.then(() => {
    gone = true;
  });
  // generous: a first compile on a slow machine (or in the kernel matrix's VM) takes a minute or more
  await waitFor(() => out.includes("attached") || gone, 240_000);
  assert.ok(out.includes("attached"), `the child did not attach: ${err}`);
  return { child, stderr: () => err, exited };
}

/** `ip -d link show` of the test device. */
function linkShow(): string {
  return ip("-d", "link", "show", "dev", dev);
}

/** The ids of the XDP bpf_links on the test device. */
function xdpLinks(): number[] {
  return native().xdpLinkIds(native().ifNameToIndex(dev));
}

/** The id of the XDP program on the test device, or undefined. */
function xdpProgId(): number | undefined {
  const id = /prog\/xdp id (\d+)/.exec(linkShow())?.[1];
  return id === undefined ? undefined : Number(id);
}

/** This pid's kprobe_events entries (tsbpf names them r_FUNC_PID_N). */
function kprobeEventsOf(pid: number): string[] {
  if (!withKprobes) return [];
  return readFileSync(tracefsPath("kprobe_events"), "utf8")
    .split("\n")
    .filter((l) => l.includes(`_${pid}_`));
}

/** Links that each attachment makes: tracepoint, raw tp, tp_btf, uprobe, cgroup, iter, perf (one per CPU), USDT, kretprobe. */
function linksExpected(cfg: Config): number {
  return 6 + cpus().length + (cfg.usdt ? 1 : 0) + (cfg.kretprobe ? 1 : 0) + (cfg.xdp === "link" ? 1 : 0);
}

interface Ids {
  progs: number[];
  links: number[];
  maps: number[];
}

/**
 * The BPF programs, links and maps whose fds process pid holds, as the
 * kernel accounts for them in /proc/PID/fdinfo: only the child's objects,
 * whatever other processes load meanwhile.
 */
function heldBy(pid: number): Ids {
  const ids = { progs: new Set<number>(), links: new Set<number>(), maps: new Set<number>() };
  for (const fd of readdirSync(`/proc/${pid}/fdinfo`)) {
    let info: string;
    try {
      info = readFileSync(`/proc/${pid}/fdinfo/${fd}`, "utf8");
    } catch {
      continue; // closed meanwhile
    }
    for (const [key, set] of [
      ["prog_id", ids.progs],
      ["link_id", ids.links],
      ["map_id", ids.maps],
    ] as const) {
      const m = new RegExp(`^${key}:\\s*(\\d+)$`, "m").exec(info);
      if (m) set.add(Number(m[1]));
    }
  }
  return { progs: [...ids.progs], links: [...ids.links], maps: [...ids.maps] };
}

/** Which of these objects the kernel still has. */
function remaining(held: Ids): Ids {
  const n = native();
  const [progs, links, maps] = [new Set(n.progIds()), new Set(n.linkIds()), new Set(n.mapIds())];
  return {
    progs: held.progs.filter((id) => progs.has(id)),
    links: held.links.filter((id) => links.has(id)),
    maps: held.maps.filter((id) => maps.has(id)),
  };
}

/** Asserts that the child has everything attached, from the kernel's side; what it holds. */
function assertAttached(cfg: Config, pid: number): Ids {
  const id = xdpProgId();
  assert.ok(id !== undefined, `XDP on ${dev}: ${linkShow()}`);
  assert.match(linkShow(), /xdpgeneric/);
  const held = heldBy(pid);
  assert.ok(held.progs.includes(id), "the XDP program is the child's");
  assert.ok(
    held.links.length >= linksExpected(cfg),
    `${held.links.length} links, want ${linksExpected(cfg)}`,
  );
  assert.equal(xdpLinks().length, cfg.xdp === "link" ? 1 : 0, "XDP bpf_links on the device");
  if (cfg.xdp === "link") {
    // netlink may not touch a program that a bpf_link holds.
    const r = spawnSync("ip", ["link", "set", "dev", dev, "xdpgeneric", "off"], { encoding: "utf8" });
    assert.notEqual(r.status, 0, "the XDP program is held by a bpf_link");
    assert.match(r.stderr, /BPF XDP link/);
  }
  if (cfg.kretprobe) assert.equal(kprobeEventsOf(pid).length, 1, "the kretprobe's kprobe_events entry");
  return held;
}

/**
 * Asserts that nothing the child held is left in the kernel. A program's maps
 * are released after an RCU grace period, in a workqueue
 * (bpf_prog_free_deferred, kernel/bpf/core.c), so this waits up to 3 s.
 */
async function assertGone(held: Ids, pid: number): Promise<void> {
  assert.doesNotMatch(linkShow(), /xdp/, "no XDP program on the device");
  assert.deepEqual(xdpLinks(), [], "no XDP bpf_link on the device");
  assert.deepEqual(kprobeEventsOf(pid), [], "no kprobe_events entry");
  const none = (): boolean => Object.values(remaining(held)).every((ids) => ids.length === 0);
  await waitFor(none, 3000);
  assert.deepEqual(remaining(held), { progs: [], links: [], maps: [] });
}

describe("lifecycle", { skip: skipUnlessRoot || netToolsMissing }, () => {
  let cg = "";
  let usdt: string | undefined;
  const config = (xdp: Config["xdp"]): Config => ({ xdp, cgroup: cg, kretprobe: withKprobes, usdt });

  before(() => {
    ip("netns", "add", ns);
    ip("link", "add", dev, "type", "veth", "peer", "name", peer);
    ip("link", "set", peer, "netns", ns);
    cg = join(cgroup2Root(), `tsbpf-life-${process.pid}`);
    mkdirSync(cg, { recursive: true });
    if (withUsdt) usdt = targets.build("life_usdt", USDT_C);
    else console.log("# lifecycle: no USDT attach (needs cc, <sys/sdt.h> and uprobes)");
    if (!withKprobes) console.log("# lifecycle: no kretprobe with maxactive (this kernel has no kprobes)");
  });
  beforeEach(() => {
    // What a failed test left must not decide the next one.
    spawnSync("ip", ["link", "set", "dev", dev, "xdpgeneric", "off"]);
  });
  after(() => {
    // Deleting the namespace deletes its end, and with it the pair and any XDP program on it.
    spawnSync("ip", ["netns", "del", ns]);
    if (existsSync(`/sys/class/net/${dev}`)) spawnSync("ip", ["link", "del", dev]);
    if (existsSync(cg)) {
      try {
        rmdirSync(cg);
      } catch {
        // a process may still be leaving it
      }
    }
    targets.cleanup();
  });

  const cases: {
    name: string;
    ending: string;
    signal?: NodeJS.Signals;
    want: (r: Exit, err: string) => void;
  }[] = [
    {
      name: "a normal return",
      ending: "",
      want: (r, err) => assert.deepEqual(r, { code: 0, signal: null }, err),
    },
    {
      name: "an uncaught exception",
      ending: 'throw new Error("boom");',
      want: (r, err) => {
        assert.equal(r.code, 1);
        assert.match(err, /boom/);
      },
    },
    {
      name: "SIGINT with no handler of the program's own (then the signal ends the process)",
      ending: "",
      signal: "SIGINT",
      want: (r, err) => assert.equal(r.signal, "SIGINT", err),
    },
    {
      name: "SIGTERM with no handler of the program's own (then the signal ends the process)",
      ending: "",
      signal: "SIGTERM",
      want: (r, err) => assert.equal(r.signal, "SIGTERM", err),
    },
  ];
  for (const c of cases) {
    it(`${c.name} removes everything, the netlink XDP program included`, async () => {
      const cfg = config("netlink");
      const ch = await start(script(c.ending), cfg);
      const pid = ch.child.pid as number;
      const held = assertAttached(cfg, pid);
      if (c.signal) ch.child.kill(c.signal);
      else ch.child.stdin.end("go\n");
      c.want(await ch.exited, ch.stderr());
      await assertGone(held, pid);
    });
  }

  it("a program's own SIGINT handler runs with everything still attached", async () => {
    const cfg = config("netlink");
    const ch = await start(
      script(
        "",
        `process.on("SIGINT", () => {
  console.error("handler sees " + b.numOpenTracepoints() + " tracepoint(s)");
  process.exit(0);
});`,
      ),
      cfg,
    );
    const pid = ch.child.pid as number;
    const held = assertAttached(cfg, pid);
    ch.child.kill("SIGINT");
    assert.deepEqual(await ch.exited, { code: 0, signal: null }, ch.stderr());
    assert.match(ch.stderr(), /handler sees 1 tracepoint\(s\)/);
    await assertGone(held, pid);
  });

  it("SIGKILL leaves no program and no link of any fd-based attach kind, XDP as a bpf_link included", async () => {
    const cfg = { ...config("link"), kretprobe: false };
    const ch = await start(script(""), cfg);
    const pid = ch.child.pid as number;
    const held = assertAttached(cfg, pid);
    ch.child.kill("SIGKILL");
    assert.equal((await ch.exited).signal, "SIGKILL");
    await assertGone(held, pid);
  });

  it("SIGKILL leaves an XDP program attached over netlink on the device, as documented", async () => {
    const cfg = { ...config("netlink"), kretprobe: false };
    const ch = await start(script(""), cfg);
    const pid = ch.child.pid as number;
    const held = assertAttached(cfg, pid);
    const id = xdpProgId() as number;
    ch.child.kill("SIGKILL");
    assert.equal((await ch.exited).signal, "SIGKILL");
    // Everything else goes; the device keeps its program.
    await waitFor(() => remaining(held).progs.length === 1, 3000);
    assert.deepEqual(remaining(held), { progs: [id], links: [], maps: [] });
    assert.equal(xdpProgId(), id);
    ip("link", "set", "dev", dev, "xdpgeneric", "off");
    await assertGone(held, pid);
  });
});

type Exit = { code: number | null; signal: NodeJS.Signals | null };

const USDT_C = `
#include <sys/sdt.h>
int main(void) { DTRACE_PROBE(life, tick); return 0; }
`;
