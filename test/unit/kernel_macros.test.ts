/**
 * The header layer's pure parts: the macro table and its closure, resolving
 * #if conditionals, a program's own types replacing the kernel's, the kernel
 * configuration's macros, and byte/character offsets for text in any language.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { evaluateCondition, type MacroEnv, resolveConditionals } from "../../src/compile/conditionals.js";
import { withoutTypes } from "../../src/compile/kernel_types.js";
import { emitMacros, macro, macroClosure, parseDefines } from "../../src/compile/macros.js";
import { byteColumnToCharColumn, byteToIndex } from "../../src/compile/offsets.js";
import { parseKconfig } from "../../src/kernel/kconfig.js";

const env = (defs: Record<string, string | [string[], string]> = {}): MacroEnv => ({
  macros: new Map(
    Object.entries(defs).map(([k, v]) => [
      k,
      typeof v === "string" ? { body: v } : { params: v[0], body: v[1] },
    ]),
  ),
  unknown: new Set(),
});

describe("macro table", () => {
  it("parses #defines with continuations and comments; #undef removes; the first definition wins", () => {
    const defs = parseDefines(
      [
        "#define A 1 /* one */",
        "#define F(x, y) ((x) + \\",
        "   (y)) // sum",
        "#define B",
        "#undef B",
        "#define A 2",
        '#define S "a ## b"',
      ].join("\n"),
      "t.h",
    );
    assert.deepEqual(
      defs.map((d) => [d.name, d.params, d.body]),
      [
        ["A", "", "1"],
        ["F", "(x, y)", "((x) + (y))"],
        ["S", "", '"a ## b"'],
      ],
    );
    assert.deepEqual(defs[1]?.deps, []);
  });

  it("takes what a program names and what those name, never numbers' letters or parameters", () => {
    const table = new Map(
      [
        macro("S_ISREG(m) (((m) & S_IFMT) == S_IFREG)", "u"),
        macro("S_IFMT 00170000", "u"),
        macro("S_IFREG 0100000", "u"),
        macro("ETH_P_IP 0x0800", "u"),
        macro("UNUSED 1", "u"),
      ].map((m) => [m?.name as string, m as NonNullable<typeof m>]),
    );
    assert.deepEqual(table.get("ETH_P_IP")?.deps, []);
    assert.deepEqual(
      macroClosure(table, ["S_ISREG", "ETH_P_IP", "mode"]).map((m) => m.name),
      ["ETH_P_IP", "S_IFMT", "S_IFREG", "S_ISREG"],
    );
  });

  it("a body that pastes tokens brings the macros it can paste to", () => {
    const table = new Map(
      [macro("IS_ON(o) __p(__on_##o)", "k"), macro("__p(x) x", "k"), macro("__on_1 0,", "k")].map((m) => [
        m?.name as string,
        m as NonNullable<typeof m>,
      ]),
    );
    assert.deepEqual(
      macroClosure(table, ["IS_ON"]).map((m) => m.name),
      ["IS_ON", "__on_1", "__p"],
    );
  });

  it("emits each macro only when it is not defined yet", () => {
    const m = macro("NAME_MAX 255", "linux/limits.h");
    assert.equal(emitMacros(m ? [m] : []), "#ifndef NAME_MAX\n#define NAME_MAX 255\n#endif");
  });
});

