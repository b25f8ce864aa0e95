/**
 * The contract between TypeScript and the native addon (native/*.c).
 *
 * The addon is a thin layer over libbpf: it owns libbpf objects,
 * programs, maps and links and nothing else. Every failure is thrown as a
 * {@link NativeError}; src/kernel/errors.ts turns those into typed errors.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { AddonError } from "./kernel/errors.js";
import { loadAddon } from "./native_load.js";
import { packageRoot } from "./paths.js";

/** What the addon throws: a plain Error with the errno and what libbpf said. */
export interface NativeError extends Error {
  /** Positive errno (e.g. 1 for EPERM), 0 when there is none. */
  errno: number;
  /** Symbolic errno ("EPERM"), or "" when unknown. */
  code: string;
  /** The libbpf call that failed, e.g. "bpf_object__load". */
  op: string;
  /** Everything libbpf printed (all levels) while the failing call ran. */
  libbpfLog: string;
  /** The kernel verifier log of the failing program, when a load failed. */
  verifierLog?: string;
  /** The program whose load failed, when known. */
  program?: string;
}

export interface NativeProgramInfo {
  name: string;
  section: string;
  /** enum bpf_prog_type as libbpf guessed it from the section (0 when unknown). */
  type: number;
  insnCount: number;
}

export interface NativeMapInfo {
  name: string;
  /** enum bpf_map_type */
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
  /** -1 before the object is loaded. */
  fd: number;
  /** BTF type ids of key and value in the object's BTF (0 when none). */
  btfKeyTypeId: number;
  btfValueTypeId: number;
  /** Where libbpf will pin or find the map (null when it is not pinned). */
  pinPath: string | null;
}

export interface NativeLoadOptions {
  /** Verifier log level used for every program (0: only on failure). */
  logLevel: number;
  /** Size in bytes of the verifier log buffer. */
  logSize: number;
}

/** A batch read of a map (lookup, or lookup and delete): up to count entries after inBatch. */
export type BatchRead = (
  fd: number,
  inBatch: Uint8Array | null,
  outBatch: Uint8Array,
  keys: Uint8Array,
  values: Uint8Array,
  count: number,
  sizes?: Uint32Array,
) => { count: number; done: boolean };

/** Options of {@link NativeAddon.NativeObject}'s open (bpf_object_open_opts). */
export interface NativeOpenOptions {
  /**
   * A BTF file libbpf resolves the object's CO-RE relocations against
   * instead of the kernel's (btf_custom_path, libbpf 0.5+). The kernel's BTF
   * is then read only for what else needs it (BTF-typed programs, typed
   * ksyms, kfuncs).
   */
  btfCustomPath?: string;
}

/** An opened (and later loaded) bpf_object. */
export interface NativeObject {
  programs(): NativeProgramInfo[];
  maps(): NativeMapInfo[];
  setAutoload(program: string, autoload: boolean): void;
  setProgramType(program: string, progType: number, expectedAttachType: number): void;
  setAttachTarget(program: string, targetFn: string): void;
  reuseMapFd(map: string, fd: number): void;
  /** At load, reuse the map pinned at path (it must match) or create and pin it there (bpf_map__set_pin_path). */
  setMapPinPath(map: string, path: string): void;
  /** A copy of what a global-data map (.rodata, .data, .bss) starts with; null for other maps. */
  mapInitialValue(map: string): Uint8Array | null;
  /** Before load: what a global-data map starts with (exactly its value size). */
  setMapInitialValue(map: string, value: Uint8Array): void;
  /** Before load: the map's maximum number of entries. */
  setMapMaxEntries(map: string, maxEntries: number): void;
  /** Loads the program for offload to a network device (bpf_program__set_ifindex); 0: none. Before load. */
  setProgramIfindex(program: string, ifindex: number): void;
  /** Creates the map offloaded to a network device (bpf_map__set_ifindex). Before load. */
  setMapIfindex(map: string, ifindex: number): void;
  /** Before load: the kernel version (LINUX_VERSION_CODE) kprobe programs load with; kernels before 5.0 check it. */
  setKversion(version: number): void;
  load(opts: NativeLoadOptions): void;
  /** Verifier log of a successful load when logLevel > 0 ("" otherwise). */
  verifierLog(program: string): string;
  programFd(program: string): number;
  mapFd(map: string): number;
  /**
   * A copy of the program's instructions (8 bytes each) as libbpf holds them:
   * after a load attempt the final ones (CO-RE and map relocations applied,
   * subprograms appended) that went to the kernel; before it, the ELF's.
   */
  programInsns(program: string): Uint8Array;
  /** Raw BTF of the object (the .BTF section as libbpf holds it), or null. */
  btfRaw(): Uint8Array | null;
  close(): void;
}

