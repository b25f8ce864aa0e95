import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { BpfError } from "../../src/kernel/errors.js";
import { escapeXml, flameGraphSvg, frameKind, parseFolded } from "../../src/profile/flamegraph.js";

// A strict little XML reader: enough of XML 1.0 to reject what a browser's
// XML parser rejects in an SVG (unbalanced or crossed tags, a raw "<" or a
// bare "&" in text or attribute values, unquoted or duplicate attributes,
// characters XML cannot hold, anything after the root), and to give back a
// tree the tests can query and the viewer script can run against.

class El {
  readonly children: Array<El | string> = [];
  parent: El | undefined;
  readonly listeners = new Map<string, (e: unknown) => void>();
  constructor(
    readonly tagName: string,
    readonly attrs: Map<string, string>,
  ) {}
  getAttribute(a: string): string | null {
    return this.attrs.get(a) ?? null;
  }
  setAttribute(a: string, v: string): void {
    this.attrs.set(a, String(v));
  }
  get parentNode(): El | undefined {
    return this.parent;
  }
  get textContent(): string {
    return this.children.map((c) => (typeof c === "string" ? c : c.textContent)).join("");
  }
  set textContent(v: string) {
    this.children.length = 0;
    this.children.push(String(v));
  }
  elements(): El[] {
    const out: El[] = [];
    const walk = (e: El): void => {
      for (const c of e.children)
        if (typeof c !== "string") {
          out.push(c);
          walk(c);
        }
    };
    walk(this);
    return out;
  }
  getElementsByTagName(t: string): El[] {
    return this.elements().filter((e) => e.tagName === t);
  }
  child(t: string): El {
    const c = this.children.find((x): x is El => typeof x !== "string" && x.tagName === t);
    assert.ok(c, `<${this.tagName}> has no <${t}>`);
    return c;
  }
  get classList() {
    const get = (): string[] => (this.attrs.get("class") ?? "").split(/\s+/).filter(Boolean);
    const set = (l: string[]): void => void this.attrs.set("class", l.join(" "));
    return {
      contains: (c: string) => get().includes(c),
      add: (...cs: string[]) => set([...new Set([...get(), ...cs])]),
      remove: (...cs: string[]) => set(get().filter((x) => !cs.includes(x))),
    };
  }
  addEventListener(type: string, fn: (e: unknown) => void): void {
    this.listeners.set(type, fn);
  }
}

