/**
 * A small Itanium C++ ABI demangler, for symbol names in stack traces
 * (bcc demangles by default). It prints what GNU c++filt prints for what it
 * covers: nested and local names, templates (with parameter packs),
 * substitutions, constructors and destructors, operators, ABI tags, lambdas,
 * function, array and member pointers, integer literals, special names
 * (vtables, typeinfo, thunks, guard variables) and clone suffixes
 * (" [clone .constprop.0]"). Expressions in templates (decltype, sizeof...),
 * vendor qualifiers, vector types and other rarities are not covered: for
 * those, and for anything malformed, the mangled name comes back unchanged.
 */

type Node =
  | { k: "name"; s: string }
  | { k: "nested"; prefix: Node; name: Node }
  | { k: "tmpl"; name: Node; args: Node[] }
  | { k: "qual"; inner: Node; q: string }
  | { k: "ptr"; inner: Node; sym: "*" | "&" | "&&" }
  | { k: "func"; ret: Node; params: Node[]; cv: string; ref: string }
  | { k: "array"; inner: Node; dim: string }
  | { k: "ptrmem"; cls: Node; inner: Node }
  | { k: "enc"; ret: Node | undefined; name: Node; params: Node[]; cv: string; ref: string }
  | { k: "special"; prefix: string; inner: Node }
  | { k: "ctorvt"; a: Node; b: Node }
  | { k: "pack"; elems: Node[] }
  | { k: "expand"; inner: Node }
  | { k: "local"; enc: Node; entity: Node }
  | { k: "abi"; inner: Node; tag: string }
  | { k: "ctor"; base: string; dtor: boolean }
  | { k: "lambda"; params: Node[]; n: number }
  | { k: "std"; full: string; base: string }
  | { k: "tparam"; idx: number };

class Unsupported extends Error {}

function fail(): never {
  throw new Unsupported();
}

const VOID: Node = { k: "name", s: "void" };

const BUILTINS: Record<string, string> = {
  w: "wchar_t",
  b: "bool",
  c: "char",
  a: "signed char",
  h: "unsigned char",
  s: "short",
  t: "unsigned short",
  i: "int",
  j: "unsigned int",
  l: "long",
  m: "unsigned long",
  x: "long long",
  y: "unsigned long long",
  n: "__int128",
  o: "unsigned __int128",
  f: "float",
  d: "double",
  e: "long double",
  g: "__float128",
  z: "...",
};

const D_BUILTINS: Record<string, string> = {
  n: "decltype(nullptr)",
  i: "char32_t",
  s: "char16_t",
  u: "char8_t",
  a: "auto",
  c: "decltype(auto)",
  d: "decimal64",
  e: "decimal128",
  f: "decimal32",
  h: "half",
};

const OPERATORS: Record<string, string> = {
  nw: "new",
  na: "new[]",
  dl: "delete",
  da: "delete[]",
  ps: "+",
  ng: "-",
  ad: "&",
  de: "*",
  co: "~",
  pl: "+",
  mi: "-",
  ml: "*",
  dv: "/",
  rm: "%",
  an: "&",
  or: "|",
  eo: "^",
  aS: "=",
  pL: "+=",
  mI: "-=",
  mL: "*=",
  dV: "/=",
  rM: "%=",
  aN: "&=",
  oR: "|=",
  eO: "^=",
  ls: "<<",
  rs: ">>",
  lS: "<<=",
  rS: ">>=",
  eq: "==",
  ne: "!=",
  lt: "<",
  gt: ">",
  le: "<=",
  ge: ">=",
  ss: "<=>",
  nt: "!",
  aa: "&&",
  oo: "||",
  pp: "++",
  mm: "--",
  cm: ",",
  pm: "->*",
  pt: "->",
  cl: "()",
  ix: "[]",
  qu: "?",
  aw: "co_await",
};

