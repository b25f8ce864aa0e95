/**
 * The hint a VerifierError gives for "invalid mem access": a NULL check for a
 * maybe-NULL pointer, the right probe-read helper for a plain number.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { VerifierError } from "../../src/kernel/errors.js";
import { loadError } from "../../src/kernel/verifier.js";
import type { NativeError } from "../../src/native.js";

function failedLoad(log: string): NativeError {
  return Object.assign(new Error("bpf_object__load failed"), {
    errno: 13,
    code: "EACCES",
    op: "bpf_object__load",
    libbpfLog: "",
    verifierLog: log,
  });
}

const source = "int f(void *ctx)\n{\n    char c = p[0];\n    return c;\n}\n";

function errorFor(reason: string): VerifierError {
  const log = `0: R1=ctx() R10=fp0\n; char c = p[0]; @ <text>.c:3\n1: (71) r1 = *(u8 *)(r1 +0)\n${reason}\nprocessed 2 insns (limit 1000000)\n`;
  const err = loadError(failedLoad(log), { program: "f", fileName: "<text>.c", source });
  assert.ok(err instanceof VerifierError);
  return err;
}

describe("verifier hints", () => {
  it("a plain number dereferenced ('scalar', 'inv' before 5.18): the probe-read helpers, user and kernel", () => {
    for (const reason of ["R1 invalid mem access 'scalar'", "R1 invalid mem access 'inv'"]) {
      const err = errorFor(reason);
      assert.equal(err.reason, reason);
      assert.equal(err.sourceLine, 3);
      assert.match(err.message, /at <text>\.c:3: char c = p\[0\];/);
      assert.match(err.message, /hint: .*plain number.*bpf_probe_read_user\(\).*bpf_probe_read_kernel\(\)/);
    }
  });

  it("a maybe-NULL pointer dereferenced: check the lookup for NULL", () => {
    const err = errorFor("R0 invalid mem access 'map_value_or_null'");
    assert.match(err.message, /hint: a pointer that may be NULL .*check map lookups for NULL/);
    assert.doesNotMatch(err.message, /bpf_probe_read/);
  });

  it("other invalid accesses keep the general hint", () => {
    const err = errorFor("R1 invalid mem access 'ctx'");
    assert.match(err.message, /hint: a pointer is dereferenced that the verifier cannot prove valid/);
  });
});
