/**
 * A small ONNX graph builder for tests: nodes from standard operators, float32 / int64
 * initializers, graph inputs and outputs, serialized as an ONNX `ModelProto` with protobufjs.
 *
 * The schema below is our own subset of onnx.proto (proto2); field numbers match onnx.proto
 * exactly, fields we never write are left out.
 *
 * ```ts
 * const g = new OnnxGraph();
 * const x = g.input("x", ["batch", 3]);
 * g.output(g.add(x, g.constant([1, 2, 3], [1, 3])), "y", ["batch", 3]);
 * const session = await ModelSession.load(g.toBytes(), "add");
 * ```
 */

import protobuf from "protobufjs";

const ONNX_SUBSET_PROTO = `
syntax = "proto2";
package onnx;

message AttributeProto {
  enum AttributeType {
    UNDEFINED = 0; FLOAT = 1; INT = 2; STRING = 3; TENSOR = 4; GRAPH = 5;
    FLOATS = 6; INTS = 7; STRINGS = 8; TENSORS = 9; GRAPHS = 10;
  }
  optional string name = 1;
  optional AttributeType type = 20;
  optional float f = 2;
  optional int64 i = 3;
  optional bytes s = 4;
  optional TensorProto t = 5;
  optional GraphProto g = 6;
  repeated float floats = 7;
  repeated int64 ints = 8;
  repeated bytes strings = 9;
  repeated TensorProto tensors = 10;
}

message ValueInfoProto {
  optional string name = 1;
  optional TypeProto type = 2;
  optional string doc_string = 3;
}

message NodeProto {
  repeated string input = 1;
  repeated string output = 2;
  optional string name = 3;
  optional string op_type = 4;
  optional string domain = 7;
  repeated AttributeProto attribute = 5;
  optional string doc_string = 6;
}

message ModelProto {
  optional int64 ir_version = 1;
  repeated OperatorSetIdProto opset_import = 8;
  optional string producer_name = 2;
  optional string producer_version = 3;
  optional string domain = 4;
  optional int64 model_version = 5;
  optional string doc_string = 6;
  optional GraphProto graph = 7;
}

message GraphProto {
  repeated NodeProto node = 1;
  optional string name = 2;
  repeated TensorProto initializer = 5;
  optional string doc_string = 10;
  repeated ValueInfoProto input = 11;
  repeated ValueInfoProto output = 12;
  repeated ValueInfoProto value_info = 13;
}

message TensorProto {
  repeated int64 dims = 1;
  optional int32 data_type = 2;
  repeated float float_data = 4 [packed = true];
  repeated int32 int32_data = 5 [packed = true];
  repeated int64 int64_data = 7 [packed = true];
  optional string name = 8;
  optional bytes raw_data = 9;
  optional string doc_string = 12;
}

message TensorShapeProto {
  message Dimension {
    oneof value {
      int64 dim_value = 1;
      string dim_param = 2;
    }
    optional string denotation = 3;
  }
  repeated Dimension dim = 1;
}

message TypeProto {
  message Tensor {
    optional int32 elem_type = 1;
    optional TensorShapeProto shape = 2;
  }
  oneof value {
    Tensor tensor_type = 1;
  }
  optional string denotation = 6;
}

message OperatorSetIdProto {
  optional string domain = 1;
  optional int64 version = 2;
}
`;

const onnxRoot = protobuf.parse(ONNX_SUBSET_PROTO, { keepCase: true }).root;
const ModelProtoType = onnxRoot.lookupType("onnx.ModelProto");

/** The schema types, for tests that decode what the builder wrote. */
export const onnxSchema: { root: protobuf.Root; ModelProto: protobuf.Type } = {
  root: onnxRoot,
  ModelProto: ModelProtoType,
};

/** ONNX element types (TensorProto.DataType) the builder writes. */
export const DataType = {
  float: 1,
  uint8: 2,
  int32: 6,
  int64: 7,
  bool: 9,
  double: 11,
} as const;

/** Element type name, e.g. `"float"` or `"int64"`. */
export type ElementType = keyof typeof DataType;