// The standard abbreviations, as c++filt prints them (in full: DMGL_VERBOSE),
// and their constructor/destructor names.
const STD_SUBS: Record<string, { full: string; base: string }> = {
  a: { full: "std::allocator", base: "allocator" },
  b: { full: "std::basic_string", base: "basic_string" },
  s: { full: "std::basic_string<char, std::char_traits<char>, std::allocator<char> >", base: "basic_string" },
  i: { full: "std::basic_istream<char, std::char_traits<char> >", base: "basic_istream" },
  o: { full: "std::basic_ostream<char, std::char_traits<char> >", base: "basic_ostream" },
  d: { full: "std::basic_iostream<char, std::char_traits<char> >", base: "basic_iostream" },
};

interface NameInfo {
  node: Node;
  /** The name ends in template args (so a function has its return type encoded). */
  template: boolean;
  /** A constructor, destructor or conversion operator (no return type even when templated). */
  noReturn: boolean;
  cv: string;
  ref: string;
}

class Parser {
  private i = 0;
  private readonly subs: Node[] = [];

  constructor(private readonly s: string) {}

  private peek(o = 0): string {
    return this.s[this.i + o] ?? "";
  }

  private eat(str: string): boolean {
    if (this.s.startsWith(str, this.i)) {
      this.i += str.length;
      return true;
    }
    return false;
  }

  private expect(str: string): void {
    if (!this.eat(str)) fail();
  }

  get pos(): number {
    return this.i;
  }

  private number(): number {
    const neg = this.eat("n");
    const start = this.i;
    while (/[0-9]/.test(this.peek())) this.i++;
    if (this.i === start) fail();
    const v = Number(this.s.slice(start, this.i));
    return neg ? -v : v;
  }

  private seqId(): number {
    // Base-36 with digits and upper-case letters; "_" alone means 0.
    if (this.eat("_")) return 0;
    let v = 0;
    const start = this.i;
    while (/[0-9A-Z]/.test(this.peek())) {
      const c = this.peek();
      v = v * 36 + (c <= "9" ? c.charCodeAt(0) - 48 : c.charCodeAt(0) - 55);
      this.i++;
    }
    if (this.i === start) fail();
    this.expect("_");
    return v + 1;
  }

  private sourceName(): string {
    const start = this.i;
    while (/[0-9]/.test(this.peek())) this.i++;
    if (start === this.i) fail();
    const len = Number(this.s.slice(start, this.i));
    if (len <= 0 || this.i + len > this.s.length) fail();
    const id = this.s.slice(this.i, this.i + len);
    this.i += len;
    if (id.startsWith("_GLOBAL_") && /^_GLOBAL_[._$]N/.test(id)) return "(anonymous namespace)";
    return id;
  }

  /** <mangled-name> without the "_Z". */
  encoding(): Node {
    if (this.peek() === "T" || this.peek() === "G") return this.specialName();
    const info = this.name(true);
    const end = this.peek();
    if (end === "" || end === "E" || end === ".") return info.node;
    let ret: Node | undefined;
    if (info.template && !info.noReturn) ret = this.type();
    const params = this.bareParams();
    return { k: "enc", ret, name: info.node, params, cv: info.cv, ref: info.ref };
  }

  private bareParams(): Node[] {
    const params: Node[] = [];
    while (this.i < this.s.length && this.peek() !== "E" && this.peek() !== ".") params.push(this.type());
    if (params.length === 0) fail();
    return params;
  }

  private specialName(): Node {
    const two = this.s.slice(this.i, this.i + 2);
    const simple: Record<string, string> = {
      TV: "vtable for ",
      TT: "VTT for ",
      TI: "typeinfo for ",
      TS: "typeinfo name for ",
    };
    const prefix = simple[two];
    if (prefix !== undefined) {
      this.i += 2;
      return { k: "special", prefix, inner: this.type() };
    }
    if (two === "TH" || two === "TW") {
      this.i += 2;
      const p = two === "TH" ? "TLS init function for " : "TLS wrapper function for ";
      return { k: "special", prefix: p, inner: this.name(false).node };
    }
    if (two === "GV") {
      this.i += 2;
      return { k: "special", prefix: "guard variable for ", inner: this.name(false).node };
    }
    if (this.eat("GTt")) return { k: "special", prefix: "transaction clone for ", inner: this.encoding() };
    if (two === "Th" || two === "Tv") {
      this.i += 1;
      this.callOffset();
      const p = two === "Th" ? "non-virtual thunk to " : "virtual thunk to ";
      return { k: "special", prefix: p, inner: this.encoding() };
    }
    if (this.eat("Tc")) {
      this.callOffset();
      this.callOffset();
      return { k: "special", prefix: "covariant return thunk to ", inner: this.encoding() };
    }
    if (this.eat("TC")) {
      const a = this.type();
      this.number();
      this.expect("_");
      const b = this.type();
      return { k: "ctorvt", a, b };
    }
    fail();
  }