describe("#if conditions", () => {
  it("evaluates as the C preprocessor does: defined, arithmetic, function-like macros, unknown names as 0", () => {
    const e = env({
      LINUX_VERSION_CODE: "0x61200",
      KERNEL_VERSION: [["a", "b", "c"], "(((a) << 16) + ((b) << 8) + ((c) > 255 ? 255 : (c)))"],
      CONFIG_X: "1",
      CONFIG_M_MODULE: "1",
    });
    const t = (x: string): boolean => evaluateCondition(x, e);
    assert.equal(t("LINUX_VERSION_CODE >= KERNEL_VERSION(5, 14, 0)"), true);
    assert.equal(t("LINUX_VERSION_CODE < KERNEL_VERSION(5,11,0)"), false);
    assert.equal(t("defined(CONFIG_X) && !defined __s390x__"), true);
    assert.equal(t("NOT_DEFINED_ANYWHERE == 0"), true);
    assert.equal(t("0x10 >> 4 == 1 && 'a' == 97 && (3 ? 2 : 1) == 2 && -1 < 0 && 7 % 4 == 3"), true);
    assert.equal(t("IS_ENABLED(CONFIG_X) && IS_MODULE(CONFIG_M) && !IS_BUILTIN(CONFIG_M)"), true);
    assert.throws(() => t("__has_include(<linux/bpf.h>)"));
    assert.throws(() => t("1 / 0"));
  });

  it("blanks the branches clang will not compile, keeping every line; follows the program's own #defines", () => {
    const src = [
      "#define FULL 1",
      "#if defined(CONFIG_ARCH_HAS_SYSCALL_WRAPPER) && FULL",
      "int f(struct pt_regs *regs) {",
      "#else",
      "int f(int a) {",
      "#endif",
      "  return 0;",
      "}",
      "#ifdef NOPE",
      "#error no",
      "#elif FULL > 0",
      "int g;",
      "#endif",
    ].join("\n");
    const r = resolveConditionals(src, env({ CONFIG_ARCH_HAS_SYSCALL_WRAPPER: "1" }));
    assert.equal(r.text.split("\n").length, src.split("\n").length);
    assert.deepEqual(
      r.text.split("\n").filter((l) => l !== ""),
      ["#define FULL 1", "int f(struct pt_regs *regs) {", "  return 0;", "}", "int g;"],
    );
    assert.equal(r.decided, 2);
  });

  it("leaves a group it cannot decide to clang, and what a define inside it touches", () => {
    const src = [
      "#if __has_include(<x.h>)",
      "#define Y 1",
      "#endif",
      "#ifdef Y",
      "int a;",
      "#endif",
      "#if 1",
      "int b;",
      "#endif",
    ].join("\n");
    const r = resolveConditionals(src, env());
    assert.equal(r.text, src.replace("#if 1\n", "\n").replace("int b;\n#endif", "int b;\n"));
    assert.equal(r.undecided, 2);
    assert.equal(r.decided, 1);
  });

  it("CRLF lines and nested groups", () => {
    const src = "#if 0\r\n#if 1\r\nint x;\r\n#endif\r\n#else\r\nint y;\r\n#endif\r\n";
    const r = resolveConditionals(src, env());
    assert.equal(r.text.replace(/\r/g, "").split("\n").filter(Boolean).join("|"), "int y;");
    assert.equal(r.text.split("\n").length, src.split("\n").length);
  });

  it("computes in 64 bits and leaves what it cannot to clang (fuzzed)", () => {
    // `1 << 100000000000` threw "Maximum BigInt size exceeded"; 20000 nested
    // parentheses or `!`s overflowed the JS stack (both RangeErrors out of the compile).
    const e = env();
    assert.throws(() => evaluateCondition("1 << 100000000000", e), /shift by 100000000000/);
    assert.throws(() => evaluateCondition("1 << 64", e), /shift by 64/);
    assert.equal(evaluateCondition("0x7fffffffffffffff + 1 < 0", e), true, "intmax_t wraps");
    assert.equal(evaluateCondition("(1 << 62) * 4 == 0", e), true);
    for (const deep of [
      `${"(".repeat(3000)}1${")".repeat(3000)}`,
      `${"1 ? ".repeat(2000)}1${" : 0".repeat(2000)}`,
    ]) {
      assert.throws(() => evaluateCondition(deep, e), /nested deeper than/);
      const src = `#if ${deep}\nint a;\n#endif\n`;
      const r = resolveConditionals(src, e);
      assert.equal(r.text, src, "left as written for clang");
      assert.equal(r.undecided, 1);
    }
    assert.equal(
      evaluateCondition(`${"(".repeat(50)}1${")".repeat(50)}`, e),
      true,
      "ordinary nesting still evaluates",
    );
  });
});

