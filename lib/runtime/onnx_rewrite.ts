/**
 * Small, byte-level rewrites of ONNX model files (protobuf), done before onnxruntime loads
 * them: a symbolic batch dimension, opset-8 Clip upgraded for WebGPU, and the tiny probe model
 * that checks WebGPU can run a kernel. No protobuf library: only the fields touched are parsed.
 */

/**
 * The model with the batch dimension (dim 0) of its graph inputs and outputs made symbolic
 * ("batch") where it is declared as a fixed 1, so that onnxruntime accepts several crops in one
 * run. Everything else is copied byte for byte. Returns the input unchanged when nothing was
 * fixed at 1.
 *
 * Only safe for graphs that treat batch items independently (fully convolutional models such
 * as SimplePose); a graph that reshapes with a hard-coded batch fails or mixes items, so a
 * caller must check a batched run against single runs before relying on it. Bytes that are not
 * a well-formed protobuf message come back unchanged too (onnxruntime reports those).
 */
export function withSymbolicBatch(model: Uint8Array): Uint8Array {
  try {
    return relaxBatch(model);
  } catch {
    return model;
  }
}

function relaxBatch(model: Uint8Array): Uint8Array {
  // ModelProto.graph = 7; GraphProto.input = 11, output = 12, initializer = 5;
  // TensorProto.name = 8; ValueInfoProto.name = 1, type = 2; TypeProto.tensor_type = 1;
  // TypeProto.Tensor.shape = 2; TensorShapeProto.dim = 1; Dimension.dim_value = 1,
  // dim_param = 2.
  let changed = false;
  const relaxed = mapMessageFields(model, 7, (graph) => {
    // Old exports list the weights among the graph inputs too; leave those alone.
    const weights = new Set<string>();
    for (const field of messageFields(graph)) {
      if (field.number !== 5 || field.wireType !== 2) continue;
      const name = messageFields(field.payload!).find((f) => f.number === 8)?.payload;
      if (name) weights.add(TEXT_DECODER.decode(name));
    }
    const relaxValue = (valueInfo: Uint8Array) => {
      const name = messageFields(valueInfo).find((f) => f.number === 1)?.payload;
      if (name && weights.has(TEXT_DECODER.decode(name))) return undefined;
      return mapMessageFields(
        valueInfo,
        2,
        (type) =>
          mapMessageFields(
            type,
            1,
            (tensor) =>
              mapMessageFields(tensor, 2, (shape) =>
                mapMessageFields(shape, 1, (dim) => {
                  const [first] = messageFields(dim);
                  if (!first || first.number !== 1 || first.value !== 1) {
                    return undefined;
                  }
                  changed = true;
                  return Uint8Array.from(protoField(2, "batch"));
                }, true)),
          ),
      );
    };
    return mapMessageFields(mapMessageFields(graph, 11, relaxValue), 12, relaxValue);
  });
  return changed ? relaxed : model;
}

/**
 * Operators whose meaning is the same at opset 11 as at any opset from 7 to 10 (newer
 * versions only add options whose defaults keep the old behaviour), given the attribute
 * checks in `withOpset11Clip`.
 */
const OPSET_11_SAFE_OPS = new Set([
  "Add",
  "AveragePool",
  "BatchNormalization",
  "Clip",
  "Concat",
  "Conv",
  "ConvTranspose",
  "Div",
  "GlobalAveragePool",
  "GlobalMaxPool",
  "Identity",
  "LeakyRelu",
  "MaxPool",
  "Mul",
  "PRelu",
  "Relu",
  "Sigmoid",
  "Sub",
  "Sum",
  "Tanh",
]);

/**
 * Old exports (opset 7 to 10) write ReLU6 as Clip with `min`/`max` attributes, and
 * onnxruntime's WebGPU backend only has Clip kernels from opset 11 on (bounds as inputs).
 * Each such node then runs on the CPU, costing a GPU→CPU→GPU round trip per node per run
 * (34 per SimplePose crop). This returns the model moved to opset 11 with those Clip nodes
 * rewritten to take their bounds as scalar initializers: the same computation, all on the
 * GPU. Models it cannot prove safe (other domains, operators outside a short list of ones
 * that did not change meaning up to opset 11, legacy attributes) come back unchanged, as do
 * models without such Clip nodes.
 */
export function withOpset11Clip(model: Uint8Array): Uint8Array {
  try {
    return upgradeClip(model);
  } catch {
    return model; // Not a well-formed model: onnxruntime will say what is wrong with it.
  }
}