/** A bpf_link; destroying it detaches. */
export interface NativeLink {
  fd(): number;
  destroy(): void;
}

/**
 * Receives a batch of ring buffer records: `count` pairs `[offset, length]`
 * in `index`, each the data of one record (without the kernel's 8-byte
 * header) at `data[offset, offset + length)`. Discarded records are skipped.
 *
 * `data` and `index` are reused by the next batch: read them during the call
 * and copy out what you keep. In "view" mode `data` is the kernel's memory
 * itself (read-only: writing to it kills the process with SIGSEGV) and the
 * records are only valid during the call.
 */
export type RingBatchCallback = (data: ArrayBuffer, index: Uint32Array, count: number) => void;

/** Options of {@link NativeAddon.NativeRingBuffer}. */
export interface NativeRingBufferOptions {
  /**
   * "copy": records are copied into one reusable ArrayBuffer of
   * `batchBytes` and the ring space is released as soon as they are copied.
   * A record larger than `batchBytes` comes alone, in an ArrayBuffer of its
   * own.
   *
   * "view": zero copy. `data` is an external ArrayBuffer over the ring's
   * data area (twice its size: the kernel maps it twice in a row, so a record
   * never wraps), created once; the ring space is released only after
   * onBatch returns. close() detaches it, so JavaScript never reads unmapped
   * memory (do not transfer() it: the transferred buffer would outlive the
   * mapping).
   */
  mode: "copy" | "view";
  /**
   * Copy: size of the batch buffer (a batch is delivered when the next
   * record does not fit). View: a batch is delivered once it spans this many
   * bytes of the ring, which lets the kernel reuse them sooner. Rounded up
   * to a multiple of 8; between 8 and 2^30. The index holds at most
   * max(16, min(batchBytes / 8, 65536)) records.
   */
  batchBytes: number;
  onBatch: RingBatchCallback;
}

/**
 * A consumer of a BPF ring buffer map (BPF_MAP_TYPE_RINGBUF, Linux 5.8+)
 * reading the kernel's ring layout directly: records reach JavaScript in
 * batches, one call per batch.
 *
 * Exceptions thrown by onBatch: from consume()/poll() they stop consumption
 * and propagate to the caller (the batch that threw counts as delivered; the
 * records after it stay in the ring for the next call). When the event loop
 * consumes (start()), they are raised as uncaught exceptions (the process
 * 'uncaughtException' event, or exit), as for any I/O callback, and polling
 * goes on.
 *
 * onBatch may call stop() or close() (close then takes effect when it
 * returns); calling consume() or poll() of the same ring buffer from it
 * throws EBUSY. Every method but close() throws ECLOSED after close().
 */