  private callOffset(): void {
    if (this.eat("h")) {
      this.number();
      this.expect("_");
    } else if (this.eat("v")) {
      this.number();
      this.expect("_");
      this.number();
      this.expect("_");
    } else fail();
  }

  private name(top: boolean): NameInfo {
    const c = this.peek();
    if (c === "N") return this.nestedName(top);
    if (c === "Z") return this.localName(top);
    if (c === "S" && this.peek(1) !== "t") {
      const sub = this.substitution();
      if (this.peek() !== "I") fail();
      const args = this.templateArgs(top);
      return { node: { k: "tmpl", name: sub, args }, template: true, noReturn: false, cv: "", ref: "" };
    }
    // <unscoped-name> [<template-args>]
    let node: Node;
    let noReturn = false;
    if (this.eat("St")) {
      this.eat("L");
      const u = this.unqualified();
      noReturn = u.noReturn;
      node = { k: "nested", prefix: { k: "name", s: "std" }, name: u.node };
    } else {
      this.eat("L");
      const u = this.unqualified();
      noReturn = u.noReturn;
      node = u.node;
    }
    if (this.peek() === "I") {
      this.subs.push(node);
      const args = this.templateArgs(top);
      return { node: { k: "tmpl", name: node, args }, template: true, noReturn, cv: "", ref: "" };
    }
    return { node, template: false, noReturn, cv: "", ref: "" };
  }

  private nestedName(top: boolean): NameInfo {
    this.expect("N");
    let cv = "";
    if (this.eat("r")) cv += " restrict";
    if (this.eat("V")) cv += " volatile";
    if (this.eat("K")) cv += " const";
    // c++filt prints const first.
    cv = [" const", " volatile", " restrict"].filter((q) => cv.includes(q)).join("");
    let ref = "";
    if (this.eat("R")) ref = " &";
    else if (this.eat("O")) ref = " &&";
    let so: Node | undefined;
    let template = false;
    let noReturn = false;
    const push = (n: Node) => {
      so = so === undefined ? n : { k: "nested", prefix: so, name: n };
    };
    let pushed = 0;
    while (!this.eat("E")) {
      if (this.i >= this.s.length) fail();
      this.eat("L");
      const c = this.peek();
      template = false;
      // Template args keep what the name before them was (a templated constructor has no return type).
      if (c !== "I") noReturn = false;
      if (c === "T") {
        push(this.templateParam());
        this.subs.push(so as Node);
      } else if (c === "I") {
        if (so === undefined) fail();
        so = { k: "tmpl", name: so, args: this.templateArgs(top) };
        template = true;
        this.subs.push(so);
      } else if (c === "S" && this.peek(1) === "t") {
        this.i += 2;
        if (so !== undefined) fail();
        so = { k: "name", s: "std" };
        continue;
      } else if (c === "S") {
        const sub = this.substitution();
        if (so === undefined) so = sub;
        else {
          push(sub);
          this.subs.push(sub);
        }
        pushed++;
        continue;
      } else if (
        c === "C" ||
        (c === "D" && this.peek(1) !== "C" && this.peek(1) !== "t" && this.peek(1) !== "T")
      ) {
        if (so === undefined) fail();
        push(this.ctorDtor(so));
        so = this.abiTags(so);
        noReturn = true;
        this.subs.push(so);
      } else {
        const u = this.unqualified();
        noReturn = u.noReturn;
        push(u.node);
        this.subs.push(so as Node);
      }
      pushed++;
    }
    if (so === undefined || pushed === 0) fail();
    // The full name is not a substitution candidate here (a type's is, via type()).
    if (this.subs[this.subs.length - 1] === so) this.subs.pop();
    return { node: so, template, noReturn, cv, ref };
  }