function upgradeClip(model: Uint8Array): Uint8Array {
  // ModelProto: ir_version = 1, opset_import = 8, graph = 7. OperatorSetIdProto: domain = 1,
  // version = 2. GraphProto: node = 1, initializer = 5. NodeProto: input = 1, op_type = 4,
  // attribute = 5, domain = 7. AttributeProto: name = 1, f = 2.
  const top = messageFields(model);
  const opsets = top.filter((f) => f.number === 8).map((f) => messageFields(f.payload!));
  const defaultOpset = opsets.find((o) => !o.find((f) => f.number === 1)?.payload?.length);
  const version = defaultOpset?.find((f) => f.number === 2)?.value ?? 0;
  if (opsets.length !== 1 || version < 7 || version > 10) return model;
  const graphField = top.find((f) => f.number === 7);
  if (!graphField) return model;

  const text = (bytes: Uint8Array | undefined) => (bytes ? TEXT_DECODER.decode(bytes) : "");
  const attributeName = (f: ProtoField) =>
    text(messageFields(f.payload!).find((a) => a.number === 1)?.payload);
  let clips = 0;
  for (const field of messageFields(graphField.payload!)) {
    if (field.number !== 1) continue;
    const node = messageFields(field.payload!);
    const op = text(node.find((f) => f.number === 4)?.payload);
    const attributes = node.filter((f) => f.number === 5).map(attributeName);
    if (text(node.find((f) => f.number === 7)?.payload) !== "") return model;
    if (!OPSET_11_SAFE_OPS.has(op)) return model;
    if (op === "BatchNormalization" && attributes.includes("spatial")) return model;
    if (op === "ConvTranspose" && attributes.includes("output_shape")) return model;
    if (op === "Clip") clips++;
  }
  if (clips === 0) return model;

  // One scalar initializer per distinct bound value.
  const bounds = new Map<string, { name: string; bytes: number[] }>();
  const boundName = (f32: Uint8Array) => {
    const key = Array.from(f32).join(",");
    let bound = bounds.get(key);
    if (!bound) {
      bound = { name: `posekit_clip_bound_${bounds.size}`, bytes: Array.from(f32) };
      bounds.set(key, bound);
    }
    return bound.name;
  };
  const graph = mapMessageFields(graphField.payload!, 1, (nodeBytes) => {
    const node = messageFields(nodeBytes);
    if (text(node.find((f) => f.number === 4)?.payload) !== "Clip") return undefined;
    const limits: Record<string, string> = { min: "", max: "" };
    const kept: number[] = [];
    for (const field of node) {
      const name = field.number === 5 ? attributeName(field) : "";
      if (name === "min" || name === "max") {
        const value = messageFields(field.payload!).find((a) => a.number === 2 && a.wireType === 5);
        if (value) limits[name] = boundName(value.payload!);
      } else kept.push(...field.raw);
    }
    // Inputs come first in NodeProto order, so the bounds follow the data input.
    return Uint8Array.from([...kept, ...protoField(1, limits.min), ...protoField(1, limits.max)]);
  });
  const initializers: Uint8Array[] = [];
  for (const { name, bytes } of bounds.values()) {
    // TensorProto: data_type = 2 (1 = FLOAT), name = 8, raw_data = 9; no dims: a scalar.
    const tensor = [...protoField(2, 1), ...protoField(8, name), ...protoField(9, bytes)];
    initializers.push(Uint8Array.from(protoField(5, tensor)));
  }
  const parts: Uint8Array[] = [];
  for (const field of top) {
    if (field.number === 1) parts.push(Uint8Array.from(protoField(1, Math.max(field.value!, 6))));
    else if (field.number === 8) {
      parts.push(Uint8Array.from(protoField(8, [...protoField(1, ""), ...protoField(2, 11)])));
    } else if (field.number === 7) {
      const body = concatBytes([graph, ...initializers]);
      const head: number[] = [];
      pushVarint(head, (7 << 3) | 2);
      pushVarint(head, body.length);
      parts.push(Uint8Array.from(head), body);
    } else parts.push(field.raw);
  }
  return concatBytes(parts);
}

/** What `withoutBatchNormSpatial` did: the model bytes and how many nodes it repaired. */
export interface BatchNormRepair {
  /** The repaired model, or the input itself when nothing needed repairing. */
  bytes: Uint8Array;
  /** BatchNormalization nodes whose `spatial` attribute was removed. */
  repaired: number;
  /**
   * Records the walk kept in memory (BatchNormalization nodes with `spatial`, their
   * attributes, and the initializers they name): whatever else the file holds is walked
   * without keeping anything, so this stays small for any file (at most
   * `MAX_REPAIR_RECORDS`). Reported so that tests can check it.
   */
  records: number;
}

/** Options of `withoutBatchNormSpatial`. */
export interface BatchNormRepairOptions {
  /** The model's file or URL, named in errors (default "the model"). */
  source?: string;
}

/**
 * The most records the legacy repair keeps (see `BatchNormRepair.records`): far above a real
 * model (SimplePose has 58 such nodes), far below what would exhaust memory (a few hundred
 * bytes each).
 */
export const MAX_REPAIR_RECORDS = 100_000;

/** A model the legacy repair refuses (it names the file), as opposed to malformed bytes. */
export class LegacyRepairError extends Error {
  /** The error for `source`, with `reason`. */
  constructor(source: string, reason: string) {
    super(`${source}: ${reason}`);
    this.name = "LegacyRepairError";
  }
}