/** A tensor dimension: a size, a symbolic name (dynamic), or `null` for unknown. */
export type Dim = number | string | null;

/** An attribute value forced to ONNX FLOAT / FLOATS (plain integers would become INT). */
export class FloatAttribute {
  constructor(readonly value: number | readonly number[]) {}
}

/** Marks a number (or list) as a float attribute, e.g. `{ alpha: float(1) }`. */
export function float(value: number | readonly number[]): FloatAttribute {
  return new FloatAttribute(value);
}

/** A tensor value for a TENSOR attribute (e.g. Constant's `value`). */
export interface TensorValue {
  type: ElementType;
  dims: readonly number[];
  values: ArrayLike<number>;
}

/**
 * Node attribute value. Integers become INT, other numbers FLOAT, integer arrays INTS,
 * strings STRING; use `float(...)` for float attributes with integral values.
 */
export type AttributeValue =
  | number
  | string
  | readonly number[]
  | readonly string[]
  | FloatAttribute
  | TensorValue;

interface ValueInfo {
  name: string;
  type: ElementType;
  shape?: readonly Dim[];
}

interface NodeRecord {
  opType: string;
  inputs: readonly string[];
  outputs: readonly string[];
  name: string;
  attributes: Record<string, AttributeValue>;
}

interface InitializerRecord {
  name: string;
  tensor: TensorValue;
}

/** Options for a whole model. */
export interface OnnxGraphOptions {
  /** Graph name. */
  name?: string;
  /** Default-domain opset version, default 17. */
  opset?: number;
  /** IR version, default 8. */
  irVersion?: number;
}

/**
 * An ONNX graph under construction. Every op method returns the name of the value it
 * produces, so graphs read like expressions.
 */
export class OnnxGraph {
  readonly name: string;
  readonly opset: number;
  readonly irVersion: number;
  private readonly nodes: NodeRecord[] = [];
  private readonly initializers: InitializerRecord[] = [];
  private readonly inputs: ValueInfo[] = [];
  private readonly outputs: ValueInfo[] = [];
  private readonly usedNames = new Set<string>();
  private counter = 0;

  constructor(options: OnnxGraphOptions = {}) {
    this.name = options.name ?? "graph";
    this.opset = options.opset ?? 17;
    this.irVersion = options.irVersion ?? 8;
  }

  /** A fresh value name starting with `prefix`. */
  fresh(prefix: string): string {
    let name: string;
    do {
      name = `${prefix}_${this.counter++}`;
    } while (this.usedNames.has(name));
    this.usedNames.add(name);
    return name;
  }

  private claim(name: string): string {
    if (this.usedNames.has(name)) throw new Error(`value name "${name}" is already used`);
    this.usedNames.add(name);
    return name;
  }

  /** Declares a graph input; returns its name. */
  input(name: string, shape: readonly Dim[], type: ElementType = "float"): string {
    this.inputs.push({ name: this.claim(name), type, shape });
    return name;
  }

  /**
   * Declares `value` as a graph output named `name` (an Identity node is added when the
   * names differ). `shape` is optional documentation of the output shape.
   */
  output(value: string, name = value, shape?: readonly Dim[], type: ElementType = "float"): string {
    if (name !== value) this.node("Identity", [value], {}, [this.claim(name)]);
    this.outputs.push({ name, type, shape });
    return name;
  }

  /** A named initializer of any supported element type. */
  initializer(tensor: TensorValue, name?: string): string {
    const count = tensor.dims.reduce((a, b) => a * b, 1);
    if (count !== tensor.values.length) {
      throw new Error(
        `initializer ${
          name ?? ""
        }: dims [${tensor.dims}] hold ${count} values, got ${tensor.values.length}`,
      );
    }
    const valueName = name ? this.claim(name) : this.fresh("const");
    this.initializers.push({ name: valueName, tensor });
    return valueName;
  }

  /** A float32 constant (initializer); `dims` defaults to a 1-D tensor of the values. */
  constant(values: ArrayLike<number>, dims: readonly number[] = [values.length]): string {
    return this.initializer({ type: "float", dims, values });
  }