export interface NativeRingBuffer {
  /** Bytes published and not consumed yet (producer_pos - consumer_pos, headers included). */
  pendingBytes(): number;
  /**
   * Delivers every complete record published when it starts (stopping at a
   * record still being written), through onBatch (one or more calls).
   * Returns the number of records delivered. Reads only two positions when
   * the ring is empty.
   */
  consume(): number;
  /**
   * Blocks the thread up to timeoutMs (negative: no limit) until the ring
   * has data (poll(2) on the map fd, level-triggered), then consume()s —
   * bcc's ring_buffer_poll(timeout). Returns the number of records.
   */
  poll(timeoutMs: number): number;
  /**
   * Watches the map fd from the event loop (uv_poll): whenever the kernel
   * signals data, consume() runs there. Keeps the event loop and this object
   * alive until stop() or close(). Records submitted with BPF_RB_NO_WAKEUP
   * do not signal: drain those with a timer calling consume().
   */
  start(): void;
  stop(): void;
  /** Stops polling and unmaps the ring (detaching a "view" buffer). Idempotent. */
  close(): void;
}

/**
 * Receives a batch of perf buffer samples: `count` triples
 * `[cpu, offset, length]` in `index`, the raw sample at
 * `data[offset, offset + length)`. The length is the kernel's: the record
 * plus up to 7 bytes of padding (a 32-byte record arrives as 36 bytes).
 * `data` and `index` are reused by the next batch.
 */
export type PerfBatchCallback = (data: ArrayBuffer, index: Uint32Array, count: number) => void;

/** Options of {@link NativeAddon.NativePerfBuffer}. */
export interface NativePerfBufferOptions {
  /** Pages per CPU ring; a power of two (bcc's default is 8). */
  pageCnt: number;
  /**
   * The kernel wakes the reader once every this many samples per CPU
   * (perf_event_attr.wakeup_events); 1 wakes it for every sample (bcc's
   * default). Above 1, the last samples of a burst wait for the next
   * wake-up or a consume(): drain with a timer.
   */
  wakeupEvents: number;
  /** Size of the batch buffer; a larger sample comes alone in a buffer of its own. */
  batchBytes: number;
  onBatch: PerfBatchCallback;
  /**
   * Samples the kernel dropped because a CPU's ring was full, summed per CPU
   * over one consume and reported after its records. The kernel reports a
   * loss once there is room again, so it shows up with later samples.
   */
  onLost: (cpu: number, lost: number) => void;
}

/**
 * A consumer of a BPF perf event array (BPF_PERF_OUTPUT; Linux 4.4+) on
 * libbpf's perf_buffer: one ring per CPU, records copied into one reusable
 * batch buffer. Exceptions and reentrancy as for {@link NativeRingBuffer};
 * a sample read when onBatch threw is kept and leads the next batch.
 */
export interface NativePerfBuffer {
  /** Reads every CPU's ring now (perf_buffer__consume); returns the number of samples delivered. */
  consume(): number;
  /**
   * Waits up to timeoutMs (negative: no limit) for a CPU ring to be woken,
   * then reads the woken rings (perf_buffer__poll); returns the number of samples.
   */
  poll(timeoutMs: number): number;
  /**
   * Watches the rings from the event loop (uv_poll on perf_buffer__epoll_fd)
   * and reads every ring whenever one is woken. Keeps the event loop and this
   * object alive until stop() or close().
   */
  start(): void;
  stop(): void;
  /** Stops polling, frees the rings and clears the map's slots. Idempotent. */
  close(): void;
}