  private localName(top: boolean): NameInfo {
    this.expect("Z");
    const enc = this.encoding();
    this.expect("E");
    if (this.eat("s")) {
      this.discriminator();
      return {
        node: { k: "local", enc, entity: { k: "name", s: "string literal" } },
        template: false,
        noReturn: false,
        cv: "",
        ref: "",
      };
    }
    if (this.peek() === "d") fail();
    const inner = this.name(top);
    this.discriminator();
    return { ...inner, node: { k: "local", enc, entity: inner.node } };
  }

  private discriminator(): void {
    if (this.peek() !== "_") return;
    if (this.eat("__")) {
      this.number();
      this.expect("_");
    } else {
      this.i++;
      if (!/[0-9]/.test(this.peek())) fail();
      this.i++;
    }
  }

  private ctorDtor(prefix: Node): Node {
    const base = baseName(prefix);
    if (this.eat("C")) {
      if (this.peek() === "I") fail();
      if (!/[1-5]/.test(this.peek())) fail();
      this.i++;
      return { k: "ctor", base, dtor: false };
    }
    this.expect("D");
    if (!/[0-5]/.test(this.peek())) fail();
    this.i++;
    return { k: "ctor", base, dtor: true };
  }

  private abiTags(n: Node): Node {
    let out = n;
    while (this.eat("B")) out = { k: "abi", inner: out, tag: this.sourceName() };
    return out;
  }

  private unqualified(): { node: Node; noReturn: boolean } {
    const c = this.peek();
    let node: Node;
    let noReturn = false;
    if (/[0-9]/.test(c)) node = { k: "name", s: this.sourceName() };
    else if (c === "U") {
      if (this.eat("Ut")) {
        const n = this.peek() === "_" ? 1 : this.number() + 2;
        this.expect("_");
        node = { k: "name", s: `{unnamed type#${n}}` };
      } else if (this.eat("Ul")) {
        const params: Node[] = [];
        while (!this.eat("E")) {
          if (this.i >= this.s.length) fail();
          params.push(this.type());
        }
        const n = this.peek() === "_" ? 1 : this.number() + 2;
        this.expect("_");
        node = { k: "lambda", params, n };
      } else fail();
    } else if (/[a-z]/.test(c)) {
      const two = this.s.slice(this.i, this.i + 2);
      if (two === "cv") {
        this.i += 2;
        node = { k: "name", s: `operator ${printNode(this.type())}` };
        noReturn = true;
      } else if (two === "li") {
        this.i += 2;
        node = { k: "name", s: `operator"" ${this.sourceName()}` };
      } else {
        const op = OPERATORS[two];
        if (op === undefined) fail();
        this.i += 2;
        node = { k: "name", s: /^[a-z]/.test(op) ? `operator ${op}` : `operator${op}` };
      }
    } else fail();
    return { node: this.abiTags(node), noReturn };
  }

  private substitution(): Node {
    this.expect("S");
    const c = this.peek();
    const std = STD_SUBS[c];
    if (std !== undefined) {
      this.i++;
      return { k: "std", full: std.full, base: std.base };
    }
    const id = this.seqId();
    const n = this.subs[id];
    if (n === undefined) fail();
    return n;
  }

  private templateParam(): Node {
    this.expect("T");
    const idx = this.peek() === "_" ? 0 : this.number() + 1;
    this.expect("_");
    // Resolved when printed, against the template being printed (as libiberty does).
    return { k: "tparam", idx };
  }

  private templateArgs(top: boolean): Node[] {
    this.expect("I");
    const args: Node[] = [];
    while (!this.eat("E")) {
      if (this.i >= this.s.length) fail();
      args.push(this.templateArg());
    }
    void top;
    return args;
  }

