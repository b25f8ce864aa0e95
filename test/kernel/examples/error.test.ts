/**
 * Chapter 10, errors: each example fails to load as the tutorial shows,
 * with a VerifierError whose message names the verifier's reason, the
 * user's source line and a hint, exits with status 1 and leaves nothing in
 * the kernel.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { bpfText as gplText } from "../../../examples/error/error_sample.js";
import { bpfText as memText } from "../../../examples/error/invalid_mem_access.js";
import { kernelObjects, leftSince, skipUnlessRoot, waitFor } from "../../helpers.js";
import { assertMechanism, kernelHas, runExampleSync } from "./run_example.js";

/** The 1-based line of the example's C text that contains `needle`. */
function lineOf(text: string, needle: string): number {
  const i = text.split("\n").findIndex((l) => l.includes(needle));
  assert.ok(i >= 0, `${needle} is not in the C text`);
  return i + 1;
}

/** Runs an error example and checks that it fails cleanly; returns its stderr's error line and hint. */
async function failing(id: string): Promise<{ stderr: string; error: string; hint: string }> {
  const program = id.slice(id.indexOf("/") + 1);
  const before = kernelObjects();
  const r = runExampleSync(id);
  assert.equal(r.status, 1, `${id} should fail:\n${r.stdout}\n${r.stderr}`);
  assert.equal(r.stdout, "");
  const lines = r.stderr.split("\n");
  const k = lines.findIndex((l) => l.startsWith(`${program}: VerifierError: `));
  assert.ok(k >= 0, `no VerifierError line in:\n${r.stderr}`);
  const clean = await waitFor(() => {
    const left = leftSince(before);
    return left.progs.length + left.links.length + left.maps.length === 0;
  }, 3000);
  assert.ok(clean, `${id} left objects in the kernel: ${JSON.stringify(leftSince(before))}`);
  return { stderr: r.stderr, error: lines[k] as string, hint: lines[k + 1] ?? "" };
}

describe("error", { skip: skipUnlessRoot }, () => {
  it("error/error_sample: a GPL-only helper from a non-GPL program is a VerifierError naming the cause and line", async () => {
    const { stderr, error, hint } = await failing("error/error_sample");
    const line = lineOf(gplText, "bpf_trace_printk(");
    assert.equal(
      error,
      `error_sample: VerifierError: the verifier rejected program syscall__execve: ` +
        `cannot call GPL-restricted function from non-GPL compatible program ` +
        `at <text>.c:${line}: bpf_trace_printk("execve from %s\\n", comm);`,
    );
    assert.match(hint, /^hint: the program's license is "Proprietary"; GPL-only helpers .* set it to GPL$/);
    assertMechanism("error_sample", stderr, "kprobe", /using tracepoint syscalls:sys_enter_execve instead$/);
  });

  it("error/invalid_mem_access: a direct read of user memory is a VerifierError naming the line and the helper", async () => {
    const { stderr, error, hint } = await failing("error/invalid_mem_access");
    const line = lineOf(memText, "char first = filename[0];");
    // 'scalar' since Linux 5.18, 'inv' before.
    assert.match(
      error,
      new RegExp(
        `^invalid_mem_access: VerifierError: the verifier rejected program syscall__execve: ` +
          `R\\d invalid mem access '(scalar|inv)' at <text>\\.c:${line}: char first = filename\\[0\\];$`,
      ),
    );
    assert.match(hint, /^hint: .*read user memory with bpf_probe_read_user\(\)/);
    assertMechanism(
      "invalid_mem_access",
      stderr,
      "kprobe",
      /using tracepoint syscalls:sys_enter_execve instead$/,
    );
  });

  for (const id of ["error/error_sample", "error/invalid_mem_access"]) {
    it(`${id} --strict fails with the NotSupportedError where kprobes are missing`, (t) => {
      if (kernelHas("kprobe")) {
        t.skip("this kernel has kprobes: --strict loads the kprobe (and meets the VerifierError)");
        return;
      }
      const program = id.slice(id.indexOf("/") + 1);
      const r = runExampleSync(id, ["--strict"]);
      assert.equal(r.status, 1);
      assert.match(
        r.stderr,
        new RegExp(
          `^${program}: NotSupportedError: kprobes are not available on this kernel \\(.*CONFIG_KPROBES is off\\)`,
        ),
      );
    });
  }
});
