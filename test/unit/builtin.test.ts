/**
 * builtinModule (src/builtin.ts): Node's built-in modules fetched without
 * node:module where Node has process.getBuiltinModule, and through
 * node:module's require() where it has not (Node 20 before 20.16).
 */
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { describe, it } from "node:test";
import { builtinModule } from "../../src/builtin.js";
import { requireWithModule } from "../../src/builtin_fallback.js";

const require = createRequire(import.meta.url);

describe("builtinModule", () => {
  it("returns the module require() returns", () => {
    assert.equal(builtinModule("node:zlib"), require("node:zlib"));
    assert.equal(builtinModule("node:child_process"), require("node:child_process"));
    assert.throws(() => builtinModule("node:no-such-module"), { code: "ERR_UNKNOWN_BUILTIN_MODULE" });
  });

  it("falls back to node:module's require() on a Node without process.getBuiltinModule", () => {
    const proc = process as { getBuiltinModule?: unknown };
    const own = Object.getOwnPropertyDescriptor(process, "getBuiltinModule");
    proc.getBuiltinModule = undefined;
    try {
      assert.equal(builtinModule("node:v8"), require("node:v8"));
      assert.throws(() => builtinModule("node:no-such-module"), { code: "ERR_UNKNOWN_BUILTIN_MODULE" });
    } finally {
      if (own) Object.defineProperty(process, "getBuiltinModule", own);
      else delete proc.getBuiltinModule;
    }
  });

  it("requires a package from where it is asked", () => {
    // (the bundles' require() for anything not built in: bundle_runner.ts)
    assert.throws(() => requireWithModule("tsbpf-no-such-package", import.meta.url), {
      code: "MODULE_NOT_FOUND",
    });
    assert.equal(requireWithModule("node:path", "/"), require("node:path"));
  });
});