  private templateArg(): Node {
    const c = this.peek();
    if (c === "X") fail();
    if (c === "L") return this.literal();
    if (c === "J") {
      this.i++;
      const elems: Node[] = [];
      while (!this.eat("E")) {
        if (this.i >= this.s.length) fail();
        elems.push(this.templateArg());
      }
      return { k: "pack", elems };
    }
    return this.type();
  }

  private literal(): Node {
    this.expect("L");
    if (this.eat("_Z") || this.eat("Z")) {
      const e = this.encoding();
      this.expect("E");
      return e;
    }
    const t = this.peek();
    if (BUILTINS[t] !== undefined && t !== "z") {
      this.i++;
      const neg = this.eat("n");
      const start = this.i;
      while (/[0-9]/.test(this.peek())) this.i++;
      if (start === this.i) fail();
      const digits = (neg ? "-" : "") + this.s.slice(start, this.i);
      this.expect("E");
      const suffix: Record<string, string> = { i: "", j: "u", l: "l", m: "ul", x: "ll", y: "ull" };
      if (t === "b") {
        if (digits === "0") return { k: "name", s: "false" };
        if (digits === "1") return { k: "name", s: "true" };
        fail();
      }
      if (t === "f" || t === "d" || t === "e" || t === "g") fail();
      const sfx = suffix[t];
      return { k: "name", s: sfx !== undefined ? digits + sfx : `(${BUILTINS[t]})${digits}` };
    }
    if (t === "D") fail();
    const type = this.type();
    const neg = this.eat("n");
    const start = this.i;
    while (/[0-9]/.test(this.peek())) this.i++;
    if (start === this.i) fail();
    const digits = (neg ? "-" : "") + this.s.slice(start, this.i);
    this.expect("E");
    return { k: "name", s: `(${printNode(type)})${digits}` };
  }

  private functionType(): Node {
    this.expect("F");
    this.eat("Y");
    const ret = this.type();
    const params: Node[] = [];
    let ref = "";
    for (;;) {
      if (this.eat("E")) break;
      if (this.eat("RE")) {
        ref = " &";
        break;
      }
      if (this.eat("OE")) {
        ref = " &&";
        break;
      }
      if (this.i >= this.s.length) fail();
      params.push(this.type());
    }
    return { k: "func", ret, params, cv: "", ref };
  }

  type(): Node {
    const c = this.peek();
    const b = BUILTINS[c];
    if (b !== undefined) {
      this.i++;
      return c === "v" ? VOID : { k: "name", s: b };
    }
    if (c === "v") {
      this.i++;
      return VOID;
    }
    let result: Node;
    switch (c) {
      case "r":
      case "V":
      case "K": {
        let quals = "";
        if (this.eat("r")) quals += "r";
        if (this.eat("V")) quals += "V";
        if (this.eat("K")) quals += "K";
        // Qualifiers before a function type apply to "this": the unqualified
        // function type is not a substitution candidate (libiberty).
        const inner = this.peek() === "F" ? this.functionType() : this.type();
        const q =
          (quals.includes("K") ? " const" : "") +
          (quals.includes("V") ? " volatile" : "") +
          (quals.includes("r") ? " restrict" : "");
        result = inner.k === "func" ? { ...inner, cv: q + inner.cv } : { k: "qual", inner, q };
        break;
      }
      case "P":
        this.i++;
        result = { k: "ptr", inner: this.type(), sym: "*" };
        break;
      case "R":
        this.i++;
        result = { k: "ptr", inner: this.type(), sym: "&" };
        break;
      case "O":
        this.i++;
        result = { k: "ptr", inner: this.type(), sym: "&&" };
        break;
      case "F":
        result = this.functionType();
        break;
      case "A": {
        this.i++;
        let dim = "";
        if (/[0-9]/.test(this.peek())) dim = String(this.number());
        else if (this.peek() !== "_") fail();
        this.expect("_");
        result = { k: "array", inner: this.type(), dim };
        break;
      }
      case "M": {
        this.i++;
        const cls = this.type();
        result = { k: "ptrmem", cls, inner: this.type() };
        break;
      }
      case "T": {
        if (/[a-z]/.test(this.peek(1))) fail();
        result = this.templateParam();
        if (this.peek() === "I") {
          this.subs.push(result);
          result = { k: "tmpl", name: result, args: this.templateArgs(false) };
        }
        break;
      }
      case "D": {
        const d = this.peek(1);
        if (d === "p") {
          this.i += 2;
          result = { k: "expand", inner: this.type() };
          break;
        }
        const db = D_BUILTINS[d];
        if (db !== undefined) {
          this.i += 2;
          return { k: "name", s: db };
        }
        fail();
        break;
      }
      case "u": {
        this.i++;
        result = { k: "name", s: this.sourceName() };
        break;
      }
      case "S": {
        if (this.peek(1) !== "t") {
          const sub = this.substitution();
          if (this.peek() !== "I") return sub;
          result = { k: "tmpl", name: sub, args: this.templateArgs(false) };
          break;
        }
        result = this.name(false).node;
        break;
      }
      default: {
        if (/[0-9NZ]/.test(c)) {
          result = this.name(false).node;
          break;
        }
        fail();
      }
    }
    this.subs.push(result);
    return result;
  }
}

