/**
 * C library functions called undeclared (bcc programs do: sprintf, memset):
 * bcc's clang only warns, and makes inline code of a call with constant
 * arguments. tsbpf compiles those too, and refuses, at the call's line with a
 * note, one that would stay a call (a BPF program has no C library), as it
 * refuses any other undeclared function.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { compileBcc } from "../../src/compile/compile.js";
import { readElfSymbols, SHN_UNDEF } from "../../src/elf/elf.js";
import { CompileError } from "../../src/kernel/errors.js";
import { coldCompileSkip, emptyCache } from "./cold_compile_fixture.js";

emptyCache("tsbpf-library-calls-");

const program = (body: string): string => `
struct data_t { char command[30]; };
BPF_PERF_OUTPUT(events);
int f(struct pt_regs *ctx)
{
    struct data_t d = {};
${body}
    events.perf_submit(ctx, &d, sizeof(d));
    return 0;
}`;

describe("C library functions called undeclared", { skip: coldCompileSkip }, () => {
  it("compiles the calls clang makes inline code of, leaving no call", async () => {
    const r = await compileBcc({
      text: program(`    sprintf(d.command, "%s", "kmem_cache_alloc");
    memset(d.command + 20, 0, 4);`),
    });
    const undefinedSymbols = readElfSymbols(Buffer.from(r.elf)).filter(
      (s) => s.shndx === SHN_UNDEF && s.name,
    );
    assert.deepEqual(
      undefinedSymbols.map((s) => s.name),
      [],
    );
  });

  it("refuses one that would stay a call, at its line, saying why", async () => {
    await assert.rejects(
      compileBcc({ text: program(`    sprintf(d.command, "%d", (int)bpf_get_prandom_u32());`) }),
      (err: unknown) => {
        assert.ok(err instanceof CompileError, String(err));
        assert.match(err.message, /<text>\.c:7:5: error: implicitly declaring library function 'sprintf'/);
        assert.match(
          err.message,
          /note: sprintf is a C library function, and a BPF program has no C library/,
        );
        return true;
      },
    );
  });

  it("still refuses a function that is no library's", async () => {
    await assert.rejects(
      compileBcc({ text: program("    my_helper(d.command);") }),
      /<text>\.c:7:5: error: implicit declaration of function 'my_helper'/,
    );
  });
});
