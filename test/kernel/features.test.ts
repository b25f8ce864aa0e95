/**
 * BPF.supports(feature): three-valued answers for attach kinds, program and
 * map types and helpers, consistent with what actually loads and attaches;
 * "unknown" (never a false "no") for a process that may not use bpf().
 * @kernel-matrix its answers differ on a kernel with kprobes, fentry and error injection.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { BPF, BpfError, NotSupportedError, VerifierError } from "../../src/index.js";
import { btfAttachProbe, kprobeSupport, resetFeatureCache } from "../../src/kernel/features.js";
import { kernelVersion } from "../../src/kernel/kernel_info.js";
import { skipUnlessRoot } from "../helpers.js";

const ANSWERS = new Set(["yes", "no", "unknown"]);
const atLeast = (major: number, minor: number): boolean => {
  const [a, b] = kernelVersion();
  return a > major || (a === major && b >= minor);
};

describe("BPF.supports", { skip: skipUnlessRoot }, () => {
  it("answers every attach kind with yes, no or unknown", () => {
    for (const f of [
      "kprobe",
      "kretprobe",
      "uprobe",
      "uretprobe",
      "tracepoint",
      "raw_tracepoint",
      "tp_btf",
      "fentry",
      "fexit",
      "kfunc",
      "kretfunc",
      "lsm",
      "perf_event",
      "perf_event:software",
      "perf_event:hardware",
      "xdp",
      "socket_filter",
      "ringbuf",
      "override_return",
    ]) {
      assert.ok(ANSWERS.has(BPF.supports(f)), f);
    }
  });

  it("agrees with the kernel's version and with the other probes", () => {
    assert.equal(BPF.supports("kprobe"), kprobeSupport());
    assert.equal(BPF.supports("tracepoint"), "yes");
    assert.equal(BPF.supports("raw_tracepoint"), atLeast(4, 17) ? "yes" : "no");
    assert.equal(BPF.supports("perf_event:software"), "yes");
    assert.equal(BPF.supports("xdp"), "yes");
    assert.equal(BPF.supports("ringbuf"), atLeast(5, 8) ? "yes" : "no");
    assert.equal(BPF.supports("map:ringbuf"), BPF.supports("ringbuf"));
    assert.equal(BPF.supports("fentry") === "yes", BPF.supportKfunc());
    assert.equal(BPF.supports("kfunc"), BPF.supports("fentry"));
    assert.equal(BPF.supports("lsm") === "yes", BPF.supportLsm());
    assert.equal(BPF.supports("tp_btf") === "yes", BPF.supportBtfTracepoint());
    assert.equal(BPF.supports("prog:kprobe"), "yes");
    assert.equal(BPF.supports("prog:tracing"), atLeast(5, 5) ? "yes" : "no");
    assert.equal(BPF.supports("map:hash"), "yes");
    assert.equal(BPF.supports("MAP:LPM_TRIE"), "yes", "names are case-insensitive");
    assert.equal(BPF.supports("map:bloom_filter"), atLeast(5, 16) ? "yes" : "no");
  });

  it("says why fentry is refused when it is", () => {
    const probe = btfAttachProbe("fentry");
    if (probe.support === "no") {
      assert.ok(probe.stage === "load" || probe.stage === "attach", probe.stage);
      assert.ok(probe.errno > 0);
    } else {
      assert.equal(probe.stage, "");
    }
  });

  it("maps helper names to the kernel's helper ids, for a program type", () => {
    assert.equal(BPF.supports("helper:bpf_map_lookup_elem"), "yes");
    assert.equal(BPF.supports("helper:map_lookup_elem"), "yes", "the bpf_ prefix is optional");
    assert.equal(BPF.supports("helper:bpf_probe_read_kernel"), atLeast(5, 5) ? "yes" : "no");
    assert.equal(BPF.supports("helper:bpf_redirect@xdp"), "yes");
    assert.equal(BPF.supports("helper:bpf_xdp_adjust_head@xdp"), "yes");
    assert.equal(BPF.supports("helper:bpf_xdp_adjust_head"), "no", "not a kprobe helper");
    assert.equal(
      BPF.supports("helper:bpf_tsbpf_no_such_helper"),
      "no",
      "not in the kernel's enum bpf_func_id",
    );
    assert.equal(BPF.supports("helper:bpf_override_return"), BPF.supports("override_return"));
  });

  it("throws for a name it does not know, listing those it knows", () => {
    assert.throws(
      () => BPF.supports("kprobes"),
      (err: unknown) => err instanceof BpfError && /known: kprobe, /.test(err.message),
    );
    assert.throws(() => BPF.supports("prog:nope"), /unknown feature/);
    assert.throws(() => BPF.supports("helper:bpf_redirect@nope"), /unknown program type "nope"/);
  });

  it("caches definite answers", () => {
    resetFeatureCache();
    const t0 = performance.now();
    const first = BPF.supports("lsm");
    const t1 = performance.now();
    const second = BPF.supports("lsm");
    const t2 = performance.now();
    assert.equal(first, second);
    if (first !== "unknown") assert.ok(t2 - t1 < Math.max(1, (t1 - t0) / 2), "the second answer is cached");
  });

  it("answers unknown, not no, in a process that may not use bpf()", () => {
    const index = fileURLToPath(new URL("../../src/index.js", import.meta.url));
    const script = `
process.setgid(65534); process.setuid(65534);
const { BPF } = await import(${JSON.stringify(index)});
const out = {};
for (const f of ["prog:xdp", "map:hash", "fentry", "lsm", "tp_btf", "helper:bpf_probe_read_kernel", "xdp", "ringbuf"]) out[f] = BPF.supports(f);
console.log(JSON.stringify(out));`;
    const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout) as Record<string, string>;
    for (const [f, a] of Object.entries(out)) assert.equal(a, "unknown", `${f} as nobody`);
  });
});

describe("error injection (bpf_override_return)", { skip: skipUnlessRoot }, () => {
  it("says CONFIG_BPF_KPROBE_OVERRIDE is missing when the verifier does not know the helper", async () => {
    await using b = await BPF.load({
      text: `
int kprobe__should_failslab(struct pt_regs *ctx)
{
    bpf_override_return(ctx, -12 /* -ENOMEM */);
    return 0;
}`,
      autoAttach: false,
    });
    if (BPF.supports("override_return") === "yes") {
      assert.ok(b.loadFunc("kprobe__should_failslab", BPF.KPROBE).fd > 0);
      return;
    }
    assert.throws(
      () => b.loadFunc("kprobe__should_failslab", BPF.KPROBE),
      (err: unknown) => {
        assert.ok(err instanceof NotSupportedError, String(err));
        assert.equal(err.feature, "error injection (bpf_override_return)");
        assert.match(err.reason, /built without CONFIG_BPF_KPROBE_OVERRIDE/);
        assert.match(err.reason, /(unknown func|cannot use helper) bpf_override_return#58/);
        assert.match(err.alternative ?? "", /CONFIG_BPF_KPROBE_OVERRIDE=y/);
        assert.ok(err.cause instanceof VerifierError, "the verifier's error, with its log, is the cause");
        return true;
      },
    );
  });
});