function baseName(n: Node): string {
  switch (n.k) {
    case "name":
      return n.s;
    case "nested":
      return baseName(n.name);
    case "tmpl":
      return baseName(n.name);
    case "abi":
      return baseName(n.inner);
    case "std":
      return n.base;
    default:
      fail();
  }
}

// --- printing ----------------------------------------------------------------

const EMPTY: Node = { k: "name", s: "" };

/**
 * libiberty's list printing: items joined by ", ", where the ", " before the
 * rest of the list is taken back when the rest printed nothing. So trailing
 * empty items (empty packs) vanish, but a leading or middle one leaves ", , ".
 */
function joinList(parts: string[]): { text: string; dropped: boolean } {
  let end = parts.length;
  while (end > 1 && parts[end - 1] === "") end--;
  return { text: parts.slice(0, end).join(", "), dropped: end < parts.length };
}

/** The template whose arguments a function's T_ refer to: its name, or a local name's entity, when templated. */
function templateFrame(name: Node): Node[] | undefined {
  const t = name.k === "local" ? name.entity : name;
  return t.k === "tmpl" ? t.args : undefined;
}

type Frames = readonly Node[][];

class Printer {
  out = "";
  /** Template argument lists of the functions being printed, innermost last. */
  templates: Frames = [];
  packIndex: number | undefined;
  packMax: number | undefined;
  /** Inside a lambda's parameter list, where T_ is a generic lambda's "auto:N". */
  lambdaArgs = 0;

  /**
   * Follows template parameters to their arguments (inside a pack expansion,
   * to the current element of a pack), returning the node and the template
   * stack to print it with: an argument is printed in its template's context.
   */
  resolve(n: Node, st: Frames = this.templates): { n: Node; st: Frames } {
    let cur = n;
    let frames = st;
    for (let guard = 0; cur.k === "tparam"; guard++) {
      if (guard > 64) fail();
      if (this.lambdaArgs > 0) return { n: { k: "name", s: `auto:${cur.idx + 1}` }, st: frames };
      const top = frames[frames.length - 1];
      if (!top) fail();
      let a = top[cur.idx];
      if (a === undefined) fail();
      frames = frames.slice(0, -1);
      if (a.k === "pack" && this.packIndex !== undefined) {
        if (this.packMax === undefined) this.packMax = a.elems.length;
        a = a.elems[this.packIndex] ?? EMPTY;
      }
      cur = a;
    }
    return { n: cur, st: frames };
  }

  /** The node under any qualifiers, resolved. */
  core(n: Node, st: Frames = this.templates): Node {
    let r = this.resolve(n, st);
    while (r.n.k === "qual") r = this.resolve(r.n.inner, r.st);
    return r.n;
  }

