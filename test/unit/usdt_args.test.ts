/** SystemTap USDT argument specs, as the notes of x86-64 and aarch64 binaries write them. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseUsdtArgument } from "../../src/attach/usdt.js";

describe("USDT argument specs", () => {
  it("parses registers, immediates and memory operands with their size and sign", () => {
    assert.deepEqual(parseUsdtArgument("-4@%esi"), {
      spec: "-4@%esi",
      size: 4,
      signed: true,
      register: "esi",
      deref: false,
    });
    assert.deepEqual(parseUsdtArgument("8@$-1"), {
      spec: "8@$-1",
      size: 8,
      signed: false,
      constant: -1n,
      deref: false,
    });
    assert.deepEqual(parseUsdtArgument("4@$0x10"), {
      spec: "4@$0x10",
      size: 4,
      signed: false,
      constant: 16n,
      deref: false,
    });
    assert.deepEqual(parseUsdtArgument("8@-16(%rbp)"), {
      spec: "8@-16(%rbp)",
      size: 8,
      signed: false,
      register: "rbp",
      deref: true,
      offset: -16,
    });
    assert.deepEqual(parseUsdtArgument("-2@8(%rax,%rdx,4)"), {
      spec: "-2@8(%rax,%rdx,4)",
      size: 2,
      signed: true,
      register: "rax",
      deref: true,
      offset: 8,
      indexRegister: "rdx",
      scale: 4,
    });
    assert.deepEqual(parseUsdtArgument("8@[sp, 16]"), {
      spec: "8@[sp, 16]",
      size: 8,
      signed: false,
      register: "sp",
      deref: true,
      offset: 16,
    });
    assert.deepEqual(parseUsdtArgument("%rdi"), {
      spec: "%rdi",
      size: 8,
      signed: false,
      register: "rdi",
      deref: false,
    });
    assert.equal(parseUsdtArgument("8@what"), undefined);
  });

  it("reads negative hex offsets and immediates, and refuses sizes it cannot read (fuzzed)", () => {
    // "-0x18(%rbp)" gave offset NaN (Number("-0x18")), "$-0x10" threw a SyntaxError (BigInt("-0x10")).
    assert.equal(parseUsdtArgument("-0x18(%rbp)")?.offset, -0x18);
    assert.equal(parseUsdtArgument("8@-0x18(%rbp)")?.offset, -0x18);
    assert.equal(parseUsdtArgument("-4@$-0x10")?.constant, -0x10n);
    assert.equal(parseUsdtArgument("8@$-16")?.constant, -16n);
    assert.equal(parseUsdtArgument("16@%rdi"), undefined);
    assert.equal(parseUsdtArgument("0@%rdi"), undefined);
    assert.equal(parseUsdtArgument("99999999999999999999(%rax)"), undefined);
  });
});
