/**
 * Chapter 12, Debug: bpf_override_return. Neither this machine's kernel nor
 * the kernel matrix's has CONFIG_BPF_KPROBE_OVERRIDE: the example ends in
 * the typed error on both.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { kernelObjects, leftSince, skipUnlessRoot, waitFor } from "../../helpers.js";
import { kernelHas, runExampleSync } from "./run_example.js";

describe("debug", { skip: skipUnlessRoot }, () => {
  it("debug/bpf_override_return: NotSupportedError for error injection, naming the missing option", async (t) => {
    if (kernelHas("override_return")) {
      t.skip("this kernel can override return values: the success path is not tested");
      return;
    }
    const before = kernelObjects();
    const r = runExampleSync("debug/bpf_override_return");
    assert.equal(r.status, 1, r.stderr);
    assert.equal(r.stdout, "");
    // With or without kprobes, the error is the missing helper: no tracepoint could stand in.
    assert.match(
      r.stderr,
      /^bpf_override_return: NotSupportedError: error injection \(bpf_override_return\) is not available on this kernel \(the kernel was built without CONFIG_BPF_KPROBE_OVERRIDE: the verifier says "(unknown func|program of this type cannot use helper) bpf_override_return#58"\); use a kernel with CONFIG_BPF_KPROBE_OVERRIDE=y .*\n$/,
    );
    assert.doesNotMatch(r.stderr, /kprobes are not available/);
    await waitFor(() => {
      const left = leftSince(before);
      return left.progs.length + left.links.length + left.maps.length === 0;
    }, 3000);
    assert.deepEqual(leftSince(before), { progs: [], links: [], maps: [] });
  });
});
