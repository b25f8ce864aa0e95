/**
 * Typed data from BTF: the parser ({@link Btf}), codecs between bytes and
 * JavaScript values ({@link codecFor}) and TypeScript declarations
 * ({@link emitDts}).
 */
export {
  BTF_KIND,
  BTF_MAGIC,
  BTF_PTR_SIZE,
  Btf,
  type BtfArray,
  type BtfComposite,
  type BtfDatasec,
  type BtfDeclTag,
  type BtfEnum,
  type BtfEnum64,
  type BtfEnum64Value,
  type BtfEnumValue,
  BtfError,
  type BtfFloat,
  type BtfFunc,
  type BtfFuncProto,
  type BtfFwd,
  type BtfInt,
  type BtfKind,
  type BtfMapDef,
  type BtfMember,
  type BtfModifier,
  type BtfParam,
  type BtfPtr,
  type BtfType,
  type BtfTypeBase,
  type BtfVar,
  type BtfVarSecinfo,
  type BtfVoid,
  type DatasecVar,
  mapDefFromBtf,
} from "./btf.js";
export { type Codec, type CodecOptions, codecFor, decodeFromBytes, encodeToBytes } from "./codec.js";
export { type DtsMap, type EmitDtsOptions, emitDts, type TsTypeOptions, tsTypeFor } from "./dts.js";
