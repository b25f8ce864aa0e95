import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { VerifierError } from "../../src/kernel/errors.js";
import { loadError, verifierReason } from "../../src/kernel/verifier.js";

describe("verifierReason", () => {
  it("a message that starts with a register is the reason, not the states around it", () => {
    // the tail of a 6.18 log (sslsniff before its fix)
    const log = [
      "0: R1=ctx() R10=fp0",
      "; if (n > MAX_BUF_SIZE) @ sslsniff.bpf.c:146",
      "68: (2d) if r2 > r1 goto pc+1 70: R0=scalar() R1=scalar(smin=smin32=0,smax=umax=smax32=umax32=16383,var_off=(0x0; 0x3fff))",
      "72: (bf) r2 = r6                      ; R2=scalar(id=1) R6=scalar(id=1)",
      "73: (85) call bpf_probe_read_user#112",
      "R2 min value is negative, either use unsigned or 'var &= const'",
      "processed 108 insns (limit 1000000) max_states_per_insn 1 total_states 10 peak_states 10 mark_read 0",
      "",
    ].join("\n");
    assert.equal(verifierReason(log), "R2 min value is negative, either use unsigned or 'var &= const'");
    const err = loadError(
      Object.assign(new Error("bpf_object__load failed"), {
        errno: 13,
        code: "EACCES",
        op: "bpf_object__load",
        libbpfLog: "",
        verifierLog: log,
      }),
      { program: "probe_SSL_write_exit", fileName: "sslsniff.bpf.c" },
    );
    assert.ok(err instanceof VerifierError);
    assert.match(
      err.message,
      /rejected program probe_SSL_write_exit: R2 min value is negative.*\nhint: .*clamp/s,
    );
  });

  it("skips register dumps and statistics", () => {
    const log = [
      "0: R1=ctx() R10=fp0",
      "5: (79) r0 = *(u64 *)(r1 +0)",
      "invalid bpf_context access off=0 size=8",
      "R1_w=ctx(off=0,imm=0)",
      "from 3 to 5: R0=scalar()",
      "processed 6 insns (limit 1000000)",
    ].join("\n");
    assert.equal(verifierReason(log), "invalid bpf_context access off=0 size=8");
    assert.equal(verifierReason("R0 !read_ok\nprocessed 1 insns"), "R0 !read_ok");
  });
});
