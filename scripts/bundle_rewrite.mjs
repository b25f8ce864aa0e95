// Rewrites of esbuild's CommonJS bundles (scripts/bundle.mjs) that keep the
// bundle's source map true:
//  - sinkLazyFunctionEdits: the functions of a lazily evaluated module into the
//    module's init;
//  - rewriteBundle: the text edits, with the map's positions moved to match.
//
// Why sink: esbuild hoists every top-level function of every module to the
// bundle's top level, also those of a module it wraps in `__esm` (a module
// reached only by a dynamic import(): a command, a tool, an example), whose
// other statements it defers to the module's init. V8 creates a closure for
// each function declared at a script's top level when the script starts, and
// the code cache holds each one's SharedFunctionInfo. So every start paid
// for the functions of every tool and command (Node 20: ~1,040 functions in
// cli.cjs, 384 of them in modules that a warm `tsbpf printk-sample` never
// initializes). Sunk, such a module's functions are `var`s assigned at the
// start of its init, and exist once something initializes it.
//
// Why that is safe: esbuild calls a wrapped module's init before any code of
// another module uses what it exports (the importer's init calls it first;
// an import() resolves after it), and the functions are assigned first in
// the init, before it initializes the modules it imports. In an import
// cycle an init that has started returns at once when called again, and by
// then has assigned its functions, so even there none is reached unassigned;
// still, as a margin, the modules of a cycle of static imports (esbuild's
// metafile) keep their functions where esbuild put them.
import ts from "typescript";

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const B64_VALUE = new Map([...B64].map((c, i) => [c, i]));

/** A source map's segments, absolute: [genLine, genCol, src?, srcLine?, srcCol?, name?]. */
function decodeMappings(mappings) {
  const out = [];
  const state = [0, 0, 0, 0]; // src, srcLine, srcCol, name: relative across lines
  let line = 0;
  for (const lineText of mappings.split(";")) {
    let col = 0;
    if (lineText) {
      for (const seg of lineText.split(",")) {
        const fields = [];
        let value = 0;
        let shift = 0;
        for (const c of seg) {
          const digit = B64_VALUE.get(c);
          if (digit === undefined) throw new Error(`source map: bad mapping character ${c}`);
          value += (digit & 31) << shift;
          if (digit & 32) shift += 5;
          else {
            fields.push(value & 1 ? -(value >>> 1) : value >>> 1);
            value = 0;
            shift = 0;
          }
        }
        col += fields[0];
        const s = [line, col];
        for (let i = 1; i < fields.length; i++) {
          state[i - 1] += fields[i];
          s.push(state[i - 1]);
        }
        out.push(s);
      }
    }
    line++;
  }
  return out;
}

function vlq(n) {
  let v = n < 0 ? (-n << 1) | 1 : n << 1;
  let s = "";
  do {
    let digit = v & 31;
    v >>>= 5;
    if (v) digit |= 32;
    s += B64[digit];
  } while (v);
  return s;
}

function encodeMappings(segments) {
  let out = "";
  let line = 0;
  let col = 0;
  const state = [0, 0, 0, 0];
  let first = true;
  for (const s of segments) {
    while (line < s[0]) {
      out += ";";
      line++;
      col = 0;
      first = true;
    }
    if (!first) out += ",";
    first = false;
    out += vlq(s[1] - col);
    col = s[1];
    for (let i = 2; i < s.length; i++) {
      out += vlq(s[i] - state[i - 2]);
      state[i - 2] = s[i];
    }
  }
  return out;
}

function lineStarts(text) {
  const starts = [0];
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) starts.push(i + 1);
  return starts;
}

