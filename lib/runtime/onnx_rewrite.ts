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
 * cannot be repaired this way, and the function throws an Error naming the node.
 *
 * Returns the input itself and 0 when no node carries the attribute, and also when the bytes
 * are not a well-formed protobuf message (onnxruntime reports those).
 */
export function withoutBatchNormSpatial(model: Uint8Array): BatchNormRepair {
  let found: { repairable: number; refused: string[] };
  try {
    found = findBatchNormSpatial(model);
  } catch {
    return { bytes: model, repaired: 0 };
  }
  if (found.refused.length > 0) {
    throw new Error(
      `cannot repair the legacy BatchNormalization "spatial" attribute: ${
        found.refused.join("; ")
      }. Re-export the model with opset 9 or later.`,
    );
  }
  if (found.repairable === 0) return { bytes: model, repaired: 0 };
  // ModelProto.graph = 7; GraphProto.node = 1; NodeProto.attribute = 5; AttributeProto.name = 1.
  const bytes = mapMessageFields(model, 7, (graph) =>
    mapMessageFields(graph, 1, (node) => {
      const fields = messageFields(node);
      if (!isBatchNorm(fields)) return undefined;
      const kept = fields.filter((f) => !(f.number === 5 && attributeNameOf(f) === "spatial"));
      return kept.length === fields.length ? undefined : concatBytes(kept.map((f) => f.raw));
    }), true);
  return { bytes, repaired: found.repairable };
}

/** The name of an AttributeProto field (NodeProto.attribute). */
function attributeNameOf(field: ProtoField): string {
  const name = messageFields(field.payload!).find((a) => a.number === 1)?.payload;
  return name ? TEXT_DECODER.decode(name) : "";
}

/** True for a NodeProto (as fields) of the default-domain BatchNormalization operator. */
function isBatchNorm(node: ProtoField[]): boolean {
  // NodeProto.op_type = 4, domain = 7.
  const text = (n: number) => {
    const payload = node.find((f) => f.number === n && f.wireType === 2)?.payload;
    return payload ? TEXT_DECODER.decode(payload) : "";
  };
  const domain = text(7);
  return text(4) === "BatchNormalization" && (domain === "" || domain === "ai.onnx");
}

/** Counts the BatchNormalization nodes with `spatial` that can be repaired; lists the others. */
function findBatchNormSpatial(model: Uint8Array): { repairable: number; refused: string[] } {
  const graphField = messageFields(model).find((f) => f.number === 7 && f.wireType === 2);
  if (!graphField) return { repairable: 0, refused: [] };
  const graph = messageFields(graphField.payload!);
  // Initializer dims by name. TensorProto: dims = 1 (int64, packed or not), name = 8.
  const initializerDims = new Map<string, number[]>();
  for (const field of graph) {
    if (field.number !== 5 || field.wireType !== 2) continue;
    const dims: number[] = [];
    let name = "";
    for (const f of messageFields(field.payload!)) {
      if (f.number === 8 && f.wireType === 2) name = TEXT_DECODER.decode(f.payload!);
      else if (f.number === 1 && f.wireType === 0) dims.push(f.value!);
      else if (f.number === 1 && f.wireType === 2) {
        for (let at = 0; at < f.payload!.length;) {
          let dim: number;
          [dim, at] = readVarint(f.payload!, at);
          dims.push(dim);
        }
      }
    }
    initializerDims.set(name, dims);
  }
  let repairable = 0;
  const refused: string[] = [];
  for (const field of graph) {
    if (field.number !== 1 || field.wireType !== 2) continue;
    const node = messageFields(field.payload!);
    if (!isBatchNorm(node)) continue;
    const spatial = node.find((f) => f.number === 5 && attributeNameOf(f) === "spatial");
    if (!spatial) continue;
    // AttributeProto.i = 3 (absent means 0).
    const value = messageFields(spatial.payload!).find((a) => a.number === 3)?.value ?? 0;
    // NodeProto.input = 1 (X, scale, B, mean, var), name = 3.
    const inputs = node.filter((f) => f.number === 1).map((f) => TEXT_DECODER.decode(f.payload!));
    const nameField = node.find((f) => f.number === 3)?.payload;
    const nodeName = nameField ? TEXT_DECODER.decode(nameField) : `with input "${inputs[0]}"`;
    if (value === 1) {
      repairable++;
      continue;
    }
    const shapes = inputs.slice(1, 5).map((name) => initializerDims.get(name));
    const perChannel = shapes.length === 4 &&
      shapes.every((dims) => dims?.length === 1 && dims[0] === shapes[0]![0]);
    if (perChannel) repairable++;
    else {
      const described = inputs.slice(1, 5).map((name, i) =>
        shapes[i] ? `"${name}" [${shapes[i]!.join(", ")}]` : `"${name}" (not an initializer)`
      );
      refused.push(
        `node "${nodeName}" has spatial=${value} and its scale, bias, mean and variance are ` +
          `not one [C] each (${described.join(", ")}), so they are per-activation statistics`,
      );
    }
  }
  return { repairable, refused };
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

function readVarint(bytes: Uint8Array, at: number): [number, number] {
  let value = 0, scale = 1;
  for (;;) {
    if (at >= bytes.length) throw new Error("truncated protobuf varint");
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