const NAME = /^[A-Za-z_:][-A-Za-z0-9_:.]*/;
const ENTITY = /^&(?:amp|lt|gt|quot|apos|#[0-9]+|#x[0-9a-fA-F]+);/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: what XML 1.0 forbids
const FORBIDDEN = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/;

function decode(s: string, where: string): string {
  let out = "";
  for (let i = 0; i < s.length; ) {
    const c = s[i] as string;
    if (c === "<") throw new Error(`raw "<" in ${where}`);
    if (c === "&") {
      const m = ENTITY.exec(s.slice(i));
      if (!m) throw new Error(`bare "&" in ${where}: ${s.slice(i, i + 20)}`);
      const e = m[0].slice(1, -1);
      const named: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };
      out +=
        named[e] ??
        String.fromCodePoint(e.startsWith("#x") ? Number.parseInt(e.slice(2), 16) : Number(e.slice(1)));
      i += m[0].length;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

function parseXml(xml: string): El {
  assert.ok(!FORBIDDEN.test(xml), "a character XML 1.0 forbids");
  assert.ok(
    !/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(xml),
    "lone surrogate",
  );
  let i = 0;
  const top = new El("#document", new Map());
  const stack: El[] = [top];
  let root: El | undefined;
  const cur = (): El => stack[stack.length - 1] as El;
  const skip = (re: RegExp): void => {
    const m = re.exec(xml.slice(i, i + 200));
    if (m && m.index === 0) i += m[0].length;
  };
  if (xml.startsWith("<?xml")) {
    const end = xml.indexOf("?>");
    assert.ok(end > 0, "unterminated XML declaration");
    i = end + 2;
  }
  while (i < xml.length) {
    if (xml.startsWith("<![CDATA[", i)) {
      const end = xml.indexOf("]]>", i);
      assert.ok(end > 0, "unterminated CDATA");
      assert.ok(stack.length > 1, "CDATA outside the root");
      cur().children.push(xml.slice(i + 9, end));
      i = end + 3;
    } else if (xml.startsWith("<!--", i)) {
      const end = xml.indexOf("-->", i);
      assert.ok(end > 0, "unterminated comment");
      i = end + 3;
    } else if (xml.startsWith("</", i)) {
      i += 2;
      const m = NAME.exec(xml.slice(i));
      assert.ok(m, `bad end tag at ${i}`);
      i += m[0].length;
      skip(/^\s*/);
      assert.equal(xml[i], ">", `bad end tag </${m[0]} at ${i}`);
      i++;
      const open = stack.pop();
      assert.ok(open && open !== top, `</${m[0]}> closes nothing`);
      assert.equal(open.tagName, m[0], `<${open.tagName}> closed by </${m[0]}>`);
    } else if (xml[i] === "<") {
      i++;
      const m = NAME.exec(xml.slice(i));
      assert.ok(m, `bad start tag at ${i}: ${xml.slice(i, i + 30)}`);
      i += m[0].length;
      const attrs = new Map<string, string>();
      for (;;) {
        const ws = /^\s*/.exec(xml.slice(i, i + 100))?.[0].length ?? 0;
        i += ws;
        if (xml.startsWith("/>", i) || xml[i] === ">") break;
        assert.ok(ws > 0, `attributes of <${m[0]}> not separated at ${i}`);
        const a = NAME.exec(xml.slice(i, i + 100));
        assert.ok(a, `bad attribute in <${m[0]}> at ${i}: ${xml.slice(i, i + 30)}`);
        i += a[0].length;
        assert.equal(xml[i], "=", `attribute ${a[0]} without a value`);
        const q = xml[i + 1];
        assert.ok(q === '"' || q === "'", `attribute ${a[0]} not quoted`);
        const end = xml.indexOf(q, i + 2);
        assert.ok(end > 0, `unterminated attribute ${a[0]}`);
        assert.ok(!attrs.has(a[0]), `duplicate attribute ${a[0]}`);
        attrs.set(a[0], decode(xml.slice(i + 2, end), `attribute ${a[0]}`));
        i = end + 1;
      }
      const el = new El(m[0], attrs);
      if (stack.length === 1) {
        assert.equal(root, undefined, "a second root element");
        root = el;
      }
      el.parent = cur();
      cur().children.push(el);
      if (xml.startsWith("/>", i)) i += 2;
      else {
        i++;
        stack.push(el);
      }
    } else {
      const end = xml.indexOf("<", i);
      const text = xml.slice(i, end < 0 ? xml.length : end);
      if (stack.length === 1) assert.match(text, /^\s*$/, "text outside the root");
      else cur().children.push(decode(text, `text of <${cur().tagName}>`));
      i = end < 0 ? xml.length : end;
    }
  }
  assert.equal(stack.length, 1, `unclosed <${cur().tagName}>`);
  assert.ok(root, "no root element");
  return root;
}

interface Frame {
  g: El;
  name: string;
  title: string;
  x: number;
  y: number;
  width: number;
  depth: number;
  label: string;
  fill: string;
}

function frames(svg: El): Frame[] {
  return svg.getElementsByTagName("g").flatMap((g) => {
    if (g.getAttribute("data-d") === null) return [];
    const title = g.child("title").textContent;
    const rect = g.child("rect");
    return [
      {
        g,
        title,
        name: title.slice(0, title.lastIndexOf(" (")),
        x: Number(rect.getAttribute("x")),
        y: Number(rect.getAttribute("y")),
        width: Number(rect.getAttribute("width")),
        depth: Number(g.getAttribute("data-d")),
        label: g.child("text").textContent,
        fill: rect.getAttribute("fill") ?? "",
      },
    ];
  });
}

const one = (fs: Frame[], name: string, depth?: number): Frame => {
  const m = fs.filter((f) => f.name === name && (depth === undefined || f.depth === depth));
  assert.equal(m.length, 1, `${m.length} frames named ${JSON.stringify(name)}`);
  return m[0] as Frame;
};

const near = (a: number, b: number, what: string): void =>
  assert.ok(Math.abs(a - b) < 0.02, `${what}: ${a} is not ${b}`);

const S = (folded: string, value: number | bigint) => ({ frames: folded.split(";"), value });

describe("parseFolded", () => {
  it("reads frames, spaces in names, fractions, CRLF, blank lines and a trailing newline", () => {
    const text =
      "bash;main;read line 12\r\n\nnode;JS:*foo /app/x.js:3;Builtin: CallFunction 3.5\npython3 1\n";
    assert.deepEqual(parseFolded(text), [
      { frames: ["bash", "main", "read line"], value: 12 },
      { frames: ["node", "JS:*foo /app/x.js:3", "Builtin: CallFunction"], value: 3.5 },
      { frames: ["python3"], value: 1 },
    ]);
    assert.deepEqual(parseFolded(""), []);
    assert.deepEqual(parseFolded("\n\n"), []);
  });

  it("names the line of a malformed line", () => {
    const text = "a;b 1\n\nc;d\n";
    assert.throws(
      () => parseFolded(text),
      (e: unknown) => e instanceof BpfError && /line 3\b/.test(e.message) && e.message.includes('"c;d"'),
    );
    assert.throws(() => parseFolded("a;b 1\n 12\n"), /line 2\b/);
    assert.throws(() => parseFolded("a;b -4"), /line 1\b/);
  });
});

describe("flameGraphSvg", () => {
  it("is well-formed XML and escapes every special character in names", () => {
    const names = [
      "std::vector<int, std::allocator<int> >::push_back(int const&)",
      `say "hi" & 'bye'`,
      "ext4_file_read_iter_[k]",
      "données_été_函数",
      "emoji_😀_frame",
      "a]]>b",
    ];
    const xml = flameGraphSvg(
      names.map((n, i) => ({ frames: ["app", n], value: i + 1 })),
      { title: 'Title <&> "x"', subtitle: "sub & <title>", countName: "u<s>" },
    );
    assert.ok(xml.startsWith('<?xml version="1.0"'));
    const svg = parseXml(xml);
    assert.equal(svg.tagName, "svg");
    assert.equal(svg.getAttribute("xmlns"), "http://www.w3.org/2000/svg");
    const fs = frames(svg);
    for (const n of names) {
      one(fs, n, 2);
      assert.ok(xml.includes(escapeXml(n)), `${n} is not in the SVG escaped`);
    }
    assert.ok(!xml.includes("std::vector<int"), "a raw < from a name");
    assert.equal(
      svg.getElementsByTagName("text").find((t) => t.getAttribute("id") === "title")?.textContent,
      'Title <&> "x"',
    );
    assert.match(one(fs, "a]]>b").title, /^a\]\]>b \(6 u<s>, \d+\.\d\d%\)$/);
    assert.doesNotMatch(xml.replace(/<script>[\s\S]*<\/script>/, ""), /NaN|Infinity|undefined/);
    // No external resources.
    assert.doesNotMatch(xml, /href=|xlink:|@import|url\((?!#)/);
    assert.equal(svg.getElementsByTagName("script").length, 1);
    assert.equal(svg.getElementsByTagName("style").length, 1);
  });

  it("replaces characters XML cannot hold and keeps UTF-8", () => {
    assert.equal(escapeXml("a\u0001b\u0000c\ud800d\tπ😀"), "a\ufffdb\ufffdc\ufffdd\tπ😀");
    assert.equal(escapeXml(`<&>"'`), "&lt;&amp;&gt;&quot;&apos;");
    const svg = parseXml(flameGraphSvg([S("bad\u0007name;x\udfff", 1)]));
    one(frames(svg), "bad\ufffdname");
    one(frames(svg), "x\ufffd");
  });

  it("makes widths proportional to values", () => {
    const svg = parseXml(flameGraphSvg([S("main;a", 10), S("main;b", 20), S("main;c", 70)], { width: 1020 }));
    const fs = frames(svg);
    const all = one(fs, "all", 0);
    near(all.x, 10, "root x");
    near(all.width, 1000, "root width");
    near(one(fs, "main").width, 1000, "main width");
    near(one(fs, "a").width, 100, "a width");
    near(one(fs, "b").width, 2 * one(fs, "a").width, "b is twice a");
    near(one(fs, "c").width, 700, "c width");
    assert.match(one(fs, "b").title, /^b \(20 samples, 20\.00%\)$/);
  });

  it("merges common prefixes into one parent and sums repeated stacks", () => {
    const svg = parseXml(flameGraphSvg([S("p;q;x", 3), S("p;q;y", 5), S("p;q;x", 2), S("p;r", 1)]));
    const fs = frames(svg);
    assert.equal(fs.filter((f) => f.name === "p").length, 1);
    assert.equal(fs.filter((f) => f.name === "q").length, 1);
    assert.match(one(fs, "q").title, /^q \(10 samples/);
    assert.match(one(fs, "x").title, /^x \(5 samples/);
    assert.match(one(fs, "all").title, /^all \(11 samples, 100\.00%\)$/);
    // Children sit on their parent, inside its span.
    const q = one(fs, "q");
    for (const n of ["x", "y"]) {
      const f = one(fs, n);
      assert.equal(f.depth, q.depth + 1);
      assert.ok(f.x >= q.x - 0.01 && f.x + f.width <= q.x + q.width + 0.01);
      assert.ok(f.y < q.y, "a child is drawn above its parent");
    }
  });

  it("counts a stack that is a prefix of another as its last frame's own time, on the right", () => {
    const fs = frames(parseXml(flameGraphSvg([S("a;b", 5), S("a;b;c", 3), S("a;b;c;d", 1)])));
    assert.match(one(fs, "b").title, /^b \(9 samples, 100\.00%\)$/);
    assert.match(one(fs, "c").title, /^c \(4 samples, /);
    near(one(fs, "c").x, one(fs, "b").x, "a child starts at its parent's left edge");
    near(one(fs, "d").x, one(fs, "b").x, "a grandchild too");
    near(one(fs, "c").width / one(fs, "b").width, 4 / 9, "c is 4/9 of b");
  });

  it("sorts frames by name on each level, whatever the input order", () => {
    const fs = frames(parseXml(flameGraphSvg([S("m;zeta", 1), S("m;alpha", 1), S("m;Mid", 1)])));
    const xs = ["Mid", "alpha", "zeta"].map((n) => one(fs, n).x);
    assert.deepEqual(
      [...xs].sort((a, b) => a - b),
      xs,
    );
  });

  it("draws an icicle graph when inverted", () => {
    const fs = frames(parseXml(flameGraphSvg([S("a;b", 1)], { inverted: true })));
    assert.ok(one(fs, "all").y < one(fs, "a").y && one(fs, "a").y < one(fs, "b").y);
  });

  it("gives the same text for the same input", () => {
    const input = () => [S("b;c", 4), S("a;d", 2), S("b;c;e", 1), S("a", 9)];
    assert.equal(
      flameGraphSvg(input(), { colors: "js" }),
      flameGraphSvg(input().reverse(), { colors: "js" }),
    );
    assert.equal(flameGraphSvg(input()), flameGraphSvg(input()));
  });

  it("says no samples for empty input", () => {
    for (const xml of [flameGraphSvg([]), flameGraphSvg([S("a;b", 0)]), flameGraphSvg(parseFolded(""))]) {
      const svg = parseXml(xml);
      assert.ok(svg.textContent.includes("no samples"));
      assert.equal(frames(svg).length, 0);
      assert.doesNotMatch(xml, /NaN|Infinity/);
    }
  });

  it("cuts labels with .. to fit, and keeps full names in the tooltips", () => {
    const long = `${"very_long_function_name_".repeat(10)}end`;
    const fs = frames(parseXml(flameGraphSvg([S(`main;${long}`, 1), S("main;short", 1)], { width: 420 })));
    const f = one(fs, long);
    assert.ok(f.label.endsWith(".."), f.label);
    assert.ok(long.startsWith(f.label.slice(0, -2)));
    assert.ok(f.label.length * 12 * 0.59 <= f.width, "label wider than its frame");
    assert.equal(one(fs, "short").label, "short");
  });

  it("takes bigint values, and rejects bad values and options", () => {
    const fs = frames(parseXml(flameGraphSvg([S("a", 3n), S("b", 1n)], { countName: "us" })));
    assert.match(one(fs, "a").title, /^a \(3 us, 75\.00%\)$/);
    assert.throws(() => flameGraphSvg([S("a", -1)]), BpfError);
    assert.throws(() => flameGraphSvg([S("a", Number.NaN)]), BpfError);
    assert.throws(() => flameGraphSvg([S("a", Number.POSITIVE_INFINITY)]), BpfError);
    assert.throws(() => flameGraphSvg([S("a", 1)], { width: Number.NaN }), /width/);
    assert.throws(() => flameGraphSvg([S("a", 1)], { frameHeight: 0 }), /frameHeight/);
    assert.throws(() => flameGraphSvg([S("a", 1)], { colors: "neon" as "hot" }), /colors/);
  });

  it("keeps every number attribute finite with odd sizes, float values and empty stacks", () => {
    const xml = flameGraphSvg([S("a;b", 0.1), S("a;c", 0.2), { frames: [], value: 1e-9 }], {
      width: 333.3,
      frameHeight: 7.5,
      minWidth: 0,
      subtitle: "s",
    });
    const svg = parseXml(xml);
    for (const el of svg.elements())
      for (const a of ["x", "y", "width", "height", "data-o", "data-v", "data-d"]) {
        const v = el.getAttribute(a);
        if (v !== null && !v.endsWith("%"))
          assert.ok(Number.isFinite(Number(v)), `${el.tagName} ${a}="${v}"`);
      }
    assert.match(one(frames(svg), "c").title, /^c \(0\.2 samples, 66\.67%\)$/);
  });

  it("formats large counts with separators", () => {
    const fs = frames(parseXml(flameGraphSvg([S("a", 1234567), S("b", 0.5)], { minWidth: 0 })));
    assert.match(one(fs, "a").title, /^a \(1,234,567 samples, /);
    assert.match(one(fs, "b").title, /^b \(0\.5 samples, /);
  });

  it("colours by name hash, and by frame kind with colors: js", () => {
    const stacks = [S("node;JS:~handler /srv/app.mjs:10;vfs_read_[k]", 1), S("node;uv_run;-;do_sys_open", 1)];
    const hot = frames(parseXml(flameGraphSvg(stacks)));
    const again = frames(parseXml(flameGraphSvg([S("x;uv_run", 5)])));
    assert.equal(one(hot, "uv_run").fill, one(again, "uv_run").fill, "same name, same colour");
    for (const f of hot) assert.match(f.fill, /^rgb\(\d{1,3},\d{1,3},\d{1,3}\)$/);
    const hue = (fill: string): number => {
      const [r, g, b] = (fill.match(/\d+/g) ?? []).map(Number) as [number, number, number];
      const max = Math.max(r, g, b);
      const min = Math.min(r, g, b);
      if (max === min) return -1;
      const h =
        max === r
          ? ((g - b) / (max - min)) * 60
          : max === g
            ? (2 + (b - r) / (max - min)) * 60
            : (4 + (r - g) / (max - min)) * 60;
      return (h + 360) % 360;
    };
    const js = frames(parseXml(flameGraphSvg(stacks, { colors: "js" })));
    const green = hue(one(js, "JS:~handler /srv/app.mjs:10").fill);
    assert.ok(green > 80 && green < 150, `JS frame hue ${green}`);
    for (const k of ["vfs_read_[k]", "do_sys_open"]) {
      const h = hue(one(js, k).fill);
      assert.ok(h > 20 && h < 45, `kernel frame ${k} hue ${h}`);
    }
    const red = hue(one(js, "uv_run").fill);
    assert.ok(red < 20 || red > 340, `native frame hue ${red}`);
    assert.equal(one(js, "-").fill, one(js, "all").fill, "the delimiter is grey, like the root");
    const io = frames(parseXml(flameGraphSvg(stacks, { colors: "io" })));
    const blue = hue(one(io, "uv_run").fill);
    assert.ok(blue > 190 && blue < 250, `io hue ${blue}`);
  });

  it("classifies frames for the js palette", () => {
    assert.equal(frameKind("tcp_sendmsg_[k]"), "kernel");
    assert.equal(frameKind("tcp_sendmsg", true), "kernel");
    assert.equal(frameKind("[kernel.kallsyms]"), "kernel");
    assert.equal(frameKind("JS:*main /app/index.js:1:1"), "js");
    assert.equal(frameKind("LazyCompile:~foo file:///x.mjs:3"), "js");
    assert.equal(frameKind("Function:bar"), "js");
    assert.equal(frameKind("handler /srv/app.js:42"), "js");
    assert.equal(frameKind("node::Start(int, char**)"), "native");
    assert.equal(frameKind("libc.so.6"), "native");
  });

  it("renders 100k distinct stacks and drops frames under minWidth, still counted in the parent", () => {
    const stacks: Array<{ frames: string[]; value: number }> = [];
    for (let i = 0; i < 100_000; i++) {
      const frames = ["app", `mod${i % 7}`, `fn${i % 101}`, `leaf${i}`];
      stacks.push({ frames, value: 1 + (i % 3) });
    }
    stacks.push({ frames: ["app", "big"], value: 200_000 });
    const xml = flameGraphSvg(stacks);
    const svg = parseXml(xml);
    const fs = frames(svg);
    // 199,998 + 200,000 samples over 1180 px: a single leaf (≤ 3 samples) is under 0.1 px.
    assert.equal(fs.filter((f) => f.name.startsWith("leaf")).length, 0);
    assert.ok(fs.filter((f) => f.name.startsWith("fn")).length > 0);
    near(one(fs, "app").width, 1180, "app width");
    near(one(fs, "big").width, (1180 * 200_000) / 399_999, "big width");
    const mods = fs.filter((f) => f.name.startsWith("mod"));
    const modsWidth = mods.reduce((s, f) => s + f.width, 0);
    near(modsWidth + one(fs, "big").width, 1180, "children fill the parent");
    for (const f of fs) assert.ok(f.width >= 0.1, `${f.name} is narrower than minWidth`);
    // With minWidth 0 every frame is drawn.
    const every = flameGraphSvg(stacks.slice(0, 2000), { minWidth: 0 });
    assert.equal(frames(parseXml(every)).filter((f) => f.name.startsWith("leaf")).length, 2000);
  });
});

describe("the viewer script", () => {
  // Runs the SVG's script against the parsed tree with a minimal DOM.
  function load(xml: string, answer = "") {
    const svg = parseXml(xml);
    const script = svg.child("script").textContent;
    const byId = (id: string): El | null => svg.elements().find((e) => e.getAttribute("id") === id) ?? null;
    const winListeners = new Map<string, (e: unknown) => void>();
    const window = {
      prompt: () => answer,
      alert: (m: string) => assert.fail(m),
      addEventListener: (t: string, fn: (e: unknown) => void) => winListeners.set(t, fn),
    };
    const document = { documentElement: svg, getElementById: byId };
    new Function("document", "window", script)(document, window);
    const fire = (el: El, type: string, e: Record<string, unknown> = {}): void => {
      const box = byId("frames") as El;
      box.listeners.get(type)?.({ target: el, ...e });
      if (el !== box) el.listeners.get(type)?.({ target: el, ...e });
    };
    return { svg, byId, fire, key: (e: Record<string, unknown>) => winListeners.get("keydown")?.(e) };
  }

  const stacks = [S("main;a;a1", 30), S("main;a;a2", 10), S("main;b", 60)];

  it("shows the hovered frame's details", () => {
    const v = load(flameGraphSvg(stacks));
    const b = one(frames(v.svg), "b");
    v.fire(b.g.child("rect"), "mouseover");
    assert.equal(v.byId("details")?.textContent, "b (60 samples, 60.00%)");
  });

  it("zooms to a clicked frame and resets", () => {
    const v = load(flameGraphSvg(stacks, { width: 1020 }));
    const before = frames(v.svg);
    v.fire(one(before, "a").g.child("rect"), "click");
    const fs = frames(v.svg);
    near(one(fs, "a").width, 1000, "zoomed frame fills the width");
    near(one(fs, "a1").width, 750, "its children scale");
    near(one(fs, "a2").x, 10 + 750, "a2 after a1");
    assert.ok(one(fs, "main").g.classList.contains("parent"), "ancestors stay, dimmed");
    near(one(fs, "main").width, 1000, "ancestors fill the width");
    assert.ok(one(fs, "b").g.classList.contains("hidden"), "others hidden");
    assert.equal(one(fs, "a1").label, "a1");
    const unzoom = v.byId("unzoom") as El;
    assert.ok(!unzoom.classList.contains("hidden"));
    unzoom.listeners.get("click")?.({});
    const after = frames(v.svg);
    for (const f of after) {
      const o = one(before, f.name, f.depth);
      near(f.x, o.x, `${f.name} x`);
      near(f.width, o.width, `${f.name} width`);
      assert.ok(!f.g.classList.contains("hidden") && !f.g.classList.contains("parent"));
    }
    assert.ok(unzoom.classList.contains("hidden"));
  });

  it("searches with Ctrl-F and resets the search", () => {
    const v = load(flameGraphSvg(stacks), "^a\\d?$");
    const fill = one(frames(v.svg), "b").fill;
    let prevented = false;
    v.key({ ctrlKey: true, key: "f", preventDefault: () => (prevented = true) });
    assert.ok(prevented);
    const fs = frames(v.svg);
    const match = v.svg.getAttribute("data-match");
    for (const n of ["a", "a1", "a2"]) assert.equal(one(fs, n).fill, match);
    assert.equal(one(fs, "b").fill, fill);
    // a, a1 and a2 overlap: 40% of the samples, not 80%.
    assert.equal(v.byId("matched")?.textContent, "Matched: 40.00%");
    const search = v.byId("search") as El;
    assert.equal(search.textContent, "Reset Search");
    search.listeners.get("click")?.({});
    assert.notEqual(one(frames(v.svg), "a").fill, match);
    assert.equal(search.textContent, "Search");
  });
});
