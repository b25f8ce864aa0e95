import assert from "node:assert/strict";
import { constants } from "node:os";
import { describe, it } from "node:test";
import { Errno, errnoName } from "../../src/kernel/constants.js";
import { BpfError } from "../../src/kernel/errors.js";

describe("Errno and errnoName", () => {
  it("has the platform's numbers by name, and the kernel-internal ENOTSUPP", () => {
    assert.equal(Errno.EPERM, constants.errno.EPERM);
    assert.equal(Errno.ENOENT, 2);
    assert.equal(Errno.ENOTSUPP, 524);
    for (const [name, value] of Object.entries(constants.errno)) assert.equal(Errno[name], value, name);
    assert.equal(Errno.NOT_AN_ERRNO, undefined);
    assert.ok("ENOENT" in Errno && "ENOTSUPP" in Errno && !("NOT_AN_ERRNO" in Errno));
    assert.throws(() => {
      (Errno as Record<string, number>).EPERM = 3;
    }, TypeError);
  });

  it("names a number as the platform's table does (its last name for a shared number), ENOTSUPP, or nothing", () => {
    assert.equal(errnoName(Errno.EPERM), "EPERM");
    assert.equal(errnoName(524), "ENOTSUPP");
    assert.equal(errnoName(100000), "");
    const last = new Map(Object.entries(constants.errno).map(([n, v]) => [v, n]));
    for (const [value, name] of last) assert.equal(errnoName(value), name);
  });

  it("gives errors their code from the number", () => {
    assert.equal(new BpfError("x", { errno: Errno.EACCES }).code, "EACCES");
    assert.equal(new BpfError("x", { errno: 524 }).code, "ENOTSUPP");
    assert.equal(new BpfError("x").code, undefined);
  });
});