describe("a program's own types", () => {
  const header = [
    "struct mnt_namespace {",
    "\tstruct ns_common ns;",
    "\tstruct {",
    "\t\tint a;",
    "\t};",
    "};",
    "",
    "typedef struct {",
    "\tint counter;",
    "} atomic_t;",
    "",
    "typedef int config;",
    "",
    "typedef void (*handler)(int);",
    "",
    "enum e {",
    "\tE1 = 1,",
    "};",
    "",
    "struct keep {",
    "\tstruct mnt_namespace *ns;",
    "};",
  ].join("\n");

  it("replace the kernel's: a struct becomes a forward declaration, typedefs and enums go", () => {
    const r = withoutTypes(header, [
      "struct mnt_namespace",
      "typedef atomic_t",
      "typedef config",
      "typedef handler",
      "enum e",
    ]);
    assert.deepEqual(r.removed.sort(), [
      "enum e",
      "struct mnt_namespace",
      "typedef atomic_t",
      "typedef config",
      "typedef handler",
    ]);
    assert.equal(
      r.header.split("\n").filter(Boolean).join("|"),
      "struct mnt_namespace;|struct keep {|\tstruct mnt_namespace *ns;|};",
    );
  });

  it("a struct some kernel type holds by value keeps the kernel's definition as X___kernel", () => {
    const h = [
      "struct trace_event {",
      "\tint type;",
      "};",
      "",
      "struct call {",
      "\tstruct trace_event event;",
      "\tstruct trace_event *p;",
      "};",
    ].join("\n");
    const r = withoutTypes(h, ["struct trace_event"]);
    assert.deepEqual(r.removed, ["struct trace_event"]);
    assert.equal(
      r.header,
      "struct trace_event___kernel {\n\tint type;\n};\n\nstruct call {\n\tstruct trace_event___kernel event;\n\tstruct trace_event___kernel *p;\n};",
    );
  });

  it("names that are not types the program defines change nothing", () => {
    assert.equal(withoutTypes(header, ["typedef keep", "union mnt_namespace"]).header, header);
  });
});

describe("the kernel configuration", () => {
  it("becomes autoconf.h's macros: y is 1, m is NAME_MODULE, values as written, n and unset are absent", () => {
    const k = parseKconfig(
      'CONFIG_A=y\nCONFIG_B=m\nCONFIG_C=42\nCONFIG_D="x"\n# CONFIG_E is not set\nCONFIG_F=n\n',
    );
    assert.deepEqual(
      [...k],
      [
        ["CONFIG_A", "1"],
        ["CONFIG_B_MODULE", "1"],
        ["CONFIG_C", "42"],
        ["CONFIG_D", '"x"'],
      ],
    );
  });
});

describe("offsets in text with non-ASCII characters", () => {
  it("maps clang's UTF-8 byte offsets to string indexes", () => {
    const text = "// 日本語 café 😀\nint x;";
    const at = byteToIndex(text);
    const bytes = Buffer.from(text, "utf8");
    const xByte = bytes.indexOf(Buffer.from("x;"));
    assert.equal(text[at(xByte)], "x");
    assert.equal(at(3), 3); // the first of 日's three bytes
    assert.equal(at(4), 3); // inside it
    assert.equal(byteToIndex("ascii")(3), 3);
  });

  it("turns a byte column into a character column", () => {
    const line = "/* 日本 */ int y = nope;";
    const byteCol = Buffer.from(line.slice(0, line.indexOf("nope")), "utf8").length + 1;
    assert.equal(byteColumnToCharColumn(line, byteCol), line.indexOf("nope") + 1);
    assert.equal(byteColumnToCharColumn("\tint x;", 2), 2);
  });
});
