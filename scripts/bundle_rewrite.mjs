// Rewrites of esbuild's CommonJS bundles (scripts/bundle.mjs) that keep the
// bundle's source map true:
//  - lazyModuleEdits: the functions and namespace getters of a lazily
//    evaluated module moved into the module's init, and the modules marked
//    `// @init-at-first-use` initialized at the first use of what they declare;
//  - rewriteBundle: the text edits, with the map's positions moved to match.
//
// Why sink: esbuild hoists every top-level function of every module to the
// bundle's top level, also those of a module it wraps in `__esm` (a module
// reached only by a dynamic import(): a command, a tool, an example), whose
// other statements it defers to the module's init; a wrapped module's
// namespace (`__export(m_exports,{a:()=>a,…})`, what its import() resolves
// to) is filled there too. V8 creates a closure for each function declared
// at a script's top level when the script starts, and the code cache holds
// each one's SharedFunctionInfo. So every start paid for the functions of
// every tool and command (Node 20: ~1,040 functions and ~420 getters in
// cli.cjs, most of them in modules that a warm `tsbpf printk-sample` never
// initializes). Sunk, such a module's functions are `var`s assigned at the
// start of its init, and its getters are made there, first.
//
// Why that is safe: esbuild calls a wrapped module's init before any code of
// another module uses what it exports (the importer's init calls it first;
// an import() resolves after it), and the functions are assigned first in
// the init, before it initializes the modules it imports. In an import
// cycle an init that has started returns at once when called again, and by
// then has assigned its functions, so even there none is reached unassigned;
// still, as a margin, the modules of a cycle of static imports (esbuild's
// metafile) keep their functions where esbuild put them.
//
// Why initialize at first use: an ES module's static imports are evaluated
// before it, whether or not what it imports is ever called, so a start
// evaluated every module a class can reach: `BPF` reaches 88 of the
// library's 89 (uprobes, USDT, XDP, iterators, the compile pipeline,
// profiles, metrics), and a warm `printk-sample` initialized 107 modules to
// use about 60. A module marked `// @init-at-first-use` (a line of its
// TypeScript source) is no longer initialized by its importers' inits: each
// use of one of its bindings outside its own statements becomes
// `(init_m(),binding)`, which initializes it then (an init runs once, and
// returns at once after), the same value and, for a call, the same `this`
// (undefined). This is what TC39's `import defer` proposes, for a module
// whose importers need its bindings only in functions they call later.
//
// Why that is safe for a marked module: its evaluation moves from its
// importers' to its first use, or to never, so it must have no effect that
// another module relies on. The build checks that its top level only assigns
// its bindings (an import, a constant, a class, a function) and initializes
// what it imports, and refuses anything else (a call made for its effect, a
// loop, a condition), and refuses a module in an import cycle. What its
// bindings are, and which identifiers elsewhere name them rather than a
// local of the same name, TypeScript's binder answers. A use in a hot loop
// costs a call that returns at once; the marked modules are the ones a
// start does not need (`printk-sample` initializes 60 modules, `execsnoop`
// 46).
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
 * copied there (its mappings follow it). Edits must not overlap, but for those
 * marked `within`: such an edit applies inside the old text wherever it lands,
 * kept in place or copied by another edit's piece (an identifier of a function
 * that another edit moves), and must lie inside exactly one such copy.
 */
