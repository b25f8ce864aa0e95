/**
 * Command-line parsing for the tools, with bcc's option names (`-p PID`,
 * `-T`, `interval [count]`, …) declared once per tool, on Node's own
 * util.parseArgs. Every tool also takes the options every tsbpf tool has:
 * `--json`, `--duration S`, `--cgroup PATH`, `-h`.
 */
import { parseArgs } from "node:util";
import { BpfError } from "../../src/index.js";

/** A user's mistake on the command line: the tool prints it with its usage and exits with status 2 (as argparse does). */
export class UsageError extends BpfError {
  override name = "UsageError";
}

/** One option of a tool. */
export interface OptionSpec {
  /** The long name, without dashes ("pid"); the parsed value's key. */
  long: string;
  /** The one-letter name, if the tool has one ("p"). */
  short?: string;
  /** flag: present or not; int/float: a number; string: text; list: repeatable text. */
  type: "flag" | "int" | "float" | "string" | "list";
  /** The value's name in the help ("PID"). */
  metavar?: string;
  help: string;
}

/** One positional argument (bcc's `interval`, `count`, …), all optional unless `required`. */
export interface PositionalSpec {
  name: string;
  type: "int" | "float" | "string";
  help: string;
  required?: boolean;
  /** The last positional only: takes every remaining argument (argparse's nargs="+"; read with Args.list). */
  many?: boolean;
}

/** What a tool declares about its command line. */
export interface CommandSpec {
  name: string;
  summary: string;
  options: OptionSpec[];
  positionals?: PositionalSpec[];
  /** Example lines for the help, as bcc's tools print them. */
  examples?: string[];
  /** A command the tool starts, after "--" (`tsbpf profile -- node app.js`). */
  command?: { name: string; help: string };
  /** The tool can serve its aggregates as Prometheus metrics (`--prometheus [HOST:]PORT`). */
  prometheus?: boolean;
}

/** The option of the tools that serve their aggregates as metrics. */
export const PROMETHEUS_OPTION: OptionSpec = {
  long: "prometheus",
  type: "string",
  metavar: "[HOST:]PORT",
  help: "serve the aggregates as Prometheus metrics at http://HOST:PORT/metrics instead of printing them",
};

/** The options every tool takes, after its own. */
export const COMMON_OPTIONS: OptionSpec[] = [
  { long: "json", type: "flag", help: "print JSON Lines: one object per event or per interval" },
  { long: "duration", type: "float", metavar: "SECONDS", help: "stop after this many seconds" },
  {
    long: "cgroup",
    type: "string",
    metavar: "PATH",
    help: "only processes in this cgroup (v2 directory) and its children",
  },
  { long: "help", short: "h", type: "flag", help: "show this help and exit" },
];

/**
 * A tool's options and the common ones it does not declare itself (a tool
 * may give a common option bcc's short name, as syscount's `-d/--duration`).
 */
export function allOptions(spec: CommandSpec): OptionSpec[] {
  const own = new Set(spec.options.map((o) => o.long));
  const common = spec.prometheus ? [PROMETHEUS_OPTION, ...COMMON_OPTIONS] : COMMON_OPTIONS;
  return [...spec.options, ...common.filter((o) => !own.has(o.long))];
}

/** Parsed command line, read through typed getters. */
export class Args {
  constructor(
    private readonly values: Record<string, unknown>,
    private readonly pos: Record<string, unknown>,
    /** The command after "--", for a tool that starts one (empty when none). */
    readonly command: string[] = [],
  ) {}

  /** True when a flag was given. */
  flag(name: string): boolean {
    return this.values[name] === true;
  }

  /** An int or float option, or undefined. */
  num(name: string): number | undefined {
    const v = this.values[name] ?? this.pos[name];
    return typeof v === "number" ? v : undefined;
  }

  /** A text option, or undefined. */
  str(name: string): string | undefined {
    const v = this.values[name] ?? this.pos[name];
    return typeof v === "string" ? v : undefined;
  }

  /** A repeatable option's values, or a `many` positional's (empty when not given). */
  list(name: string): string[] {
    const v = this.values[name] ?? this.pos[name];
    return Array.isArray(v) ? (v as string[]) : [];
  }

  /** `--json` */
  get json(): boolean {
    return this.flag("json");
  }

  /** `--duration` in seconds, or undefined. */
  get duration(): number | undefined {
    return this.num("duration");
  }

  /** `--cgroup` path, or undefined. */
  get cgroup(): string | undefined {
    return this.str("cgroup");
  }
}

