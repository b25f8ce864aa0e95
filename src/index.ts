/**
 * tsbpf: bcc, reborn in TypeScript. The public surface, nothing else.
 */
export { Iter, kernelIterTargets } from "./attach/iter.js";
export {
  PerfBreakpointType,
  type PerfEventAttr,
  PerfEventOpenFlag,
  type PerfEventRawOptions,
  PerfEventSampleFormat,
  PerfHWConfig,
  PerfSWConfig,
  PerfType,
} from "./attach/perf_event.js";
export type { UprobeDetachOptions, UprobeOptions } from "./attach/uprobe.js";
export {
  type EnabledUsdtProbe,
  parseUsdtArgument,
  USDT,
  type UsdtArgument,
  type UsdtLocation,
  type UsdtProbe,
} from "./attach/usdt.js";
export {
  XDP_FLAGS_DRV_MODE,
  XDP_FLAGS_HW_MODE,
  XDP_FLAGS_REPLACE,
  XDP_FLAGS_SKB_MODE,
  XDP_FLAGS_UPDATE_IF_NOEXIST,
  XDPAction,
  XDPFlags,
  type XdpAttachOptions,
} from "./attach/xdp.js";
export { BPF, type ProgramStats } from "./bpf.js";
export {
  DEBUG_BPF,
  DEBUG_BPF_REGISTER_STATE,
  DEBUG_BTF,
  DEBUG_LLVM_IR,
  DEBUG_PREPROCESSOR,
  DEBUG_SOURCE,
} from "./compile/compile.js";
export {
  BPF_STACK_BUILD_ID_EMPTY,
  BPF_STACK_BUILD_ID_IP,
  BPF_STACK_BUILD_ID_VALID,
  type BuildIdFrame,
} from "./elf/buildid_syms.js";
export type { UserFunctionAddress } from "./elf/procmaps.js";
export {
  type BucketType,
  type CounterSpec,
  type GaugeSpec,
  type HistogramSpec,
  MapMetric,
  type MapMetrics,
  type MetricLabel,
  type MetricSpec,
  type MetricsRegistry,
  type SpecOrigin,
} from "./export/metrics.js";
export {
  AttachType as BPFAttachType,
  MapType as BPFMapType,
  mapTypeName,
  ProgType as BPFProgType,
} from "./kernel/constants.js";
export {
  AddonError,
  AttachError,
  BpfError,
  BtfError,
  CacheError,
  ClosedError,
  CompileError,
  ConfigError,
  type Diagnostic,
  ElfError,
  MapFullError,
  NotSupportedError,
  PermissionError,
  PinError,
  VerifierError,
} from "./kernel/errors.js";
export type { Support } from "./kernel/features.js";
export { onlineCpus, possibleCpus } from "./kernel/kernel_info.js";
export type { TraceLine } from "./kernel/trace_pipe.js";
export type { LoadedFunction } from "./loader.js";
export {
  type PerfBufferOptions,
  PerfEventArray,
  RingBuf,
  type RingBufferOptions,
} from "./maps/event_tables.js";
export type { DecodeTableOptions } from "./maps/layout.js";
export type { GetTableOptions } from "./maps/object_tables.js";
export {
  ArrayTable,
  BPF_ANY,
  BPF_EXIST,
  BPF_NOEXIST,
  CgroupArray,
  HashTable,
  LpmTrie,
  MapInMap,
  PerCpuArray,
  PerCpuHash,
  ProgArray,
  QueueStack,
  StackTrace,
  Table,
  type TableCodec,
} from "./maps/table.js";
export type { LoadOptions, OpenOptions } from "./options.js";
export {
  type FlameGraphOptions,
  type FoldedStack,
  flameGraphSvg,
  parseFolded,
} from "./profile/flamegraph.js";
export { type PprofOptions, pprofProfile, type StackCount } from "./profile/pprof.js";
export {
  readStackCounts,
  type StackCountOptions,
  StackCounts,
  type StackRow,
  stackIdErr,
  stripV8Markers,
} from "./profile/stack_counts.js";