export interface NativeAddon {
  libbpfVersion(): string;
  /** vmlinux.h text for the kernel BTF at path (btf_dump, like bpftool's "format c"). */
  btfDumpHeader(btfPath: string): string;
  /**
   * A vmlinux.h cut down to the types a program uses, for clang to parse in a
   * few tens of milliseconds instead of the whole header's quarter second.
   * Same wrapping as {@link NativeAddon.btfDumpHeader} (it defines
   * `__VMLINUX_H__` too, so the full header is never pulled in on top).
   *
   * `names` are the identifiers of the program's source. Each selects every
   * struct, union, enum, typedef or forward declaration of that name, and for
   * an enumerator (`TASK_COMM_LEN`, `BPF_ANY`) the enum that holds it, or the
   * struct, union or typedef that defines an anonymous enum inline. btf_dump
   * adds what those need to compile: embedded types complete, types behind
   * pointers as forward declarations. Then a member of a reached struct whose
   * name is in `names` makes the type it leads to complete too, through
   * pointers, so `BPF_CORE_READ(t, mm, arg_start)` compiles from the
   * identifiers alone.
   *
   * The parsed BTF and its name index stay cached for the next call with the
   * same path (until the file changes).
   *
   * Always add the names libbpf's headers need (bpf_helper_defs.h:
   * `__u64 __s32 __s64 __be16 __be32 __wsum`, with `__u16 __u32` through
   * them; the macros: `__u8 __u16` (BPF_PROG2) and `pt_regs` (PT_REGS_*,
   * BPF_KPROBE, BPF_KSYSCALL on x86)).
   *
   * @returns the header; `types`, the number of root types dumped (named
   * and reached through members, before btf_dump's dependencies); `missing`,
   * the names that selected nothing (each once, in order), for diagnostics.
   */
  btfDumpSubset(btfPath: string, names: string[]): { header: string; types: number; missing: string[] };
  /**
   * Width of the member reached from the record `kind name` ("struct",
   * "union", or "" for a typedef) through `fields`, anonymous members looked
   * into: > 0 a bit-field, 0 another member, -1 not in the BTF.
   */
  btfBitfield(btfPath: string, kind: string, name: string, fields: string[]): number;
  /** Frees the BTF that btfDumpSubset and btfBitfield keep parsed between calls (the next call parses again). */
  btfCacheRelease(): void;
  NativeObject: new (elf: Uint8Array, name: string, opts?: NativeOpenOptions) => NativeObject;
  /**
   * A batching consumer of the ring buffer map `mapFd` (which it dups: the
   * caller may close its fd). Linux 5.8+ (BPF_MAP_TYPE_RINGBUF).
   */
  NativeRingBuffer: new (
    mapFd: number,
    opts: NativeRingBufferOptions,
  ) => NativeRingBuffer;
  /**
   * A batching consumer of the perf event array `mapFd`: opens a
   * PERF_COUNT_SW_BPF_OUTPUT event (PERF_SAMPLE_RAW, sample_period 1,
   * wakeup_events) and a ring on every CPU and stores them in the map.
   * Linux 4.4+ (bpf_perf_event_output).
   */
  NativePerfBuffer: new (
    mapFd: number,
    opts: NativePerfBufferOptions,
  ) => NativePerfBuffer;
  /** cookie: what bpf_get_attach_cookie() returns in the program (Linux 5.15+; 0 when not given). */
  attachTracepoint(
    obj: NativeObject,
    program: string,
    category: string,
    event: string,
    cookie?: number | bigint,
  ): NativeLink;
  attachRawTracepoint(obj: NativeObject, program: string, event: string): NativeLink;
  attachKprobe(
    obj: NativeObject,
    program: string,
    opts: { func: string; offset: number; retprobe: boolean; cookie: number | bigint },
  ): NativeLink;
  /**
   * Attaches a uprobe (retprobe: a uretprobe) at a file offset of the ELF
   * file at path (bpf_program__attach_uprobe_opts with no function name: the
   * caller resolves symbols). pid -1 traces every process running the file.
   * refCtrOffset (0: none) is the file offset of a USDT semaphore the kernel
   * increments while the probe is attached (Linux 4.20+). uprobes need Linux
   * 4.17+ for the fd-based uprobe PMU (libbpf falls back to uprobe_events).
   */
  attachUprobe(
    obj: NativeObject,
    program: string,
    opts: {
      path: string;
      offset: number;
      pid: number;
      retprobe: boolean;
      refCtrOffset: number;
      cookie: number | bigint;
    },
  ): NativeLink;
  /**
   * Attaches a USDT probe (bpf_program__attach_usdt): a uprobe at every
   * site of provider:name in the ELF file at path, with each site's argument
   * spec in the object's `__bpf_usdt_specs` map (from bpf/usdt.bpf.h) and
   * semaphores counted by the kernel. pid -1 traces every process. cookie is
   * what bpf_usdt_cookie() returns. The link keeps obj alive until it is
   * destroyed; destroy it before closing obj.
   */
  attachUsdt(
    obj: NativeObject,
    program: string,
    opts: { pid: number; path: string; provider: string; name: string; cookie: number | bigint },
  ): NativeLink;
  /** libbpf_probe_bpf_prog_type: 1 yes, 0 no, negative errno when it could not tell. */
  probeProgType(progType: number): number;
  /** libbpf_probe_bpf_map_type: 1 yes, 0 no, negative errno when it could not tell. */
  probeMapType(mapType: number): number;
  /** libbpf_probe_bpf_helper: 1 yes, 0 no, negative errno when it could not tell. */
  probeHelper(progType: number, helperId: number): number;
  /**
   * Loads a minimal fentry program (BPF_PROG_TYPE_TRACING, BPF_TRACE_FENTRY)
   * on a kernel function found in the vmlinux BTF and attaches it, then
   * releases both: 1 when that works, 0 when the kernel refuses (EPERM,
   * EINVAL, ENOTSUPP, ...), negative errno when it could not tell.
   */
  probeTracing(): number;
  /** IDs of every BPF program / map / link currently in the kernel. */
  progIds(): number[];
  /** What the kernel says of a loaded program (run time and count grow while kernel.bpf_stats_enabled is 1). */
  /** BPF_ENABLE_STATS (run time, Linux 5.8+): the kernel counts programs' run time while the returned fd is open. */
  enableStats(): number;
  /** glibc's malloc_trim(0): the C heap's free memory back to the system; whether any was released. */
  mallocTrim(): boolean;
  /** pipe2(O_CLOEXEC): [readFd, writeFd] (older prebuilds lack it). */
  pipe?(): [number, number];
  /** V8's SetFlagsFromString, as node:v8's (native/v8flags.c): false when the host has none (older prebuilds lack it). */
  setV8Flags?(flags: string): boolean;
  /**
   * fork and exec of path with args (args[0] included) in cwd, its stdin, stdout and stderr the
   * three descriptors given (native/spawn.c): the child's pid; throws with the errno of a failed
   * chdir or exec (older prebuilds lack it).
   */
  spawnChild?(
    path: string,
    args: string[],
    cwd: string,
    stdio: [number, number, number],
    /** Kept off the caller's CPU until childAnyCpu (native/spawn.c says why). */
    apart?: boolean,
  ): number;
  /** Waits for a child of spawnChild (on libuv's thread pool): its exit code, or the signal that ended it. */
  waitChild?(pid: number): Promise<{ code: number | null; signal: number | null }>;
  /** Lets a child spawned `apart` run on every CPU again: false when it has ended (older prebuilds lack it). */
  childAnyCpu?(pid: number): boolean;
  progInfo(fd: number): {
    id: number;
    name: string;
    tag: string;
    runTimeNs: bigint;
    runCount: bigint;
    recursionMisses: bigint;
  };
  mapIds(): number[];
  linkIds(): number[];
  /*
   * Map element calls. `sizes` is the caller's copy of the map's
   * [key_size, value_size, type] (what the buffers are checked against);
   * without it the addon asks the kernel on every call.
   */
  mapLookup(fd: number, key: Uint8Array, value: Uint8Array, sizes?: Uint32Array): boolean;
  mapUpdate(fd: number, key: Uint8Array, value: Uint8Array, flags: number, sizes?: Uint32Array): void;
  mapDelete(fd: number, key: Uint8Array, sizes?: Uint32Array): boolean;
  /**
   * Up to count entries after inBatch (null: from the start), keys and values
   * packed back to back (bpf_map_lookup_batch, Linux 5.6+; hash and array
   * maps). Batch tokens are opaque buffers of max(key_size, 8) bytes; pass
   * outBatch as the next call's inBatch. done: no entries are left.
   */
  mapLookupBatch: BatchRead;
  /** As mapLookupBatch, deleting what it returns (bpf_map_lookup_and_delete_batch, Linux 5.6+; hash maps). */
  mapLookupAndDeleteBatch: BatchRead;
  /**
   * Writes count entries, keys and values packed back to back (bpf_map_update_batch, Linux 5.6+);
   * returns how many. A failure's NativeError carries `done`: the entries written before it.
   */
  mapUpdateBatch(
    fd: number,
    keys: Uint8Array,
    values: Uint8Array,
    count: number,
    flags: number,
    sizes?: Uint32Array,
  ): number;
  /** Deletes count keys packed back to back (bpf_map_delete_batch, Linux 5.6+); a missing key fails with ENOENT and `done`. */
  mapDeleteBatch(fd: number, keys: Uint8Array, count: number, sizes?: Uint32Array): number;
  /** Looks up and deletes in one step (a pop, with a null key, on queues and stacks; Linux 4.20+). */
  mapLookupAndDelete(fd: number, key: Uint8Array | null, value: Uint8Array, sizes?: Uint32Array): boolean;
  /** Writes the key after `key` (or the first key when key is null) into next; false at the end. */
  mapNextKey(fd: number, key: Uint8Array | null, next: Uint8Array, sizes?: Uint32Array): boolean;
  closeFd(fd: number): void;
  /** What libbpf printed, every level, during the last addon call that started a new log (an open, a load). */
  libbpfLog(): string;
  /**
   * perf_event_open(2) with PERF_FLAG_FD_CLOEXEC → the event's fd. A
   * sampleFreq above 0 samples at that frequency (attr.freq); otherwise one
   * sample every samplePeriod events (0: a counting event).
   */
  perfEventOpen(opts: {
    type: number;
    config: number | bigint;
    samplePeriod: number;
    sampleFreq: number;
    pid: number;
    cpu: number;
    groupFd: number;
    disabled: boolean;
    /** attr.sample_type (PERF_SAMPLE_* bits). */
    sampleType?: number | bigint;
    /** perf_event_attr's flag word (exclude_kernel = bit 5, …); disabled and freq come from their fields. */
    flags?: number | bigint;
    wakeupEvents?: number;
    bpType?: number;
    /** Also attr.bp_addr. */
    config1?: number | bigint;
    /** Also attr.bp_len. */
    config2?: number | bigint;
    /** Or-ed into perf_event_open's flags (PERF_FLAG_FD_CLOEXEC always is). */
    extraFlags?: number | bigint;
  }): number;
  /** This process's RLIMIT_MEMLOCK in bytes (-1: unlimited). */
  memlockRlimit(): { cur: number; max: number };
  /** Sets this process's RLIMIT_MEMLOCK in bytes (-1: unlimited; raising the hard limit needs CAP_SYS_RESOURCE). */
  setMemlockRlimit(cur: number, max: number): void;
  /**
   * libbpf_set_memlock_rlim: what libbpf raises RLIMIT_MEMLOCK to before 5.11 (-1: unlimited, 0: never);
   * false when this libbpf does not export it (1.1); EBUSY once libbpf has decided.
   */
  libbpfSetMemlockRlim(bytes: number): boolean;
  /**
   * Attaches a BPF_PROG_TYPE_PERF_EVENT program to the perf event pfd
   * (bpf_program__attach_perf_event, which enables it). The link owns pfd
   * (destroying it closes the event); pfd is closed when the attach fails.
   */
  attachPerfEvent(obj: NativeObject, program: string, pfd: number): NativeLink;
  /** fentry, fexit or tp_btf program on the target set before load (bpf_program__attach_trace). */
  attachTrace(obj: NativeObject, program: string): NativeLink;
  /** A BPF LSM program on the hook set before load (bpf_program__attach_lsm). */
  /** A program on a cgroup as a bpf_link (bpf_program__attach_cgroup, Linux 5.7+), given the cgroup directory's fd. */
  attachCgroup(obj: NativeObject, program: string, cgroupFd: number): NativeLink;
  /** BPF_PROG_ATTACH: a program fd on a target fd (cgroup, sockmap, netns) with an attach type; stays until detached. */
  progAttach(progFd: number, targetFd: number, attachType: number, flags: number): void;
  /** BPF_PROG_DETACH of that program from the target. */
  progDetach(progFd: number, targetFd: number, attachType: number): void;
  /** A BPF iterator's link (bpf_program__attach_iter, Linux 5.8+); mapFd for map iterators, else -1. */
  attachIter(obj: NativeObject, program: string, mapFd: number): NativeLink;
  /** A new iterator fd on an iterator link (bpf_iter_create): read it to the end, then close it. */
  iterCreate(linkFd: number): number;
  attachLsm(obj: NativeObject, program: string): NativeLink;
  /**
   * Loads a minimal program of progType / attachType on the first of
   * targets found in the vmlinux BTF (functions; "btf_trace_X" typedefs for
   * BPF_TRACE_RAW_TP) and attaches it, then releases both. result: 1 yes, 0
   * the kernel refused (errno, at stage "load" or "attach"), negative errno:
   * could not tell (stage "btf": no kernel BTF or no target in it).
   */
  probeBtfAttach(
    progType: number,
    attachType: number,
    targets: string[],
  ): { result: number; errno: number; stage: "" | "btf" | "load" | "attach" };
  /** if_nametoindex(3) in this process's network namespace; 0 when there is no such device. */
  ifNameToIndex(name: string): number;
  /** bpf_xdp_attach; with oldProgFd >= 0 and XDP_FLAGS_REPLACE, only replaces that program. */
  xdpAttach(ifindex: number, progFd: number, flags: number, oldProgFd: number): void;
  /** bpf_xdp_detach; with oldProgFd >= 0 and XDP_FLAGS_REPLACE, only if that program is attached. */
  xdpDetach(ifindex: number, flags: number, oldProgFd: number): void;
  /** bpf_xdp_query: the XDP program ids on a device (0: none) and XDP_ATTACHED_* mode. */
  xdpQuery(ifindex: number): {
    progId: number;
    drvProgId: number;
    hwProgId: number;
    skbProgId: number;
    attachMode: number;
  };
  /**
   * An XDP bpf_link (BPF_LINK_CREATE, BPF_XDP; Linux 5.9+) → its fd; closing it detaches the program.
   * flags: an XDP_FLAGS_*_MODE bit or 0 (the kernel refuses other flags on a link). EBUSY when a program
   * is attached in that mode already (a link never replaces one); EINVAL before 5.9.
   */
  xdpLinkCreate(ifindex: number, progFd: number, flags: number): number;
  /** Detaches every XDP bpf_link on the device, whoever holds it (BPF_LINK_DETACH, Linux 5.9+); how many. */
  xdpLinkDetach(ifindex: number): number;
  /** The ids of the XDP bpf_links on the device (Linux 5.9+). */
  xdpLinkIds(ifindex: number): number[];
  /** Puts another program on a bpf_link, atomically (BPF_LINK_UPDATE; XDP links: Linux 5.9+). */
  linkUpdate(linkFd: number, progFd: number): void;
  /** A non-blocking AF_PACKET SOCK_RAW socket (ETH_P_ALL) bound to ifindex; returns its fd. */
  openRawSocket(ifindex: number): number;
  /** setsockopt(SO_ATTACH_BPF): runs the socket filter program progFd on sockFd. */
  attachSocketFilter(sockFd: number, progFd: number): void;
  /** libstdc++'s abi::__cxa_demangle: the demangled name, or null when it is not a mangled C++ name. */
  demangle(name: string): string | null;
  /** A 64-bit digest of the bytes (32 hex digits; not cryptographic): cache keys of whole files. */
  digest(bytes: Uint8Array): string;
  /**
   * Every file under dir as "path:size:mtime" lines, names in byte order
   * (src/compile/headers_dir.ts). Absent from an addon built before it.
   */
  treeStamps?(dir: string): string;
  /**
   * Where each type of a BTF type section (32-bit words, host byte order)
   * starts: offsets[id] in words (offsets[0] unused); count (void included);
   * entries, the type and enumerator names; end, the words the types use;
   * enums, the ENUM and ENUM64 ids. A malformed section stops at type stopId
   * (word stopAt): an unknown kind ("kind") or a type past the end ("end").
   */
  btfTypeOffsets(words: Uint32Array): {
    offsets: Uint32Array;
    count: number;
    entries: number;
    end: number;
    enums: Uint32Array;
    stop?: "kind" | "end";
    stopId?: number;
    stopAt?: number;
  };
  /** The types of a BTF type section named at one of the string offsets: pairs [id, index in nameOffs], ids ascending; null when the section is malformed. */
  btfTypesNamed(words: Uint32Array, nameOffs: Uint32Array): Uint32Array | null;
  /** Which of `names`, and which names starting with one of `prefixes` (identifiers all), a `#define` in the files names (unreadable files skipped). */
  scanDefines(files: string[], names: string[], prefixes: string[]): string[];
  /** scanDefines over files and every file under directories (links followed); older prebuilds lack it. */
  scanDefinesIn?(paths: string[], names: string[], prefixes: string[]): string[];
  /**
   * A read-only mapping of the whole file, unmapped when the buffer is
   * collected; writing to it kills the process. Throws a NativeError when
   * the file cannot be mapped (sysfs's BTF before Linux 6.15).
   */
  mapFile(path: string): ArrayBuffer;
  /**
   * The file's bytes as a string of one-byte characters, kept in a
   * read-only mapping of the file (a V8 external string) rather than on the
   * heap; undefined when this Node cannot make one. The file must not be
   * truncated while the string lives. Throws a NativeError when the file
   * cannot be mapped.
   */
  mapText(path: string): string | undefined;
}