/** The last index i with a[i] <= x (a sorted ascending). */
function floorIndex(a, x, key = (v) => v) {
  let lo = 0;
  let hi = a.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (key(a[mid]) <= x) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/**
 * Applies edits to a bundle's text and moves its source map's positions with
 * them. An edit replaces [start, end) of the old text by a list of pieces, each
 * either a string (new text: no mapping) or [a, b), a range of the old text
 * copied there (its mappings follow it). Edits must not overlap.
 */
export function rewriteBundle(text, map, edits) {
  const sorted = [...edits].sort((x, y) => x.start - y.start);
  const pieces = [];
  let at = 0;
  for (const e of sorted) {
    if (e.start < at) throw new Error("bundle rewrite: overlapping edits");
    if (e.start > at) pieces.push([at, e.start]);
    pieces.push(...e.pieces);
    at = e.end;
  }
  if (at < text.length) pieces.push([at, text.length]);
  // Where each copied range lands in the new text.
  let out = "";
  const placed = []; // [oldStart, oldEnd, newStart]
  for (const p of pieces) {
    if (typeof p === "string") out += p;
    else {
      placed.push([p[0], p[1], out.length]);
      out += text.slice(p[0], p[1]);
    }
  }
  placed.sort((x, y) => x[0] - y[0]);
  if (map === undefined) return { text: out, map };
  const oldStarts = lineStarts(text);
  const newStarts = lineStarts(out);
  const segments = [];
  for (const s of decodeMappings(map.mappings)) {
    const offset = (oldStarts[s[0]] ?? text.length) + s[1];
    const i = floorIndex(placed, offset, (r) => r[0]);
    const r = placed[i];
    if (r === undefined || offset < r[0] || offset >= r[1]) continue; // in text that was removed or replaced
    const moved = r[2] + (offset - r[0]);
    const line = floorIndex(newStarts, moved);
    segments.push([line, moved - newStarts[line], ...s.slice(2)]);
  }
  segments.sort((x, y) => x[0] - y[0] || x[1] - y[1]);
  return { text: out, map: { ...map, mappings: encodeMappings(segments) } };
}

/** The modules in an import cycle of static imports (Tarjan's strongly connected components). */
function modulesInCycles(metafile) {
  const edges = new Map();
  for (const [path, input] of Object.entries(metafile.inputs))
    edges.set(
      path,
      input.imports.filter((i) => i.kind === "import-statement" && !i.external).map((i) => i.path),
    );
  const index = new Map();
  const low = new Map();
  const stack = [];
  const onStack = new Set();
  const cyclic = new Set();
  let next = 0;
  const visit = (v) => {
    // (iterative: the import graph is deep enough to matter for recursion)
    const frames = [[v, 0]];
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    while (frames.length) {
      const frame = frames[frames.length - 1];
      const [u, k] = frame;
      const out = edges.get(u) ?? [];
      if (k < out.length) {
        frame[1]++;
        const w = out[k];
        if (!index.has(w)) {
          index.set(w, next);
          low.set(w, next++);
          stack.push(w);
          onStack.add(w);
          frames.push([w, 0]);
        } else if (onStack.has(w)) low.set(u, Math.min(low.get(u), index.get(w)));
        continue;
      }
      frames.pop();
      if (frames.length) {
        const p = frames[frames.length - 1][0];
        low.set(p, Math.min(low.get(p), low.get(u)));
      }
      if (low.get(u) === index.get(u)) {
        const component = [];
        let w;
        do {
          w = stack.pop();
          onStack.delete(w);
          component.push(w);
        } while (w !== u);
        if (component.length > 1 || out.includes(u)) for (const m of component) cyclic.add(m);
      }
    }
  };
  for (const v of edges.keys()) if (!index.has(v)) visit(v);
  return cyclic;
}

/** The source a map's sources entry names, as a module key: "src/compile/compile" for "../../src/compile/compile.ts". */
function moduleKey(path) {
  return path
    .replace(/^(\.\.\/)+/, "")
    .replace(/^dist\//, "")
    .replace(/\.(ts|js|mjs|cjs)$/, "");
}

/**
 * The edits that sink each wrapped module's functions into its init (see the
 * top of this file), for a bundle written as Node's module wrapper
 * (scripts/bundle.mjs's wrappedBundle). Returns the edits and a count.
 */
export function sinkLazyFunctionEdits(text, map, metafile) {
  const sf = ts.createSourceFile("bundle.js", text, ts.ScriptTarget.Latest, true, ts.ScriptKind.JS);
  let wrapper = sf.statements[0] && ts.isExpressionStatement(sf.statements[0]) && sf.statements[0].expression;
  while (wrapper && ts.isParenthesizedExpression(wrapper)) wrapper = wrapper.expression;
  if (!wrapper || !ts.isFunctionExpression(wrapper))
    throw new Error("sinkLazyFunctionEdits: the bundle is not written as a module wrapper");
  const cyclic = new Set([...modulesInCycles(metafile)].map(moduleKey));
  // Which module each top-level function comes from: the source of its first mapping.
  const starts = lineStarts(text);
  const segments = decodeMappings(map.mappings)
    .filter((s) => s.length >= 3)
    .map((s) => [(starts[s[0]] ?? text.length) + s[1], s[2]]);
  const sourceAt = (start, end) => {
    const i = floorIndex(segments, start, (s) => s[0]);
    const s = segments[i];
    return s && s[0] >= start && s[0] < end ? moduleKey(map.sources[s[1]]) : undefined;
  };

  const edits = [];
  let sunk = 0;
  let pending = [];
  for (const statement of wrapper.body.statements) {
    if (ts.isFunctionDeclaration(statement) && statement.name && statement.body) {
      pending.push(statement);
      continue;
    }
    const init = ts.isVariableStatement(statement) && lazyInit(statement);
    if (init && !cyclic.has(init.module)) {
      const mine = pending.filter((f) => sourceAt(f.getStart(sf), f.end) === init.module);
      if (mine.length) {
        for (const f of mine) edits.push({ start: f.getStart(sf), end: f.end, pieces: [] });
        const names = mine.map((f) => f.name.text);
        edits.push({ start: statement.getStart(sf), end: statement.getStart(sf), pieces: [`var ${names.join(",")};`] });
        const assigned = [];
        for (const f of mine) {
          // `f=function (…){…}` (or `async function`, `function*`): the declaration's own text
          // less its name; an anonymous function assigned to a name takes it as its `name`
          assigned.push(`${f.name.text}=`);
          assigned.push([f.getStart(sf), f.name.getStart(sf)]);
          assigned.push([f.name.end, f.end]);
          assigned.push(";");
        }
        edits.push({ start: init.bodyAt, end: init.bodyAt, pieces: assigned });
        sunk += mine.length;
      }
    }
    pending = [];
  }
  return { edits, sunk };

  /** `var …,init_x=__esm({"path"(){…}})`: the module's key and where its init's statements start (after its directives). */
  function lazyInit(statement) {
    for (const d of statement.declarationList.declarations) {
      const call = d.initializer;
      if (!call || !ts.isCallExpression(call) || !ts.isIdentifier(call.expression) || call.expression.text !== "__esm")
        continue;
      const [arg] = call.arguments;
      if (!arg || !ts.isObjectLiteralExpression(arg) || arg.properties.length !== 1) continue;
      const method = arg.properties[0];
      if (!ts.isMethodDeclaration(method) || !ts.isStringLiteral(method.name) || !method.body) continue;
      let bodyAt = method.body.getStart(sf) + 1;
      for (const s of method.body.statements) {
        if (ts.isExpressionStatement(s) && ts.isStringLiteral(s.expression)) bodyAt = s.end;
        else break;
      }
      return { module: moduleKey(method.name.text), bodyAt };
    }
    return undefined;
  }
}