/**
 * The model with the obsolete `spatial` attribute removed from every BatchNormalization node
 * of its main graph, which onnxruntime refuses (it only knows the opset 9+ operator, where the
 * statistics are always per channel). Everything else is copied byte for byte.
 *
 * Why this is exact: in opsets 7 and 8, `spatial = 1` (the default) means per-channel scale,
 * bias, mean and variance of shape [C], which is what every later opset computes; removing it
 * changes nothing. `spatial = 0` means per-activation statistics of shape [C, D1, …, Dn]; when
 * the model's scale, bias, mean and variance are nonetheless rank-1 initializers of one length
 * C (as in MXNet exports, such as Ultralight-SimplePose's 58 nodes), each activation of channel
 * c uses the same values, which is the per-channel computation again: the label is inert and
 * removing it is exact. A `spatial = 0` node whose statistics are not such [C] initializers
 * cannot be repaired this way, and the function throws a LegacyRepairError naming the node.
 *
 * It runs on every model before onnxruntime, so it walks the file lazily: fields are visited
 * in place, and only BatchNormalization nodes with `spatial` (and the initializers they name)
 * are kept, at most `MAX_REPAIR_RECORDS` of them (a LegacyRepairError naming the file beyond
 * that). A file of millions of tiny fields once took 90 bytes of heap per byte here.
 *
 * Returns the input itself and 0 when no node carries the attribute, and also when the bytes
 * are not a well-formed protobuf message (onnxruntime reports those).
 */
export function withoutBatchNormSpatial(
  model: Uint8Array,
  options: BatchNormRepairOptions = {},
): BatchNormRepair {
  const source = options.source ?? "the model";
  let found: SpatialScan;
  try {
    found = scanBatchNormSpatial(model, source);
  } catch (error) {
    if (error instanceof LegacyRepairError) throw error;
    return { bytes: model, repaired: 0, records: 0 };
  }
  if (found.refused.length > 0) {
    throw new LegacyRepairError(
      source,
      `cannot repair the legacy BatchNormalization "spatial" attribute: ${
        found.refused.join("; ")
      }. Re-export the model with opset 9 or later.`,
    );
  }
  if (found.repairable === 0) return { bytes: model, repaired: 0, records: found.records };
  // ModelProto.graph = 7 (the first); GraphProto.node = 1.
  const bytes = spliceFields(
    model,
    0,
    model.length,
    7,
    true,
    (graphFrom, graphTo) =>
      spliceFields(
        model,
        graphFrom,
        graphTo,
        1,
        false,
        (from, to) => batchNormWithoutSpatial(model, from, to),
      ),
  );
  return { bytes, repaired: found.repairable, records: found.records };
}

/** What the scan found: repairable nodes, refusals, and how many records it kept. */
interface SpatialScan {
  repairable: number;
  refused: string[];
  records: number;
}

/** A BatchNormalization node with `spatial`, as the scan keeps it. */
interface SpatialNode {
  /** Its name, or a description by its first input. */
  name: string;
  /** Its inputs X, scale, B, mean, var (the first five). */
  inputs: string[];
  /** The first `spatial` attribute's value. */
  spatial: number;
}

/** An initializer's dims as the scan keeps them: the first few, and how many there are. */
interface InitializerDims {
  dims: number[];
  count: number;
}

/** Dims of an initializer kept for messages; a [C] check needs only the first. */
const KEPT_DIMS = 8;

/**
 * Counts the BatchNormalization nodes with `spatial` that can be repaired and lists the
 * others, keeping only those nodes and the initializers their `spatial = 0` nodes name.
 * Throws on malformed bytes (the caller then leaves the model alone) and a
 * LegacyRepairError past `MAX_REPAIR_RECORDS`.
 */
function scanBatchNormSpatial(model: Uint8Array, source: string): SpatialScan {
  let records = 0;
  const keep = (count: number) => {
    records += count;
    if (records > MAX_REPAIR_RECORDS) {
      throw new LegacyRepairError(
        source,
        `more than ${MAX_REPAIR_RECORDS} BatchNormalization nodes and attributes carry the ` +
          `legacy "spatial" attribute, far more than any real model; not repaired (is the ` +
          `file damaged?)`,
      );
    }
  };
  const graph = firstField(model, 0, model.length, 7);
  if (!graph) return { repairable: 0, refused: [], records };
  let repairable = 0;
  const pending: SpatialNode[] = [];
  const nodes = new FieldCursor(model, graph.from, graph.to);
  while (nodes.next()) {
    if (nodes.number !== 1 || nodes.wireType !== 2) continue;
    const node = spatialBatchNorm(model, nodes.payloadStart, nodes.end, keep);
    if (node?.spatial === 1) repairable++;
    else if (node) pending.push(node);
  }
  if (pending.length === 0) return { repairable, refused: [], records };

  const initializers = namedInitializerDims(model, graph, pending, keep);
  const refused: string[] = [];
  for (const node of pending) {
    const shapes = node.inputs.slice(1, 5).map((name) => initializers.get(name));
    const perChannel = shapes.length === 4 &&
      shapes.every((s) => s?.count === 1 && s.dims[0] === shapes[0]!.dims[0]);
    if (perChannel) {
      repairable++;
      continue;
    }
    const described = node.inputs.slice(1, 5).map((name, i) => {
      const shape = shapes[i];
      if (!shape) return `"${name}" (not an initializer)`;
      const more = shape.count > shape.dims.length ? ", …" : "";
      return `"${name}" [${shape.dims.join(", ")}${more}]`;
    });
    refused.push(
      `node "${node.name}" has spatial=${node.spatial} and its scale, bias, mean and variance ` +
        `are not one [C] each (${described.join(", ")}), so they are per-activation statistics`,
    );
  }
  return { repairable, refused, records };
}

