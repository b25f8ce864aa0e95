/**
 * tsbpf's error model: one base class and a few subclasses a caller can act on.
 * Never a bare EINVAL: every error says what failed, why, and what to do instead.
 */
import type { NativeError } from "../native.js";
import { Errno, errnoName } from "./constants.js";

export { errnoName };

/** Base class of every error tsbpf throws. */
export class BpfError extends Error {
  /** Positive errno of the failing system call, when there is one. */
  readonly errno: number | undefined;
  /** Symbolic errno ("EPERM"), when there is one. */
  readonly code: string | undefined;

  constructor(message: string, opts: { errno?: number; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.errno = opts.errno;
    this.code = opts.errno === undefined ? undefined : errnoName(opts.errno) || undefined;
  }
}

/** One clang diagnostic, located in the user's own source. */
export interface Diagnostic {
  file: string;
  line: number;
  column: number;
  severity: "error" | "warning" | "note" | "fatal error";
  message: string;
}

/** The C did not compile (clang, or tsbpf's own checks of the bcc dialect). */
export class CompileError extends BpfError {
  /** Every diagnostic, errors first as clang printed them. */
  readonly diagnostics: Diagnostic[];
  /** What clang printed, verbatim (empty for tsbpf's own checks). */
  readonly output: string;

  constructor(message: string, diagnostics: Diagnostic[], output = "") {
    super(message);
    this.diagnostics = diagnostics;
    this.output = output;
  }
}

/** The kernel's verifier rejected a program. The full log is kept. */
export class VerifierError extends BpfError {
  readonly program: string;
  /** The verifier's complete log. */
  readonly log: string;
  /** The verifier's own one-line reason, e.g. "invalid mem access 'scalar'". */
  readonly reason: string;
  /** The user's source line of the failing instruction, when line info has it. */
  readonly sourceLine: number | undefined;

  constructor(
    message: string,
    opts: { program: string; log: string; reason: string; sourceLine?: number; errno?: number },
  ) {
    super(message, { errno: opts.errno });
    this.program = opts.program;
    this.log = opts.log;
    this.reason = opts.reason;
    this.sourceLine = opts.sourceLine;
  }
}

/** The running kernel lacks a feature. Says which, why, and what to use instead. */
export class NotSupportedError extends BpfError {
  /** The feature, e.g. "kprobe". */
  readonly feature: string;
  /** Why the kernel lacks it, e.g. "CONFIG_KPROBES is off". */
  readonly reason: string;
  /** What to use instead, when there is an alternative. */
  readonly alternative: string | undefined;
  /**
   * The oldest Linux version that has the feature ("5.5"), where one
   * applies; undefined when the kernel's configuration, not its version,
   * decides (a missing CONFIG_KPROBES on any version).
   */
  readonly minKernel: string | undefined;

  /**
   * @param opts.on what lacks the feature, "this kernel" unless said
   *   ("this machine" for a program that is not installed, such as clang).
   */
  constructor(
    feature: string,
    reason: string,
    alternative?: string,
    opts: { errno?: number; cause?: unknown; minKernel?: string; on?: string } = {},
  ) {
    super(
      NotSupportedError.summary(feature, reason, opts.on) + (alternative ? `; ${alternative}` : ""),
      opts,
    );
    this.feature = feature;
    this.reason = reason;
    this.alternative = alternative;
    this.minKernel = opts.minKernel;
  }

  /** "<feature> is (are) not available on this kernel (<reason>)": the message without the alternative. */
  static summary(feature: string, reason: string, on = "this kernel"): string {
    return `${feature} ${feature.endsWith("s") ? "are" : "is"} not available on ${on} (${reason})`;
  }
}

/** The caller lacks a privilege. Names the capability. */
export class PermissionError extends BpfError {
  readonly capability: string;

  constructor(message: string, capability: string, opts: { errno?: number } = {}) {
    super(message, opts);
    this.capability = capability;
  }
}

/**
 * The native addon (tsbpf's binding of libbpf) cannot be loaded: no prebuilt
 * addon fits this machine and there is no source build, or each one found
 * failed to load. Lists every place tried and why, and says what to install
 * and run to build the addon from source.
 */
export class AddonError extends BpfError {
  /** Each file looked for, in order, and why it did not do ("not found", or the loader's error). */
  readonly tried: { path: string; reason: string }[];
  /** What to do: the Debian packages to install and the command that builds the addon. */
  readonly fix: string;

  constructor(tried: { path: string; reason: string }[], fix: string) {
    super(
      `tsbpf's native addon cannot be loaded:\n${tried.map((t) => `  ${t.path}: ${t.reason}`).join("\n")}\n${fix}`,
    );
    this.tried = tried;
    this.fix = fix;
  }
}

/** An attach failed: says the target, the reason and a hint. */
export class AttachError extends BpfError {
  readonly target: string;
  readonly reason: string;
  readonly hint: string | undefined;