  hasRHS(n: Node, st: Frames = this.templates): boolean {
    const r = this.resolve(n, st);
    if (r.n.k === "array" || r.n.k === "func") return true;
    if (r.n.k === "ptr" || r.n.k === "qual" || r.n.k === "ptrmem") return this.hasRHS(r.n.inner, r.st);
    return false;
  }

  private within(st: Frames, fn: () => void): void {
    const saved = this.templates;
    this.templates = st;
    try {
      fn();
    } finally {
      this.templates = saved;
    }
  }

  print(n: Node): void {
    this.left(n);
    this.right(n);
  }

  str(n: Node): string {
    const saved = this.out;
    this.out = "";
    this.print(n);
    const s = this.out;
    this.out = saved;
    return s;
  }

  params(ps: Node[]): string {
    if (ps.length === 1 && ps[0] === VOID) return "()";
    return `(${joinList(ps.map((p) => this.str(p))).text})`;
  }

  /** A reference's target after reference collapsing (& + && = &), resolved. */
  private refTarget(n: Node & { k: "ptr" }): { sym: string; n: Node; st: Frames } {
    let sym: string = n.sym;
    let r = this.resolve(n.inner);
    if (sym !== "*") {
      while (r.n.k === "ptr" && r.n.sym !== "*") {
        if (r.n.sym === "&") sym = "&";
        r = this.resolve(r.n.inner, r.st);
      }
    }
    return { sym, n: r.n, st: r.st };
  }

  left(n0: Node): void {
    const r = this.resolve(n0);
    if (r.st !== this.templates) this.within(r.st, () => this.leftOf(r.n));
    else this.leftOf(r.n);
  }

  right(n0: Node): void {
    const r = this.resolve(n0);
    if (r.st !== this.templates) this.within(r.st, () => this.rightOf(r.n));
    else this.rightOf(r.n);
  }

  private leftOf(n: Node): void {
    switch (n.k) {
      case "name":
        this.out += n.s;
        return;
      case "nested":
        this.print(n.prefix);
        this.out += "::";
        this.print(n.name);
        return;
      case "tmpl": {
        this.print(n.name);
        const list = joinList(n.args.map((a) => this.str(a)));
        if (this.out.endsWith("<")) this.out += " ";
        this.out += `<${list.text}`;
        // libiberty spaces "> >"; after a trailing empty pack its last
        // character is the space of the ", " it took back, so it does not.
        const last = list.dropped ? " " : this.out.slice(-1);
        this.out += last === ">" ? " >" : ">";
        return;
      }
      case "qual": {
        // A qualifier the (resolved) type already has is printed once.
        let have = "";
        let r = this.resolve(n.inner);
        while (r.n.k === "qual") {
          have += r.n.q;
          r = this.resolve(r.n.inner, r.st);
        }
        this.left(n.inner);
        for (const q of n.q.split(" ")) if (q !== "" && !have.split(" ").includes(q)) this.out += ` ${q}`;
        return;
      }
      case "ptr": {
        const t = this.refTarget(n);
        this.within(t.st, () => {
          this.left(t.n);
          const c = this.core(t.n);
          if (c.k === "array") this.out += " (";
          else if (c.k === "func") this.out += "(";
        });
        this.out += t.sym;
        return;
      }
      case "func":
        this.left(n.ret);
        if (!this.hasRHS(n.ret)) this.out += " ";
        return;
      case "array":
        this.left(n.inner);
        return;
      case "ptrmem": {
        this.left(n.inner);
        const c = this.core(n.inner);
        this.out += c.k === "array" || c.k === "func" ? "(" : " ";
        this.print(n.cls);
        this.out += "::*";
        return;
      }
      case "enc": {
        // The whole function, under its template's arguments.
        const frame = templateFrame(n.name);
        const body = () => {
          if (n.ret) {
            this.left(n.ret);
            if (!this.hasRHS(n.ret)) this.out += " ";
          }
          this.print(n.name);
          this.out += this.params(n.params);
          if (n.ret) this.right(n.ret);
          this.out += n.cv + n.ref;
        };
        if (frame) this.within([...this.templates, frame], body);
        else body();
        return;
      }
      case "special":
        this.out += n.prefix;
        this.print(n.inner);
        return;
      case "ctorvt":
        this.out += `construction vtable for ${this.str(n.b)}-in-${this.str(n.a)}`;
        return;
      case "pack":
        this.out += joinList(n.elems.map((e) => this.str(e))).text;
        return;
      case "expand": {
        const savedI = this.packIndex;
        const savedM = this.packMax;
        try {
          this.packIndex = 0;
          this.packMax = undefined;
          const first = this.str(n.inner);
          const max = this.packMax;
          if (max === undefined) fail();
          const parts: string[] = max > 0 ? [first] : [];
          for (let i = 1; i < max; i++) {
            this.packIndex = i;
            parts.push(this.str(n.inner));
          }
          this.out += joinList(parts).text;
        } finally {
          this.packIndex = savedI;
          this.packMax = savedM;
        }
        return;
      }
      case "local":
        // c++filt leaves out the enclosing function's return type.
        this.print(n.enc.k === "enc" ? { ...n.enc, ret: undefined } : n.enc);
        this.out += "::";
        this.print(n.entity);
        return;
      case "abi":
        this.print(n.inner);
        this.out += `[abi:${n.tag}]`;
        return;
      case "ctor":
        this.out += (n.dtor ? "~" : "") + n.base;
        return;
      case "lambda":
        this.lambdaArgs++;
        try {
          this.out += `{lambda${this.params(n.params.length === 0 ? [VOID] : n.params)}#${n.n}}`;
        } finally {
          this.lambdaArgs--;
        }
        return;
      case "std":
        // c++filt prints these in full (DMGL_VERBOSE).
        this.out += n.full;
        return;
      case "tparam":
        fail();
    }
  }