/**
 * The node at `bytes[from, to)` when it is a default-domain BatchNormalization with a
 * `spatial` attribute (`keep` counts it and its `spatial` attributes), else undefined.
 */
function spatialBatchNorm(
  bytes: Uint8Array,
  from: number,
  to: number,
  keep: (count: number) => void,
): SpatialNode | undefined {
  // NodeProto: input = 1, name = 3, attribute = 5.
  if (!isBatchNorm(bytes, from, to)) return undefined;
  let spatial: number | undefined;
  let spatialCount = 0;
  const inputs: string[] = [];
  const fields = new FieldCursor(bytes, from, to);
  while (fields.next()) {
    if (fields.wireType !== 2) continue;
    if (fields.number === 1 && inputs.length < 5) inputs.push(fields.text());
    if (fields.number === 5 && isSpatialAttribute(bytes, fields.payloadStart, fields.end)) {
      spatial ??= attributeInt(bytes, fields.payloadStart, fields.end);
      spatialCount++;
    }
  }
  if (spatial === undefined) return undefined;
  keep(1 + spatialCount);
  const name = firstField(bytes, from, to, 3);
  return {
    name: name
      ? TEXT_DECODER.decode(bytes.subarray(name.from, name.to))
      : `with input "${inputs[0] ?? ""}"`,
    inputs,
    spatial,
  };
}

/**
 * Dims of the initializers (GraphProto.initializer = 5) that the `nodes` name as statistics,
 * by name; the others are walked over without keeping anything.
 */
function namedInitializerDims(
  bytes: Uint8Array,
  graph: FieldRange,
  nodes: SpatialNode[],
  keep: (count: number) => void,
): Map<string, InitializerDims> {
  const wanted = new Set(nodes.flatMap((node) => node.inputs.slice(1, 5)));
  const found = new Map<string, InitializerDims>();
  const fields = new FieldCursor(bytes, graph.from, graph.to);
  while (fields.next()) {
    if (fields.number !== 5 || fields.wireType !== 2) continue;
    // TensorProto: dims = 1 (int64, packed or not), name = 8.
    const name = lastField(bytes, fields.payloadStart, fields.end, 8);
    const text = name ? TEXT_DECODER.decode(bytes.subarray(name.from, name.to)) : "";
    if (!wanted.has(text)) continue;
    if (!found.has(text)) keep(1);
    found.set(text, tensorDims(bytes, fields.payloadStart, fields.end));
  }
  return found;
}

/** A TensorProto's dims (field 1, packed or not): the first `KEPT_DIMS` and the count. */
function tensorDims(bytes: Uint8Array, from: number, to: number): InitializerDims {
  const dims: number[] = [];
  let count = 0;
  const add = (dim: number) => {
    if (count++ < KEPT_DIMS) dims.push(dim);
  };
  const fields = new FieldCursor(bytes, from, to);
  while (fields.next()) {
    if (fields.number !== 1) continue;
    if (fields.wireType === 0) add(fields.value);
    else if (fields.wireType === 2) {
      for (let at = fields.payloadStart; at < fields.end;) {
        let dim: number;
        [dim, at] = readVarint(bytes, at, fields.end);
        add(dim);
      }
    }
  }
  return { dims, count };
}

/** True for a NodeProto at `bytes[from, to)` of the default-domain BatchNormalization. */
function isBatchNorm(bytes: Uint8Array, from: number, to: number): boolean {
  // NodeProto.op_type = 4, domain = 7.
  const op = firstField(bytes, from, to, 4);
  if (!op || !equalsText(bytes, op.from, op.to, "BatchNormalization")) return false;
  const domain = firstField(bytes, from, to, 7);
  return !domain || domain.to === domain.from ||
    equalsText(bytes, domain.from, domain.to, "ai.onnx");
}

/** True for an AttributeProto at `bytes[from, to)` whose name (field 1) is "spatial". */
function isSpatialAttribute(bytes: Uint8Array, from: number, to: number): boolean {
  const name = firstField(bytes, from, to, 1);
  return name !== undefined && equalsText(bytes, name.from, name.to, "spatial");
}

/** An AttributeProto's `i` (field 3; absent means 0). */
function attributeInt(bytes: Uint8Array, from: number, to: number): number {
  const fields = new FieldCursor(bytes, from, to);
  while (fields.next()) if (fields.number === 3) return fields.value;
  return 0;
}

/**
 * The BatchNormalization node at `bytes[from, to)` without its `spatial` attributes, or
 * undefined when it is another node or has none.
 */
function batchNormWithoutSpatial(
  bytes: Uint8Array,
  from: number,
  to: number,
): Uint8Array | undefined {
  if (!isBatchNorm(bytes, from, to)) return undefined;
  const parts: Uint8Array[] = [];
  let copied = from;
  const fields = new FieldCursor(bytes, from, to);
  while (fields.next()) {
    const spatial = fields.number === 5 && fields.wireType === 2 &&
      isSpatialAttribute(bytes, fields.payloadStart, fields.end);
    if (!spatial) continue;
    parts.push(bytes.subarray(copied, fields.start));
    copied = fields.end;
  }
  if (parts.length === 0) return undefined;
  parts.push(bytes.subarray(copied, to));
  return concatBytes(parts);
}