  constructor(target: string, reason: string, hint?: string, opts: { errno?: number; cause?: unknown } = {}) {
    super(`cannot attach to ${target}: ${reason}${hint ? ` (${hint})` : ""}`, opts);
    this.target = target;
    this.reason = reason;
    this.hint = hint;
  }
}

/** An object (BPF, table, link) was used after close(). */
export class ClosedError extends BpfError {
  constructor(what: string) {
    super(`${what} is closed`);
  }
}

/** Malformed BTF, or a question BTF cannot answer (an unknown id, a type without a size, …). */
export class BtfError extends BpfError {}

/** An ELF file that is malformed, truncated or of a kind tsbpf's reader does not handle (ELF32, big-endian). */
export class ElfError extends BpfError {
  /** The file. */
  readonly path: string;

  constructor(path: string, reason: string, opts: { cause?: unknown } = {}) {
    super(`${path}: ${reason}`, opts);
    this.path = path;
  }
}

/** True when err came from the addon. */
export function isNativeError(err: unknown): err is NativeError {
  return err instanceof Error && typeof (err as Partial<NativeError>).errno === "number" && "op" in err;
}

/** True when we are not privileged enough for bpf(): not root and no CAP_BPF. */
export function isPermissionErrno(errno: number | undefined): boolean {
  return errno === Errno.EPERM || errno === Errno.EACCES;
}

/** The PermissionError to throw when a bpf() call failed with EPERM as non-root. */
export function permissionErrorFor(what: string, errno: number): PermissionError | undefined {
  if (process.getuid?.() === 0) return undefined;
  return new PermissionError(
    `${what} needs privileges: run as root, or grant CAP_BPF and CAP_PERFMON (CAP_SYS_ADMIN on kernels before 5.8)`,
    "CAP_BPF",
    { errno },
  );
}

/**
 * A map (or program) cannot be pinned at a path: the path is not on a bpf file
 * system, or it cannot be created there. Says the path, why, and the command
 * that fixes it.
 */
export class PinError extends BpfError {
  /** The pin path asked for. */
  readonly path: string;
  /** Why it cannot hold a pin, e.g. "/tmp is a tmpfs file system, not a bpf file system". */
  readonly reason: string;
  /** What to run or change, e.g. 'mount -t bpf bpf /sys/fs/bpf'. */
  readonly fix: string;

  constructor(
    what: string,
    path: string,
    reason: string,
    fix: string,
    opts: { errno?: number; cause?: unknown } = {},
  ) {
    super(`cannot pin ${what} at ${path}: ${reason}; ${fix}`, opts);
    this.path = path;
    this.reason = reason;
    this.fix = fix;
  }
}

/**
 * A metrics specification or exporter config is wrong: names the file (or
 * "metrics spec" for one given in code), the field, what is wrong and the fix.
 */
export class ConfigError extends BpfError {
  /** The config file, or a description of where the spec came from. */
  readonly file: string;
  /** The field's path in it, e.g. "metrics.counters[0].labels[1].decoders[0].name". */
  readonly field: string;
  /** What to change. */
  readonly fix: string;

  constructor(file: string, field: string, problem: string, fix: string) {
    super(`${file}: ${field}: ${problem}; ${fix}`);
    this.file = file;
    this.field = field;
    this.fix = fix;
  }
}

/**
 * tsbpf's on-disk compile cache cannot be trusted or used: a directory or
 * file in it (from the cache root down) is owned by another user, writable by
 * group or others, a symbolic link where none belongs, or not of its kind;
 * or it cannot be created or written. Root loads what this cache holds into
 * the kernel, so tsbpf refuses it rather than repair it. Names the path, why,
 * and the command that fixes it.
 */
export class CacheError extends BpfError {
  /** The directory or file refused. */
  readonly path: string;
  /** Why, e.g. "the directory is writable by group and others (mode 0777), so another user could …". */
  readonly reason: string;
  /** What to run or change, e.g. 'run "chmod 700 /root/.cache/tsbpf"'. */
  readonly fix: string;

  constructor(path: string, reason: string, fix: string, opts: { errno?: number; cause?: unknown } = {}) {
    super(`tsbpf's compile cache: ${path}: ${reason}; ${fix}`, opts);
    this.path = path;
    this.reason = reason;
    this.fix = fix;
  }
}

/**
 * A map has no room for another key: the kernel refused an update of a new
 * key with E2BIG (hash-type maps at max_entries, Linux 3.19+). Names the map
 * and its size, and how to make it bigger.
 */
export class MapFullError extends BpfError {
  /** The map's name. */
  readonly map: string;
  /** Its max_entries. */
  readonly maxEntries: number;

  constructor(map: string, maxEntries: number, opts: { errno?: number; cause?: unknown } = {}) {
    super(
      `map ${map} is full: all ${maxEntries} entries are taken; delete keys first, or give it more entries (the size argument of BPF_HASH(${map}, …, SIZE), __uint(max_entries, …), or mapSizes: { ${map}: N } of BPF.open)`,
      opts,
    );
    this.map = map;
    this.maxEntries = maxEntries;
  }
}