  /** A float32 scalar constant (rank 0). */
  scalar(value: number): string {
    return this.initializer({ type: "float", dims: [], values: [value] });
  }

  /** An int64 constant (shapes, axes, indices); `dims` defaults to 1-D. */
  int64(values: ArrayLike<number>, dims: readonly number[] = [values.length]): string {
    return this.initializer({ type: "int64", dims, values });
  }

  /** Adds a node with explicit output names; returns them. */
  node(
    opType: string,
    inputs: readonly string[],
    attributes: Record<string, AttributeValue> = {},
    outputs: readonly string[] = [this.fresh(opType)],
  ): readonly string[] {
    this.nodes.push({
      opType,
      inputs,
      outputs,
      name: `${opType}_node_${this.nodes.length}`,
      attributes,
    });
    return outputs;
  }

  /** Adds a single-output node; returns the output name. */
  op(opType: string, inputs: readonly string[], attributes: Record<string, AttributeValue> = {}) {
    return this.node(opType, inputs, attributes)[0];
  }

  // Elementwise arithmetic (numpy broadcasting).
  add(a: string, b: string): string {
    return this.op("Add", [a, b]);
  }
  sub(a: string, b: string): string {
    return this.op("Sub", [a, b]);
  }
  mul(a: string, b: string): string {
    return this.op("Mul", [a, b]);
  }
  div(a: string, b: string): string {
    return this.op("Div", [a, b]);
  }
  max(...values: string[]): string {
    return this.op("Max", values);
  }
  min(...values: string[]): string {
    return this.op("Min", values);
  }
  abs(x: string): string {
    return this.op("Abs", [x]);
  }
  neg(x: string): string {
    return this.op("Neg", [x]);
  }
  exp(x: string): string {
    return this.op("Exp", [x]);
  }
  log(x: string): string {
    return this.op("Log", [x]);
  }
  sqrt(x: string): string {
    return this.op("Sqrt", [x]);
  }
  relu(x: string): string {
    return this.op("Relu", [x]);
  }
  sigmoid(x: string): string {
    return this.op("Sigmoid", [x]);
  }
  matmul(a: string, b: string): string {
    return this.op("MatMul", [a, b]);
  }

  // Comparisons and logic (bool results).
  less(a: string, b: string): string {
    return this.op("Less", [a, b]);
  }
  greater(a: string, b: string): string {
    return this.op("Greater", [a, b]);
  }
  and(a: string, b: string): string {
    return this.op("And", [a, b]);
  }
  not(x: string): string {
    return this.op("Not", [x]);
  }
  where(condition: string, whenTrue: string, whenFalse: string): string {
    return this.op("Where", [condition, whenTrue, whenFalse]);
  }
  /** Casts to another element type (e.g. bool → float). */
  cast(x: string, to: ElementType): string {
    return this.op("Cast", [x], { to: DataType[to] });
  }

  // Shapes.
  /** Reshape to a constant shape (0 copies the input dim, -1 is inferred). */
  reshape(x: string, shape: readonly number[]): string {
    return this.op("Reshape", [x, this.int64(shape)]);
  }
  transpose(x: string, perm: readonly number[]): string {
    return this.op("Transpose", [x], { perm });
  }
  concat(values: readonly string[], axis: number): string {
    return this.op("Concat", values, { axis });
  }
  slice(
    x: string,
    starts: readonly number[],
    ends: readonly number[],
    axes: readonly number[],
    steps?: readonly number[],
  ): string {
    const inputs = [x, this.int64(starts), this.int64(ends), this.int64(axes)];
    if (steps) inputs.push(this.int64(steps));
    return this.op("Slice", inputs);
  }
  /** Gather with constant int64 indices of the given dims (scalar when dims is []). */
  gather(x: string, indices: readonly number[], axis: number, dims?: readonly number[]): string {
    return this.op("Gather", [x, this.int64(indices, dims ?? [indices.length])], { axis });
  }
  shape(x: string): string {
    return this.op("Shape", [x]);
  }
  /** Pads with a constant value: `pads` lists all begins then all ends, as in ONNX. */
  pad(x: string, pads: readonly number[], value = 0): string {
    return this.op("Pad", [x, this.int64(pads), this.scalar(value)], { mode: "constant" });
  }
  /**
   * `[0, 1, ..., n-1]` as float32 where n is dimension `axis` of `x` (works for dynamic dims).
   */
  rangeOfDim(x: string, axis: number): string {
    const size = this.op("Gather", [this.shape(x), this.int64([axis], [])], { axis: 0 });
    const range = this.op("Range", [this.int64([0], []), size, this.int64([1], [])]);
    return this.cast(range, "float");
  }
  /** Dimension `axis` of `x` as a float32 scalar. */
  dimAsFloat(x: string, axis: number): string {
    const size = this.op("Gather", [this.shape(x), this.int64([axis], [])], { axis: 0 });
    return this.cast(size, "float");
  }