  private rightOf(n: Node): void {
    switch (n.k) {
      case "qual":
        this.right(n.inner);
        return;
      case "ptr": {
        const t = this.refTarget(n);
        this.within(t.st, () => {
          const c = this.core(t.n);
          if (c.k === "array" || c.k === "func") this.out += ")";
          this.right(t.n);
        });
        return;
      }
      case "ptrmem": {
        const c = this.core(n.inner);
        if (c.k === "array" || c.k === "func") this.out += ")";
        this.right(n.inner);
        return;
      }
      case "func":
        this.out += this.params(n.params);
        this.right(n.ret);
        this.out += n.cv + n.ref;
        return;
      case "array":
        if (!this.out.endsWith("]")) this.out += " ";
        this.out += `[${n.dim}]`;
        this.right(n.inner);
        return;
      default:
        return;
    }
  }
}

function printNode(n: Node): string {
  return new Printer().str(n);
}

const CLONE = /^\.(?:[a-z_]+|[0-9]+)(?:\.[0-9]+)*/;

const memo = new Map<string, string>();
const MEMO_MAX = 50_000;

/**
 * Demangles an Itanium C++ ABI name ("_ZN3foo3barEi" → "foo::bar(int)"), as
 * c++filt prints it. Anything else (C names, or constructs this small
 * demangler does not cover) is returned unchanged.
 */
export function demangle(name: string): string {
  if (!name.startsWith("_Z")) return name;
  const hit = memo.get(name);
  if (hit !== undefined) return hit;
  let out = name;
  try {
    const p = new Parser(name.slice(2));
    const node = p.encoding();
    let text = printNode(node);
    let rest = name.slice(2 + p.pos);
    while (rest !== "") {
      const m = CLONE.exec(rest);
      if (!m) fail();
      text += ` [clone ${m[0]}]`;
      rest = rest.slice(m[0].length);
    }
    out = text;
  } catch (err) {
    if (!(err instanceof Unsupported) && !(err instanceof RangeError)) throw err;
  }
  if (memo.size >= MEMO_MAX) memo.clear();
  memo.set(name, out);
  return out;
}