/**
 * The message at `bytes[from, to)` with the payload of each length-delimited field `number`
 * (with `firstOnly`, only the first) replaced by `replace(payloadFrom, payloadTo)` (kept when
 * that returns undefined). Unchanged runs are copied whole, so the pieces made are as many as
 * the replacements, not as the fields.
 */
function spliceFields(
  bytes: Uint8Array,
  from: number,
  to: number,
  number: number,
  firstOnly: boolean,
  replace: (payloadFrom: number, payloadTo: number) => Uint8Array | undefined,
): Uint8Array {
  const parts: Uint8Array[] = [];
  let copied = from;
  const fields = new FieldCursor(bytes, from, to);
  while (fields.next()) {
    if (fields.number !== number || fields.wireType !== 2) continue;
    const replaced = replace(fields.payloadStart, fields.end);
    if (replaced) {
      const head: number[] = [];
      pushVarint(head, (number << 3) | 2);
      pushVarint(head, replaced.length);
      parts.push(bytes.subarray(copied, fields.start), Uint8Array.from(head), replaced);
      copied = fields.end;
    }
    if (firstOnly) break;
  }
  parts.push(bytes.subarray(copied, to));
  return concatBytes(parts);
}

/** Where a length-delimited field's payload lies in the bytes. */
interface FieldRange {
  from: number;
  to: number;
}

/** The payload of the first length-delimited field `number` in `bytes[from, to)`. */
function firstField(
  bytes: Uint8Array,
  from: number,
  to: number,
  number: number,
): FieldRange | undefined {
  const fields = new FieldCursor(bytes, from, to);
  while (fields.next()) {
    if (fields.number === number && fields.wireType === 2) {
      return { from: fields.payloadStart, to: fields.end };
    }
  }
  return undefined;
}

/** The payload of the last length-delimited field `number` in `bytes[from, to)`. */
function lastField(
  bytes: Uint8Array,
  from: number,
  to: number,
  number: number,
): FieldRange | undefined {
  let found: FieldRange | undefined;
  const fields = new FieldCursor(bytes, from, to);
  while (fields.next()) {
    if (fields.number === number && fields.wireType === 2) {
      found = { from: fields.payloadStart, to: fields.end };
    }
  }
  return found;
}

/** True when `bytes[from, to)` is the UTF-8 (here ASCII) `text`. */
function equalsText(bytes: Uint8Array, from: number, to: number, text: string): boolean {
  if (to - from !== text.length) return false;
  for (let i = 0; i < text.length; i++) if (bytes[from + i] !== text.charCodeAt(i)) return false;
  return true;
}

/**
 * The fields of the message at `bytes[from, to)`, visited in place: one cursor object for
 * all of them, where `messageFields` makes an object and two views per field (which is what
 * ran a file of millions of tiny fields out of memory). Throws on malformed bytes.
 */
class FieldCursor {
  /** The current field's number, wire type and varint value (wire type 0). */
  number = 0;
  wireType = 0;
  value = 0;
  /** Where the current field starts (its tag), where its payload starts, where it ends. */
  start = 0;
  payloadStart = 0;
  end = 0;
  #at: number;

  /** A cursor before the first field of `bytes[from, to)`. */
  constructor(readonly bytes: Uint8Array, from: number, readonly to: number) {
    this.#at = from;
  }