  // Reductions: axes go where the model's opset wants them (attribute or input).
  private reduce(op: string, x: string, axes: readonly number[], keepdims: boolean): string {
    const axesAsInput = op === "ReduceSum" ? this.opset >= 13 : this.opset >= 18;
    return axesAsInput
      ? this.op(op, [x, this.int64(axes)], { keepdims: keepdims ? 1 : 0 })
      : this.op(op, [x], { axes, keepdims: keepdims ? 1 : 0 });
  }
  reduceSum(x: string, axes: readonly number[], keepdims = true): string {
    return this.reduce("ReduceSum", x, axes, keepdims);
  }
  reduceMean(x: string, axes: readonly number[], keepdims = true): string {
    return this.reduce("ReduceMean", x, axes, keepdims);
  }
  reduceMax(x: string, axes: readonly number[], keepdims = true): string {
    return this.reduce("ReduceMax", x, axes, keepdims);
  }
  reduceMin(x: string, axes: readonly number[], keepdims = true): string {
    return this.reduce("ReduceMin", x, axes, keepdims);
  }
  argMax(x: string, axis: number, keepdims = true): string {
    return this.op("ArgMax", [x], { axis, keepdims: keepdims ? 1 : 0 });
  }
  softmax(x: string, axis = -1): string {
    return this.op("Softmax", [x], { axis });
  }

  // Neural network ops.
  /** 2-D convolution with float32 weights [M, C/group, kH, kW] and optional bias [M]. */
  conv(
    x: string,
    weights: { values: ArrayLike<number>; dims: readonly number[] },
    options: {
      bias?: ArrayLike<number>;
      pads?: readonly number[];
      strides?: readonly number[];
      group?: number;
    } = {},
  ): string {
    const inputs = [x, this.constant(weights.values, weights.dims)];
    if (options.bias) inputs.push(this.constant(options.bias));
    const attributes: Record<string, AttributeValue> = {
      kernel_shape: weights.dims.slice(2),
    };
    if (options.pads) attributes.pads = options.pads;
    if (options.strides) attributes.strides = options.strides;
    if (options.group) attributes.group = options.group;
    return this.op("Conv", inputs, attributes);
  }
  maxPool(
    x: string,
    kernel: readonly number[],
    options: { pads?: readonly number[]; strides?: readonly number[] } = {},
  ): string {
    const attributes: Record<string, AttributeValue> = { kernel_shape: kernel };
    if (options.pads) attributes.pads = options.pads;
    if (options.strides) attributes.strides = options.strides;
    return this.op("MaxPool", [x], attributes);
  }

  /** The serialized ModelProto. */
  toBytes(): Uint8Array {
    const model = {
      ir_version: this.irVersion,
      opset_import: [{ domain: "", version: this.opset }],
      producer_name: "posekit-tests",
      producer_version: "0.1",
      graph: {
        name: this.name,
        node: this.nodes.map((n) => ({
          input: [...n.inputs],
          output: [...n.outputs],
          name: n.name,
          op_type: n.opType,
          domain: "",
          attribute: Object.entries(n.attributes).map(([name, value]) =>
            encodeAttribute(name, value)
          ),
        })),
        initializer: this.initializers.map((i) => encodeTensor(i.tensor, i.name)),
        input: this.inputs.map(encodeValueInfo),
        output: this.outputs.map(encodeValueInfo),
      },
    };
    const encoded = ModelProtoType.encode(ModelProtoType.fromObject(model)).finish();
    // protobufjs may hand back a Node Buffer (whose slice() is a view); return plain bytes.
    return new Uint8Array(encoded);
  }
}