export function rewriteBundle(text, map, edits) {
  const outer = edits.filter((e) => !e.within).sort((x, y) => x.start - y.start);
  const within = edits.filter((e) => e.within).sort((x, y) => x.start - y.start);
  const copied = [];
  let at = 0;
  for (const e of outer) {
    if (e.start < at) throw new Error("bundle rewrite: overlapping edits");
    if (e.start > at) copied.push([at, e.start]);
    copied.push(...e.pieces);
    at = e.end;
  }
  if (at < text.length) copied.push([at, text.length]);
  // The `within` edits, applied to the copies of the old text they fall in.
  const pieces = [];
  const applied = new Set();
  for (const p of copied) {
    if (typeof p === "string") {
      pieces.push(p);
      continue;
    }
    let from = p[0];
    for (let i = floorIndex(within, p[0], (e) => e.start); i < within.length; i++) {
      const e = within[i];
      if (e.start < p[0]) continue;
      if (e.start >= p[1]) break;
      if (e.end > p[1] || e.start < from) throw new Error("bundle rewrite: an edit within crosses a copied range or another edit");
      if (applied.has(e)) throw new Error("bundle rewrite: an edit within falls in text copied twice");
      applied.add(e);
      if (e.start > from) pieces.push([from, e.start]);
      pieces.push(...e.pieces);
      from = e.end;
    }
    if (from < p[1]) pieces.push([from, p[1]]);
  }
  if (applied.size !== within.length) throw new Error("bundle rewrite: an edit within falls in text that was removed");
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

/** The comment that marks a module as initialized at the first use of what it exports (see the top of this file). */
export const INIT_AT_FIRST_USE = /^\/\/ @init-at-first-use\b/m;

/**
 * The edits of a bundle written as Node's module wrapper (scripts/bundle.mjs's
 * wrappedBundle), for its lazily evaluated modules (see the top of this file):
 *  - each one's functions and its exports' getters sunk into its init;
 *  - each module of `initAtFirstUse` (module keys: "src/attach/uprobe")
 *    initialized at the first use of what it declares, not by its importers.
 * Returns the edits and what they did.
 */
export function lazyModuleEdits(text, map, metafile, initAtFirstUse = []) {
  const sf = ts.createSourceFile("/bundle.js", text, ts.ScriptTarget.Latest, true, ts.ScriptKind.JS);
  const wrapper = moduleWrapper(sf, "lazyModuleEdits");
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

  // The lazy modules, each with the top-level statements esbuild wrote for it:
  // its `var m_exports={};__export(m_exports,{…})`, its functions, and the
  // `var …,init_m=__esm({…})` that declares its bindings and holds its init.
  // Other statements may sit among them (a CommonJS dependency's wrapper), so
  // a module's own are told by its source map (functions) and its names.
  const lazy = new Map();
  let chunk = [];
  for (const statement of wrapper.body.statements) {
    chunk.push(statement);
    const init = ts.isVariableStatement(statement) && lazyInit(statement);
    if (!init) continue;
    const m = { ...init, statement, own: [statement], functions: [], exported: [], declarations: new Map() };
    for (const d of statement.declarationList.declarations) if (ts.isIdentifier(d.name)) m.declarations.set(d.name.text, d.name);
    // esbuild names a module's namespace after its file: `uprobe_exports`, `uprobe_exports2`
    const namespace = new RegExp(`^${m.module.split("/").pop().replace(/[^\w$]/g, "_")}_exports\\d*$`);
    for (const s of chunk) {
      if (ts.isFunctionDeclaration(s) && s.name && s.body && sourceAt(s.getStart(sf), s.end) === m.module) {
        m.functions.push(s);
        m.declarations.set(s.name.text, s.name);
        m.own.push(s);
      }
      const filled = exportCall(s);
      const ns = filled ?? exportsObject(s);
      if (ns === undefined || !namespace.test(ns)) continue;
      m.own.push(s);
      if (filled !== undefined) m.exported.push(s);
      else m.declarations.set(ns, s.declarationList.declarations[0].name);
    }
    m.own.sort((a, b) => a.pos - b.pos);
    lazy.set(m.module, m);
    chunk = [];
  }

  // Which of each module's bindings are used outside its own statements, and
  // the modules initialized at first use (see the top of this file).
  const deferred = [];
  for (const key of initAtFirstUse) {
    const m = lazy.get(key);
    if (m === undefined) continue; // evaluated eagerly in this bundle: nothing to defer
    if (cyclic.has(key)) throw new Error(`${key}: marked @init-at-first-use, but it is in an import cycle`);
    checkNoEffects(m);
    const d = { module: key, init: m.initName, edits: [], uses: 0, initCalls: 0 };
    m.deferred = d;
    deferred.push(d);
  }
  const usedOutside = bindingUses();

  const edits = [];
  let sunk = 0;
  let exportsSunk = 0;
  let localized = 0;
  for (const m of lazy.values()) {
    if (cyclic.has(m.module)) continue;
    const { functions, exported } = m;
    // A binding nothing outside the module's own statements uses is declared
    // in its init (whose statements, after the moves below, are all those that
    // use it): the bundle's top-level scope, which V8 builds and the code
    // cache holds whole at every start, keeps only the bindings shared.
    const initDecl = m.statement.declarationList.declarations.at(-1);
    const declaredHere = initDecl?.name.text === m.initName;
    const isLocal = (decl) => !usedOutside.has(decl);
    const local = [];
    const shared = [];
    if (declaredHere)
      for (const d of m.statement.declarationList.declarations.slice(0, -1))
        (ts.isIdentifier(d.name) && !d.initializer && isLocal(d.name) ? local : shared).push(d.getText(sf));
    const localFunctions = functions.filter((f) => isLocal(f.name)).map((f) => f.name.text);
    const sharedFunctions = functions.filter((f) => !isLocal(f.name)).map((f) => f.name.text);
    local.push(...localFunctions);
    if (!functions.length && !exported.length && !local.length) continue;
    // before the init's statement: its shared functions' names, and its own
    // declarations less the local ones
    const before = sharedFunctions.length ? [`var ${sharedFunctions.join(",")};`] : [];
    const start = m.statement.getStart(sf);
    if (declaredHere && local.length > localFunctions.length)
      edits.push({ start, end: initDecl.getStart(sf), pieces: [...before, `var ${shared.map((t) => `${t},`).join("")}`] });
    else if (before.length) edits.push({ start, end: start, pieces: before });
    const atInit = local.length ? [`var ${local.join(",")};`] : [];
    // `__export(m_exports,{a:()=>a,…})`: the getters are made when the module
    // initializes, first in its init, before anything can read them (an importer
    // reads a namespace after calling the init; import() resolves after it)
    for (const s of exported) {
      edits.push({ start: s.getStart(sf), end: s.end, pieces: [] });
      atInit.push([s.getStart(sf), s.end]);
    }
    for (const f of functions) {
      edits.push({ start: f.getStart(sf), end: f.end, pieces: [] });
      // `f=function (…){…}` (or `async function`, `function*`): the declaration's own text
      // less its name; an anonymous function assigned to a name takes it as its `name`
      atInit.push(`${f.name.text}=`, [f.getStart(sf), f.name.getStart(sf)], [f.name.end, f.end], ";");
    }
    edits.push({ start: m.bodyAt, end: m.bodyAt, pieces: atInit });
    sunk += functions.length;
    exportsSunk += exported.length;
    localized += local.length;
  }
  return { edits: [...edits, ...deferred.flatMap((d) => d.edits)], sunk, exportsSunk, localized, deferred };

  /**
   * One pass over the bundle's identifiers: the declarations (of the lazy
   * modules' bindings) that something outside their module's own statements
   * uses; and for a module initialized at first use, each such use made to
   * call its init first (`f(x)` becomes `(init_m(),f)(x)`: the same call,
   * `this` is undefined either way), and its importers' calls of its init
   * dropped. Which identifiers name a binding, and not a local of the same
   * name, TypeScript's binder answers.
   */
  function bindingUses() {
    const options = { allowJs: true, noLib: true, noResolve: true, types: [] };
    const host = {
      ...ts.createCompilerHost(options),
      getSourceFile: (f) => (f === sf.fileName ? sf : undefined),
      fileExists: (f) => f === sf.fileName,
      readFile: () => undefined,
    };
    const checker = ts.createProgram([sf.fileName], options, host).getTypeChecker();
    const owner = new Map(); // a binding's symbol: [its module, its declaration]
    const byName = new Map();
    const inits = new Map(); // init_m: the module's deferral
    const initBodies = new Set([...lazy.values()].map((m) => m.body));
    for (const m of lazy.values()) {
      if (cyclic.has(m.module)) continue;
      for (const [name, decl] of m.declarations) {
        // (init_m itself is called, never wrapped, and stays where esbuild declared it)
        if (name === m.initName) continue;
        owner.set(checker.getSymbolAtLocation(decl), [m, decl]);
        byName.set(name, m);
      }
      if (m.deferred) inits.set(m.initName, m.deferred);
    }
    const outside = new Set();
    const visit = (node) => {
      if (ts.isIdentifier(node)) {
        const m = byName.get(node.text);
        if (m && !m.own.some((s) => node.pos >= s.pos && node.end <= s.end)) use(node, m);
      } else if (ts.isCallExpression(node) && ts.isIdentifier(node.expression) && node.arguments.length === 0) {
        const d = inits.get(node.expression.text);
        if (d && isInitStatement(node)) removeInitCall(node, d);
      }
      ts.forEachChild(node, visit);
    };
    visit(wrapper.body);
    return outside;

    function use(id, m) {
      const p = id.parent;
      const shorthand = ts.isShorthandPropertyAssignment(p) && p.name === id;
      const symbol = shorthand ? checker.getShorthandAssignmentValueSymbol(p) : checker.getSymbolAtLocation(id);
      const found = symbol && owner.get(symbol);
      if (!found || found[0] !== m) return;
      outside.add(found[1]);
      const d = m.deferred;
      if (d === undefined) return;
      // `(init_m(),m_exports)`, as esbuild writes an import(): already initialized
      if (ts.isBinaryExpression(p) && p.right === id && p.operatorToken.kind === ts.SyntaxKind.CommaToken) {
        const l = p.left;
        if (ts.isCallExpression(l) && ts.isIdentifier(l.expression) && l.expression.text === d.init) return;
      }
      const at = id.getStart(sf);
      const wrapped = `(${d.init}(),${id.text})`;
      d.edits.push({
        start: at,
        end: id.end,
        within: true,
        pieces: shorthand ? [[at, id.end], `:${wrapped}`] : [`(${d.init}(),`, [at, id.end], ")"],
      });
      d.uses++;
    }

    /** `init_m();` among an init's (or the bundle's) own statements, where an importer initializes what it imports. */
    function isInitStatement(call) {
      let e = call;
      while (ts.isBinaryExpression(e.parent) && e.parent.operatorToken.kind === ts.SyntaxKind.CommaToken) e = e.parent;
      const s = e.parent;
      if (!ts.isExpressionStatement(s)) return false;
      const block = s.parent;
      return block === wrapper.body || initBodies.has(block);
    }

    function removeInitCall(call, d) {
      const s = call.parent;
      const whole = ts.isExpressionStatement(s);
      d.edits.push({
        start: whole ? s.getStart(sf) : call.getStart(sf),
        end: whole ? s.end : call.end,
        within: true,
        pieces: whole ? [] : ["0"],
      });
      d.initCalls++;
    }
  }

  /**
   * A module initialized at first use must have no effect that another module
   * relies on: its top level only assigns its bindings (an import, a constant, a
   * class, a function) and initializes what it imports. A statement that calls
   * something for its effect (`process.on(…)`, registering itself somewhere)
   * would run late or never, so the build refuses it.
   */
  function checkNoEffects(m) {
    for (const s of m.body.statements.slice(m.directives)) {
      const parts = [];
      const flatten = (e) => {
        if (ts.isBinaryExpression(e) && e.operatorToken.kind === ts.SyntaxKind.CommaToken) {
          flatten(e.left);
          flatten(e.right);
        } else parts.push(e);
      };
      if (ts.isExpressionStatement(s)) flatten(s.expression);
      const effect = !ts.isExpressionStatement(s)
        ? s
        : parts.find(
            (e) =>
              !(
                (ts.isBinaryExpression(e) &&
                  e.operatorToken.kind === ts.SyntaxKind.EqualsToken &&
                  ts.isIdentifier(e.left)) ||
                (ts.isCallExpression(e) &&
                  ts.isIdentifier(e.expression) &&
                  (e.expression.text === "__name" || (e.expression.text.startsWith("init_") && e.arguments.length === 0)))
              ),
          );
      if (effect !== undefined)
        throw new Error(
          `${m.module}: marked @init-at-first-use, but its top level runs \`${effect.getText(sf).slice(0, 80)}\`, which may have an effect another module relies on`,
        );
    }
  }

  /** `var m_exports={}`: the namespace's name. */
  function exportsObject(s) {
    if (!ts.isVariableStatement(s) || s.declarationList.declarations.length !== 1) return undefined;
    const d = s.declarationList.declarations[0];
    return ts.isIdentifier(d.name) && d.initializer && ts.isObjectLiteralExpression(d.initializer) && d.initializer.properties.length === 0
      ? d.name.text
      : undefined;
  }

  /** `__export(m_exports,{…})`: the namespace's name. */
  function exportCall(s) {
    if (!ts.isExpressionStatement(s) || !ts.isCallExpression(s.expression)) return undefined;
    const c = s.expression;
    if (!ts.isIdentifier(c.expression) || c.expression.text !== "__export" || !c.arguments[0]) return undefined;
    return ts.isIdentifier(c.arguments[0]) ? c.arguments[0].text : undefined;
  }

  /** `var …,init_x=__esm({"path"(){…}})`: the module's key, its init, where its init's statements start (after its directives). */
  function lazyInit(statement) {
    for (const d of statement.declarationList.declarations) {
      const init = esmInit(d, sf);
      if (init)
        return {
          module: moduleKey(init.method.name.text),
          initName: d.name.text,
          body: init.method.body,
          bodyAt: init.bodyAt,
          directives: init.directives,
        };
    }
    return undefined;
  }
}

/** The function esbuild wraps a bundle in (Node's module wrapper, scripts/bundle.mjs); throws for another shape. */
function moduleWrapper(sf, who) {
  let wrapper = sf.statements[0] && ts.isExpressionStatement(sf.statements[0]) && sf.statements[0].expression;
  while (wrapper && ts.isParenthesizedExpression(wrapper)) wrapper = wrapper.expression;
  if (!wrapper || !ts.isFunctionExpression(wrapper)) throw new Error(`${who}: the bundle is not written as a module wrapper`);
  return wrapper;
}

/**
 * A declaration `init_x=__esm({"path"(){…}})`: its call, the init method, and
 * where the init's statements start (after its directives); undefined for
 * any other declaration.
 */
function esmInit(d, sf) {
  const call = d.initializer;
  if (!ts.isIdentifier(d.name) || !call || !ts.isCallExpression(call) || !ts.isIdentifier(call.expression)) return undefined;
  if (call.expression.text !== "__esm" || call.arguments.length !== 1) return undefined;
  const [arg] = call.arguments;
  if (!ts.isObjectLiteralExpression(arg) || arg.properties.length !== 1) return undefined;
  const method = arg.properties[0];
  if (!ts.isMethodDeclaration(method) || !ts.isStringLiteral(method.name) || !method.body) return undefined;
  let bodyAt = method.body.getStart(sf) + 1;
  let directives = 0;
  for (const s of method.body.statements) {
    if (!ts.isExpressionStatement(s) || !ts.isStringLiteral(s.expression)) break;
    bodyAt = s.end;
    directives++;
  }
  return { call, method, bodyAt, directives };
}

/**
 * esbuild's init of a lazily evaluated module, `var …,init_m=__esm({"path"(){…}})`,
 * made a function declaration, `function init_m(){"use strict";init_m=__initDone;…}`.
 *
 * Why: `__esm` makes, for each wrapped module, when the bundle starts, an
 * object literal, its method (the init) and the closure it returns, with a
 * context for that closure's two variables: ~140 bytes of the young
 * generation for each of cli.cjs's ~300 modules (~40 KB), whether the
 * module ever runs or not, and an object literal's boilerplate in the code
 * cache for each. A declared function is one closure, of the bundle's own
 * context. A warm start's young generation fills (1 MB, Node 20) about when
 * its first row is printed, and the scavenge that follows takes ~3 ms.
 *
 * Why it is the same: `__esm`'s closure calls the method once, with no
 * `this`, and forgets it before the call (an init called again while it
 * runs, in an import cycle, returns at once; one that threw is not run
 * again); the declared function replaces itself, first, with one that
 * returns at once, and is called as `init_m()` (strict code: no `this`).
 * Its value is undefined either way (an ES module's init returns nothing;
 * a top-level await, which would make it async, cannot be bundled as
 * CommonJS). A declaration is hoisted, so the init exists before its
 * statement is reached; nothing calls it there (esbuild's order), and if
 * something did, it would have failed before.
 */
export function initFunctionEdits(text) {
  const sf = ts.createSourceFile("/bundle.js", text, ts.ScriptTarget.Latest, true, ts.ScriptKind.JS);
  const wrapper = moduleWrapper(sf, "initFunctionEdits");
  const helper = "var __esm=(fn,res)=>function(){return fn&&(res=(0,fn[__getOwnPropNames(fn)[0]])(fn=0)),res};";
  const edits = [];
  let inits = 0;
  for (const statement of wrapper.body.statements) {
    if (!ts.isVariableStatement(statement)) continue;
    const decls = statement.declarationList.declarations;
    decls.forEach((d, i) => {
      const init = esmInit(d, sf);
      if (!init) return;
      const { call, method, bodyAt } = init;
      const name = d.name.text;
      if (method.parameters.length > 0 || method.asteriskToken || method.modifiers?.length)
        throw new Error(`initFunctionEdits: ${name} is not a plain init (parameters, async or a generator)`);
      // `var a,init_m=__esm({"p"(){` becomes `var a;function init_m(){`
      const before = i === 0 ? statement.getStart(sf) : decls[i - 1].end;
      edits.push({ start: before, end: method.body.getStart(sf) + 1, pieces: [i === 0 ? "" : ";", `function ${name}(){`] });
      edits.push({ start: bodyAt, end: bodyAt, pieces: [`${name}=__initDone;`] });
      // `}})` of the method, the object and the call; a declaration after it starts a `var` again
      const after = i + 1 < decls.length ? decls[i + 1].getStart(sf) : call.end;
      edits.push({ start: method.body.end, end: after, pieces: [i + 1 < decls.length ? "var " : ""] });
      inits++;
    });
  }
  if (inits > 0) {
    const at = text.indexOf(helper);
    if (at < 0 || text.indexOf(helper, at + 1) >= 0)
      throw new Error("initFunctionEdits: esbuild's __esm helper is not the one this rewrites; update it");
    edits.push({ start: at, end: at + helper.length, pieces: [helper, "function __initDone(){}"] });
  }
  return { edits, inits };
}