  /** Moves to the next field; false at the end of the message. */
  next(): boolean {
    if (this.#at >= this.to) return false;
    this.start = this.#at;
    let tag: number;
    [tag, this.#at] = readVarint(this.bytes, this.#at, this.to);
    this.number = Math.floor(tag / 8);
    this.wireType = tag % 8;
    if (this.wireType === 0) [this.value, this.#at] = readVarint(this.bytes, this.#at, this.to);
    this.payloadStart = this.#at;
    if (this.wireType === 1) this.#at += 8;
    else if (this.wireType === 5) this.#at += 4;
    else if (this.wireType === 2) {
      let length: number;
      [length, this.payloadStart] = readVarint(this.bytes, this.#at, this.to);
      this.#at = this.payloadStart + length;
    } else if (this.wireType !== 0) {
      throw new Error(`unsupported protobuf wire type ${this.wireType}`);
    }
    if (this.#at > this.to) throw new Error("truncated protobuf message");
    this.end = this.#at;
    return true;
  }

  /** The current payload as text. */
  text(): string {
    return TEXT_DECODER.decode(this.bytes.subarray(this.payloadStart, this.end));
  }
}

function concatBytes(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

const TEXT_DECODER = new TextDecoder();

/** One protobuf field: its number, varint value (wire type 0), or bytes (other types). */
interface ProtoField {
  number: number;
  wireType: number;
  value?: number;
  /** Length-delimited contents (wire type 2), or the 4 or 8 bytes of a fixed-size value. */
  payload?: Uint8Array;
  /** The whole field as encoded, tag included. */
  raw: Uint8Array;
}

/** The varint at `at` (ending before `end`) and the offset after it. */
function readVarint(bytes: Uint8Array, at: number, end = bytes.length): [number, number] {
  let value = 0, scale = 1;
  for (;;) {
    if (at >= end) throw new Error("truncated protobuf varint");
    const byte = bytes[at++];
    value += (byte & 0x7f) * scale;
    scale *= 128;
    if (byte < 0x80) return [value, at];
  }
}

function pushVarint(out: number[], n: number): void {
  for (; n > 0x7f; n = Math.floor(n / 128)) out.push((n % 128) | 0x80);
  out.push(n);
}

/** The fields of an encoded protobuf message, in order. */
function messageFields(bytes: Uint8Array): ProtoField[] {
  const fields: ProtoField[] = [];
  let at = 0;
  while (at < bytes.length) {
    const start = at;
    let tag: number, value: number | undefined, payload: Uint8Array | undefined;
    [tag, at] = readVarint(bytes, at);
    const wireType = tag & 7;
    if (wireType === 0) [value, at] = readVarint(bytes, at);
    else if (wireType === 1 || wireType === 5) {
      const size = wireType === 1 ? 8 : 4;
      payload = bytes.subarray(at, at + size);
      at += size;
    } else if (wireType === 2) {
      let length: number;
      [length, at] = readVarint(bytes, at);
      payload = bytes.subarray(at, at + length);
      at += length;
    } else throw new Error(`unsupported protobuf wire type ${wireType}`);
    if (at > bytes.length) throw new Error("truncated protobuf message");
    fields.push({
      number: Math.floor(tag / 8),
      wireType,
      value,
      payload,
      raw: bytes.subarray(start, at),
    });
  }
  return fields;
}

/**
 * The message with the payload of each length-delimited field `number` replaced by
 * `replace(payload)` (kept when that returns undefined); with `firstOnly`, only the first.
 */
function mapMessageFields(
  bytes: Uint8Array,
  number: number,
  replace: (payload: Uint8Array) => Uint8Array | undefined,
  firstOnly = false,
): Uint8Array {
  const parts: Uint8Array[] = [];
  let seen = false;
  for (const field of messageFields(bytes)) {
    if (field.number === number && field.wireType === 2 && !(firstOnly && seen)) {
      seen = true;
      const replaced = replace(field.payload!);
      if (replaced) {
        const head: number[] = [];
        pushVarint(head, (number << 3) | 2);
        pushVarint(head, replaced.length);
        parts.push(Uint8Array.from(head), replaced);
        continue;
      }
    }
    parts.push(field.raw);
  }
  return concatBytes(parts);
}

/** One encoded protobuf field: a varint, a string, or an embedded message's bytes. */
function protoField(number: number, value: number | string | number[]): number[] {
  const out: number[] = [];
  if (typeof value === "number") {
    pushVarint(out, number << 3);
    pushVarint(out, value);
    return out;
  }
  const bytes = typeof value === "string" ? [...new TextEncoder().encode(value)] : value;
  pushVarint(out, (number << 3) | 2);
  pushVarint(out, bytes.length);
  return out.concat(bytes);
}

/**
 * A complete ONNX model computing y = x + x on a float32 vector of 4: the smallest graph
 * that makes the WebGPU backend compile and run a kernel. Hand-encoded protobuf (ModelProto),
 * so no file ships for it.
 */
export function doublingModel(): Uint8Array {
  const field = protoField;
  // ValueInfoProto{name, type: TypeProto{tensor_type{elem_type FLOAT, shape{dim{dim_value 4}}}}}
  const vector4 = (name: string) =>
    field(1, name).concat(field(2, field(1, field(1, 1).concat(field(2, field(1, field(1, 4)))))));
  const node = field(1, "x").concat(field(1, "x"), field(2, "y"), field(4, "Add"));
  const graph = field(1, node).concat(
    field(2, "probe"),
    field(11, vector4("x")),
    field(12, vector4("y")),
  );
  return Uint8Array.from([
    ...field(1, 8), // ir_version 8
    ...field(8, field(1, "").concat(field(2, 13))), // opset_import: default domain, version 13
    ...field(7, graph),
  ]);
}

/** One attribute of a graph node, as `readGraph` keeps it: ints, floats and strings only. */
export interface NodeAttribute {
  /** `i` (int64, exact for |i| < 2^53). */
  int?: number;
  /** `ints`. */
  ints?: number[];
  /** `f`. */
  float?: number;
  /** `s`, as text. */
  text?: string;
}

/** One node of the main graph, as `readGraph` keeps it. */
export interface GraphNode {
  /** Its position among the graph's nodes (ONNX lists them in topological order). */
  index: number;
  /** Its name (may be empty). */
  name: string;
  /** The operator, e.g. "Softmax". */
  opType: string;
  /** The operator's domain ("" is the default ONNX domain). */
  domain: string;
  /** Input value names ("" for an omitted optional input). */
  inputs: string[];
  /** Output value names. */
  outputs: string[];
  /** Attributes by name (graph-valued and tensor-valued ones are left out). */
  attributes: Map<string, NodeAttribute>;
}

/** What `readGraph` keeps of a model: its nodes and names, never its weights. */
export interface GraphSummary {
  /** The main graph's nodes, in file order. */
  nodes: GraphNode[];
  /** Names of the initializers (weights). */
  initializers: Set<string>;
  /** Names of the graph inputs. */
  inputs: string[];
  /** Names of the graph outputs. */
  outputs: string[];
  /** Element types (TensorProto.DataType) of values whose type the file declares. */
  elementTypes: Map<string, number>;
  /** The default-domain opset version (0 when none is declared). */
  opset: number;
}

/**
 * The nodes and value names of a model's main graph, for pattern matching (the explanation
 * hooks look for self-attention this way). Weights are walked over in place and never copied,
 * so this costs little even for a large model; subgraphs (If, Loop) are not entered.
 * @throws Error on bytes that are not a well-formed ONNX model
 *
 * @example A hand-encoded model computing y = x + x
 * ```ts
 * import assert from "node:assert/strict";
 * import { readGraph } from "@posekit/posekit";
 *
 * // Protobuf by hand: length-delimited fields, each shorter than 128 bytes (one length byte).
 * const field = (n: number, body: number[]) => [(n << 3) | 2, body.length, ...body];
 * const str = (n: number, s: string) => field(n, [...new TextEncoder().encode(s)]);
 * // NodeProto: input 1, output 2, op_type 4; GraphProto: node 1, input 11, output 12.
 * const add = field(1, [...str(1, "x"), ...str(1, "x"), ...str(2, "y"), ...str(4, "Add")]);
 * const graph = [...add, ...field(11, str(1, "x")), ...field(12, str(1, "y"))];
 * const summary = readGraph(Uint8Array.from(field(7, graph))); // ModelProto.graph
 *
 * assert.deepEqual(summary.inputs, ["x"]);
 * assert.deepEqual(summary.outputs, ["y"]);
 * const [node] = summary.nodes;
 * assert.equal(node.opType, "Add");
 * assert.deepEqual(node.inputs, ["x", "x"]);
 * assert.equal(summary.opset, 0); // no opset_import in these bytes
 * assert.throws(() => readGraph(new Uint8Array())); // no graph: not an ONNX model
 * ```
 */
export function readGraph(model: Uint8Array): GraphSummary {
  // ModelProto: opset_import = 8 (OperatorSetIdProto: domain = 1, version = 2), graph = 7.
  // GraphProto: node = 1, initializer = 5 (TensorProto.name = 8), input = 11, output = 12,
  // value_info = 13. NodeProto: input = 1, output = 2, name = 3, op_type = 4, attribute = 5,
  // domain = 7.
  const summary: GraphSummary = {
    nodes: [],
    initializers: new Set(),
    inputs: [],
    outputs: [],
    elementTypes: new Map(),
    opset: 0,
  };
  let graph: FieldRange | undefined;
  const top = new FieldCursor(model, 0, model.length);
  while (top.next()) {
    if (top.number === 7 && top.wireType === 2 && !graph) {
      graph = { from: top.payloadStart, to: top.end };
    } else if (top.number === 8 && top.wireType === 2) {
      const domain = firstField(model, top.payloadStart, top.end, 1);
      if (
        domain && domain.to > domain.from && !equalsText(model, domain.from, domain.to, "ai.onnx")
      ) {
        continue;
      }
      const fields = new FieldCursor(model, top.payloadStart, top.end);
      while (fields.next()) if (fields.number === 2) summary.opset = fields.value;
    }
  }
  if (!graph) throw new Error("not an ONNX model: no graph");
  const fields = new FieldCursor(model, graph.from, graph.to);
  while (fields.next()) {
    if (fields.wireType !== 2) continue;
    const { payloadStart: from, end: to } = fields;
    if (fields.number === 1) summary.nodes.push(readNode(model, from, to, summary.nodes.length));
    else if (fields.number === 5) {
      const name = lastField(model, from, to, 8);
      if (name) summary.initializers.add(TEXT_DECODER.decode(model.subarray(name.from, name.to)));
    } else if (fields.number === 11 || fields.number === 12 || fields.number === 13) {
      const name = valueInfoName(model, from, to);
      if (fields.number === 11) summary.inputs.push(name);
      if (fields.number === 12) summary.outputs.push(name);
      const type = valueInfoElementType(model, from, to);
      if (type !== undefined) summary.elementTypes.set(name, type);
    }
  }
  return summary;
}

/** A NodeProto at `bytes[from, to)`. */
function readNode(bytes: Uint8Array, from: number, to: number, index: number): GraphNode {
  const node: GraphNode = {
    index,
    name: "",
    opType: "",
    domain: "",
    inputs: [],
    outputs: [],
    attributes: new Map(),
  };
  const fields = new FieldCursor(bytes, from, to);
  while (fields.next()) {
    if (fields.wireType !== 2) continue;
    if (fields.number === 1) node.inputs.push(fields.text());
    else if (fields.number === 2) node.outputs.push(fields.text());
    else if (fields.number === 3) node.name = fields.text();
    else if (fields.number === 4) node.opType = fields.text();
    else if (fields.number === 7) node.domain = fields.text();
    else if (fields.number === 5) {
      const [name, attribute] = readAttribute(bytes, fields.payloadStart, fields.end);
      node.attributes.set(name, attribute);
    }
  }
  return node;
}

/** An AttributeProto's name and its int, ints, float or string value. */
function readAttribute(bytes: Uint8Array, from: number, to: number): [string, NodeAttribute] {
  // AttributeProto: name = 1, f = 2 (fixed32), i = 3, s = 4, ints = 8 (packed or not).
  let name = "";
  const attribute: NodeAttribute = {};
  const fields = new FieldCursor(bytes, from, to);
  while (fields.next()) {
    const { number, wireType } = fields;
    if (number === 1 && wireType === 2) name = fields.text();
    else if (number === 2 && wireType === 5) {
      attribute.float = new DataView(bytes.buffer, bytes.byteOffset + fields.payloadStart, 4)
        .getFloat32(0, true);
    } else if (number === 3 && wireType === 0) {
      attribute.int = signedVarint(bytes, fields.start, fields.end);
    } else if (number === 4 && wireType === 2) attribute.text = fields.text();
    else if (number === 8) {
      attribute.ints ??= [];
      if (wireType === 0) attribute.ints.push(signedVarint(bytes, fields.start, fields.end));
      else if (wireType === 2) {
        for (let at = fields.payloadStart; at < fields.end;) {
          const start = at;
          [, at] = readVarint(bytes, at, fields.end);
          attribute.ints.push(varintAsInt64(bytes, start, at));
        }
      }
    }
  }
  return [name, attribute];
}

/** The int64 varint value of the field at `bytes[start, end)` (after its tag). */
function signedVarint(bytes: Uint8Array, start: number, end: number): number {
  const [, valueStart] = readVarint(bytes, start, end); // skip the tag
  return varintAsInt64(bytes, valueStart, end);
}

/**
 * The varint at `bytes[from, to)` read as a two's complement int64: negative values (perm
 * and axis -1, say) are 10-byte varints that plain number arithmetic would round.
 */
function varintAsInt64(bytes: Uint8Array, from: number, to: number): number {
  let value = 0n, shift = 0n;
  for (let at = from; at < to; at++, shift += 7n) value |= BigInt(bytes[at] & 0x7f) << shift;
  return Number(BigInt.asIntN(64, value));
}

/** A ValueInfoProto's name (field 1). */
function valueInfoName(bytes: Uint8Array, from: number, to: number): string {
  const name = firstField(bytes, from, to, 1);
  return name ? TEXT_DECODER.decode(bytes.subarray(name.from, name.to)) : "";
}

/** A ValueInfoProto's tensor element type (type = 2 → tensor_type = 1 → elem_type = 1). */
function valueInfoElementType(bytes: Uint8Array, from: number, to: number): number | undefined {
  const type = firstField(bytes, from, to, 2);
  const tensor = type && firstField(bytes, type.from, type.to, 1);
  if (!tensor) return undefined;
  const fields = new FieldCursor(bytes, tensor.from, tensor.to);
  while (fields.next()) if (fields.number === 1 && fields.wireType === 0) return fields.value;
  return undefined;
}

/** A value to add to a graph's outputs: its name and element type (1 = float). */
export interface ExtraOutput {
  /** The value's name in the graph. */
  name: string;
  /** TensorProto.DataType; default 1 (float). */
  elementType?: number;
}

/**
 * The model with `outputs` added to its main graph's outputs (after the existing ones, with
 * no declared shape), so that a run also returns those intermediate values; names that are
 * already outputs are skipped. Everything else is copied byte for byte; the model comes back
 * unchanged when there is nothing to add.
 * @throws Error on bytes that are not a well-formed ONNX model
 *
 * @example Exposing an intermediate value of y = (x + x) · (x + x)
 * ```ts
 * import assert from "node:assert/strict";
 * import { readGraph, withGraphOutputs } from "@posekit/posekit";
 *
 * // Protobuf by hand: length-delimited fields, each shorter than 128 bytes (one length byte).
 * const field = (n: number, body: number[]) => [(n << 3) | 2, body.length, ...body];
 * const str = (n: number, s: string) => field(n, [...new TextEncoder().encode(s)]);
 * // NodeProto: input 1, output 2, op_type 4; GraphProto: node 1, input 11, output 12.
 * const add = field(1, [...str(1, "x"), ...str(1, "x"), ...str(2, "t"), ...str(4, "Add")]);
 * const mul = field(1, [...str(1, "t"), ...str(1, "t"), ...str(2, "y"), ...str(4, "Mul")]);
 * const graph = [...add, ...mul, ...field(11, str(1, "x")), ...field(12, str(1, "y"))];
 * const model = Uint8Array.from(field(7, graph)); // ModelProto.graph
 *
 * const exposed = withGraphOutputs(model, [{ name: "t" }]); // float unless elementType says
 * const summary = readGraph(exposed);
 * assert.deepEqual(summary.outputs, ["y", "t"]); // after the existing output
 * assert.equal(summary.elementTypes.get("t"), 1); // TensorProto.FLOAT
 * assert.equal(withGraphOutputs(model, [{ name: "y" }]), model); // already an output
 * ```
 */
export function withGraphOutputs(model: Uint8Array, outputs: readonly ExtraOutput[]): Uint8Array {
  const existing = new Set(readGraph(model).outputs);
  const added = outputs.filter((o) => !existing.has(o.name));
  if (added.length === 0) return model;
  // ValueInfoProto{name = 1, type = 2: TypeProto{tensor_type = 1: {elem_type = 1}}}.
  const fields = added.flatMap((o) =>
    protoField(
      12,
      protoField(1, o.name).concat(protoField(2, protoField(1, protoField(1, o.elementType ?? 1)))),
    )
  );
  return spliceFields(
    model,
    0,
    model.length,
    7,
    true,
    (from, to) => concatBytes([model.subarray(from, to), Uint8Array.from(fields)]),
  );
}