function toNumber(spec: { type: string; metavar?: string; name: string }, text: string): number {
  const n = spec.type === "int" ? Number(text) : Number.parseFloat(text);
  const ok = spec.type === "int" ? /^[+-]?(0x[0-9a-f]+|\d+)$/i.test(text.trim()) : Number.isFinite(n);
  if (!ok || Number.isNaN(n)) {
    throw new UsageError(
      `${spec.name}: expected ${spec.type === "int" ? "an integer" : "a number"}${spec.metavar ? ` (${spec.metavar})` : ""}, got "${text}"`,
    );
  }
  return n;
}

/** Parses argv against the tool's options plus the common ones; throws UsageError for what it cannot use. */
export function parseToolArgs(spec: CommandSpec, argv: string[]): Args {
  let command: string[] = [];
  const dashes = argv.indexOf("--");
  if (spec.command && dashes >= 0) {
    command = argv.slice(dashes + 1);
    argv = argv.slice(0, dashes);
    if (command.length === 0) throw new UsageError(`--: expected a ${spec.command.name} to run`);
  }
  const all = allOptions(spec);
  const options: Record<string, { type: "boolean" | "string"; short?: string; multiple?: boolean }> = {};
  for (const o of all) {
    options[o.long] = {
      type: o.type === "flag" ? "boolean" : "string",
      ...(o.short ? { short: o.short } : {}),
      ...(o.type === "list" ? { multiple: true } : {}),
    };
  }
  let parsed: { values: Record<string, unknown>; positionals: string[] };
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true }) as typeof parsed;
  } catch (err) {
    // Node's messages name the option ("Unknown option '-z'"); keep them, drop Node's hints.
    throw new UsageError((err as Error).message.replace(/\. To specify a positional.*$/s, ""));
  }
  const values: Record<string, unknown> = {};
  for (const o of all) {
    const v = parsed.values[o.long];
    if (v === undefined) continue;
    const label = o.short ? `-${o.short}/--${o.long}` : `--${o.long}`;
    values[o.long] =
      o.type === "int" || o.type === "float"
        ? toNumber({ type: o.type, metavar: o.metavar, name: label }, v as string)
        : v;
  }
  const pos: Record<string, unknown> = {};
  const specs = spec.positionals ?? [];
  if (parsed.positionals.length > specs.length && !specs.at(-1)?.many) {
    throw new UsageError(`unrecognized arguments: ${parsed.positionals.slice(specs.length).join(" ")}`);
  }
  specs.forEach((p, i) => {
    const text = parsed.positionals[i];
    if (text === undefined) {
      // (-h prints the help whatever else is missing)
      if (p.required && values.help !== true)
        throw new UsageError(`the following argument is required: ${p.name}`);
      return;
    }
    if (p.many) pos[p.name] = parsed.positionals.slice(i);
    else pos[p.name] = p.type === "string" ? text : toNumber({ type: p.type, name: p.name }, text);
  });
  const dur = values.duration;
  if (typeof dur === "number" && dur <= 0)
    throw new UsageError("--duration: expected a positive number of seconds");
  return new Args(values, pos, command);
}

/** The help text: usage line, summary, positionals, options, examples. */
export function helpText(spec: CommandSpec): string {
  const all = allOptions(spec);
  const left = (o: OptionSpec): string => {
    const val = o.type === "flag" ? "" : ` ${o.metavar ?? o.long.toUpperCase()}`;
    return o.short ? `-${o.short}${val}, --${o.long}${val}` : `--${o.long}${val}`;
  };
  const pos = (spec.positionals ?? [])
    .map((p) => `${p.required ? p.name : `[${p.name}]`}${p.many ? ` [${p.name} ...]` : ""}`)
    .join(" ");
  const rows: Array<[string, string]> = [
    ...(spec.positionals ?? []).map((p): [string, string] => [p.name, p.help]),
    ...all.map((o): [string, string] => [left(o), o.help]),
  ];
  const w = Math.min(32, Math.max(...rows.map(([l]) => l.length)) + 2);
  const lines = rows.map(([l, h]) =>
    l.length + 2 > w ? `  ${l}\n  ${" ".repeat(w)}${h}` : `  ${l.padEnd(w)}${h}`,
  );
  const cmd = spec.command ? ` [-- ${spec.command.name.toUpperCase()} [ARG...]]` : "";
  if (spec.command)
    lines.unshift(`  -- ${spec.command.name.toUpperCase()}`.padEnd(w + 2) + spec.command.help);
  let out = `usage: tsbpf ${spec.name} [options]${pos ? ` ${pos}` : ""}${cmd}\n\n${spec.summary}\n\n${lines.join("\n")}\n`;
  if (spec.examples?.length) out += `\nexamples:\n${spec.examples.map((e) => `  ${e}`).join("\n")}\n`;
  return out;
}