let addon: NativeAddon | undefined;
let addonFile: string | undefined;

/** The Debian packages that building the addon from source needs. */
export const ADDON_BUILD_PACKAGES = "libbpf-dev libelf-dev zlib1g-dev pkg-config make g++ python3";

/** The error when no addon loads: what was tried, and how to build one. */
function addonError(root: string, tried: { path: string; reason: string }[]): AddonError {
  if (process.platform !== "linux")
    return new AddonError(
      tried,
      `tsbpf runs on Linux only (eBPF is a Linux kernel facility); this is ${process.platform}`,
    );
  const checkout = existsSync(join(root, "scripts", "bootstrap.sh"));
  const fix = checkout
    ? "build it: sh scripts/bootstrap.sh (installs what the build needs, then builds the addon)"
    : `the package's prebuilt addon covers linux-x64 and linux-arm64 with glibc 2.28 or later; to build the addon from source, install ${ADDON_BUILD_PACKAGES.split(" ").join(", ")} (apt-get install ${ADDON_BUILD_PACKAGES}), then run: cd ${join(root, "native")} && npx --yes node-gyp rebuild`;
  return new AddonError(tried, fix);
}

/**
 * Loads the addon once (native_load.ts's addonCandidates says from where).
 * @throws AddonError when none fits: each file tried and why, and how to build one.
 */
export function native(): NativeAddon {
  if (addon === undefined) {
    const root = packageRoot();
    const loaded = loadAddon(root);
    if (loaded.addon === undefined) throw addonError(root, loaded.tried);
    addon = loaded.addon as NativeAddon;
    addonFile = loaded.file;
  }
  return addon;
}

/** The file the addon was loaded from (undefined before the first {@link native} call). */
export function nativeAddonPath(): string | undefined {
  return addonFile;
}