function encodeValueInfo(info: ValueInfo): Record<string, unknown> {
  const tensorType: Record<string, unknown> = { elem_type: DataType[info.type] };
  if (info.shape) {
    tensorType.shape = {
      dim: info.shape.map((d) =>
        typeof d === "number" ? { dim_value: d } : typeof d === "string" ? { dim_param: d } : {}
      ),
    };
  }
  return { name: info.name, type: { tensor_type: tensorType } };
}

/** Tensor data as little-endian raw bytes, as onnx.proto's raw_data requires. */
function rawBytes(tensor: TensorValue): Uint8Array {
  const n = tensor.values.length;
  const view = (bytesPer: number) => new DataView(new ArrayBuffer(n * bytesPer));
  switch (tensor.type) {
    case "float": {
      const v = view(4);
      for (let i = 0; i < n; i++) v.setFloat32(i * 4, tensor.values[i], true);
      return new Uint8Array(v.buffer);
    }
    case "double": {
      const v = view(8);
      for (let i = 0; i < n; i++) v.setFloat64(i * 8, tensor.values[i], true);
      return new Uint8Array(v.buffer);
    }
    case "int64": {
      const v = view(8);
      for (let i = 0; i < n; i++) v.setBigInt64(i * 8, BigInt(Math.trunc(tensor.values[i])), true);
      return new Uint8Array(v.buffer);
    }
    case "int32": {
      const v = view(4);
      for (let i = 0; i < n; i++) v.setInt32(i * 4, tensor.values[i], true);
      return new Uint8Array(v.buffer);
    }
    case "uint8":
    case "bool":
      return Uint8Array.from(tensor.values, (x) => (tensor.type === "bool" ? (x ? 1 : 0) : x));
  }
}

function encodeTensor(tensor: TensorValue, name?: string): Record<string, unknown> {
  const encoded: Record<string, unknown> = {
    dims: [...tensor.dims],
    data_type: DataType[tensor.type],
    raw_data: rawBytes(tensor),
  };
  if (name !== undefined) encoded.name = name;
  return encoded;
}

const AttributeType = {
  FLOAT: 1,
  INT: 2,
  STRING: 3,
  TENSOR: 4,
  FLOATS: 6,
  INTS: 7,
  STRINGS: 8,
} as const;

function isTensorValue(value: AttributeValue): value is TensorValue {
  return typeof value === "object" && value !== null && "dims" in value && "values" in value;
}

function encodeAttribute(name: string, value: AttributeValue): Record<string, unknown> {
  const utf8 = (s: string) => new TextEncoder().encode(s);
  if (value instanceof FloatAttribute) {
    return typeof value.value === "number"
      ? { name, type: AttributeType.FLOAT, f: value.value }
      : { name, type: AttributeType.FLOATS, floats: [...value.value] };
  }
  if (typeof value === "number") {
    return Number.isInteger(value)
      ? { name, type: AttributeType.INT, i: value }
      : { name, type: AttributeType.FLOAT, f: value };
  }
  if (typeof value === "string") return { name, type: AttributeType.STRING, s: utf8(value) };
  if (isTensorValue(value)) return { name, type: AttributeType.TENSOR, t: encodeTensor(value) };
  const list = value as readonly (number | string)[];
  if (list.every((v) => typeof v === "string")) {
    return { name, type: AttributeType.STRINGS, strings: list.map((s) => utf8(s as string)) };
  }
  const numbers = list as readonly number[];
  return numbers.every(Number.isInteger)
    ? { name, type: AttributeType.INTS, ints: [...numbers] }
    : { name, type: AttributeType.FLOATS, floats: [...numbers] };
}
