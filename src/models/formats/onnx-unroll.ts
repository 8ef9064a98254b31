// A load-time rewrite of ONNX graphs: each standard forward LSTM node becomes its per-step ops
// (MatMul, Add, Split, Sigmoid, Tanh, Mul) over the node's own weight initializers. onnxruntime's CPU
// LSTM kernel walks the batch row by row inside each step, which is slow for the small hidden sizes of
// market models (12 units: 3.2 us per 16-step window here); the unrolled graph runs every step as a
// few batch-wide ops (2.5 us). The rewrite only reads and writes the protobuf wire format around the
// nodes it replaces: every other byte of the model (weights, metadata, other nodes) is copied as is.
// The caller verifies the rewritten graph against the original on sample inputs before using it
// (see onnx-runtime.ts); anything the rewrite does not cover keeps the LSTM op.

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_BYTES = 2;
const WIRE_FIXED32 = 5;

/** One protobuf field: its number, wire type, whole byte range and value (varint) or value range. */
interface Field {
  no: number;
  wire: number;
  /** [start, end) of the whole field, tag included */
  start: number;
  end: number;
  /** varint value (wire 0) */
  varint: bigint;
  /** [valueStart, valueEnd) of a length-delimited or fixed-width value */
  valueStart: number;
  valueEnd: number;
}

class WireError extends Error {}

function readVarint(buf: Uint8Array, at: number, end: number): [bigint, number] {
  let value = 0n;
  let shift = 0n;
  for (let i = 0; i < 10; i++) {
    if (at >= end) throw new WireError('truncated varint');
    const byte = buf[at++]!;
    value |= BigInt(byte & 0x7f) << shift;
    if ((byte & 0x80) === 0) return [value, at];
    shift += 7n;
  }
  throw new WireError('varint longer than 10 bytes');
}

function fields(buf: Uint8Array, start = 0, end = buf.length): Field[] {
  const out: Field[] = [];
  let at = start;
  while (at < end) {
    const fieldStart = at;
    const [tag, afterTag] = readVarint(buf, at, end);
    at = afterTag;
    const no = Number(tag >> 3n);
    const wire = Number(tag & 7n);
    if (no === 0) throw new WireError('field number 0');
    let varint = 0n;
    let valueStart = at;
    if (wire === WIRE_VARINT) [varint, at] = readVarint(buf, at, end);
    else if (wire === WIRE_FIXED64) at += 8;
    else if (wire === WIRE_FIXED32) at += 4;
    else if (wire === WIRE_BYTES) {
      const [length, afterLength] = readVarint(buf, at, end);
      valueStart = afterLength;
      at = afterLength + Number(length);
    } else throw new WireError(`wire type ${wire}`);
    if (at > end) throw new WireError('field runs past its message');
    out.push({ no, wire, start: fieldStart, end: at, varint, valueStart, valueEnd: at });
  }
  return out;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
const encoder = new TextEncoder();
const text = (buf: Uint8Array, f: Field): string => utf8.decode(buf.subarray(f.valueStart, f.valueEnd));

// ---------------------------------------------------------------- writing

function varint(value: bigint | number): number[] {
  let v = BigInt.asUintN(64, BigInt(value));
  const out: number[] = [];
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v !== 0n) byte |= 0x80;
    out.push(byte);
  } while (v !== 0n);
  return out;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  let size = 0;
  for (const p of parts) size += p.length;
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

const tag = (no: number, wire: number): number[] => varint((no << 3) | wire);
const varintField = (no: number, value: bigint | number): Uint8Array =>
  Uint8Array.from([...tag(no, WIRE_VARINT), ...varint(value)]);
const bytesField = (no: number, value: Uint8Array): Uint8Array =>
  concat([Uint8Array.from([...tag(no, WIRE_BYTES), ...varint(value.length)]), value]);
const stringField = (no: number, value: string): Uint8Array => bytesField(no, encoder.encode(value));

// onnx.proto field numbers (the ones read or written here)
const MODEL = { graph: 7, opsetImport: 8 } as const;
const OPSET = { domain: 1, version: 2 } as const;
const GRAPH = { node: 1, initializer: 5, input: 11, output: 12, valueInfo: 13, sparseInitializer: 15 } as const;
const NODE = { input: 1, output: 2, name: 3, opType: 4, attribute: 5, domain: 7 } as const;
const ATTRIBUTE = { name: 1, f: 2, i: 3, s: 4, t: 5, ints: 8, strings: 9, type: 20 } as const;
const ATTRIBUTE_TYPE = { INT: 2, INTS: 7 } as const;
const TENSOR = {
  dims: 1,
  dataType: 2,
  floatData: 4,
  int32Data: 5,
  int64Data: 7,
  name: 8,
  rawData: 9,
  doubleData: 10,
  externalData: 13,
  dataLocation: 14,
} as const;
const INT64 = 7;

interface Attribute {
  name: string;
  i?: bigint;
  f?: number;
  s?: string;
  strings: string[];
  /** a tensor value (ConstantOfShape's `value`): its byte range */
  tensor?: [number, number];
  /** fields other than name / type / i / f / s / strings / t (floats, graphs …) */
  other: boolean;
}

interface NodeInfo {
  /** byte range of the whole node field in the graph message */
  start: number;
  end: number;
  name: string;
  opType: string;
  domain: string;
  inputs: string[];
  outputs: string[];
  attributes: Map<string, Attribute>;
}

function readAttribute(buf: Uint8Array, f: Field): Attribute {
  const a: Attribute = { name: '', strings: [], other: false };
  for (const g of fields(buf, f.valueStart, f.valueEnd)) {
    if (g.no === ATTRIBUTE.name) a.name = text(buf, g);
    else if (g.no === ATTRIBUTE.i) a.i = BigInt.asIntN(64, g.varint);
    else if (g.no === ATTRIBUTE.f) a.f = new DataView(buf.buffer, buf.byteOffset + g.valueStart, 4).getFloat32(0, true);
    else if (g.no === ATTRIBUTE.s) a.s = text(buf, g);
    else if (g.no === ATTRIBUTE.strings) a.strings.push(text(buf, g));
    else if (g.no === ATTRIBUTE.t) a.tensor = [g.valueStart, g.valueEnd];
    else if (g.no !== ATTRIBUTE.type && g.no !== 13 /* doc_string */) a.other = true;
  }
  return a;
}

function readNode(buf: Uint8Array, f: Field): NodeInfo {
  const node: NodeInfo = {
    start: f.start,
    end: f.end,
    name: '',
    opType: '',
    domain: '',
    inputs: [],
    outputs: [],
    attributes: new Map(),
  };
  for (const g of fields(buf, f.valueStart, f.valueEnd)) {
    if (g.no === NODE.input) node.inputs.push(text(buf, g));
    else if (g.no === NODE.output) node.outputs.push(text(buf, g));
    else if (g.no === NODE.name) node.name = text(buf, g);
    else if (g.no === NODE.opType) node.opType = text(buf, g);
    else if (g.no === NODE.domain) node.domain = text(buf, g);
    else if (g.no === NODE.attribute) {
      const a = readAttribute(buf, g);
      node.attributes.set(a.name, a);
    }
  }
  return node;
}

/** Names a tensor message declares (graph inputs, outputs, value_info, initializers: field 1 or 8). */
function nameOf(buf: Uint8Array, f: Field, nameField: number): string | undefined {
  for (const g of fields(buf, f.valueStart, f.valueEnd)) if (g.no === nameField && g.wire === WIRE_BYTES) return text(buf, g);
  return undefined;
}

/** True when a TensorProto keeps its data outside the model file (the model then cannot load from bytes). */
function isExternal(buf: Uint8Array, f: Field): boolean {
  for (const g of fields(buf, f.valueStart, f.valueEnd))
    if (g.no === TENSOR.externalData || (g.no === TENSOR.dataLocation && g.varint === 1n)) return true;
  return false;
}

// ---------------------------------------------------------------- the rewrite

export interface UnrollResult {
  /** the rewritten model, or undefined when no node was rewritten */
  bytes: Uint8Array | undefined;
  /** LSTM nodes rewritten, by name (or output) */
  unrolled: string[];
  /** LSTM nodes kept, with the reason; or why the model as a whole was not rewritten */
  kept: string[];
}

/** Why an LSTM node cannot be unrolled (undefined: it can). */
function unsupported(node: NodeInfo): string | undefined {
  if (node.domain !== '' && node.domain !== 'ai.onnx') return `domain ${node.domain}`;
  const a = node.attributes;
  for (const name of a.keys())
    if (!['hidden_size', 'direction', 'activations', 'layout', 'input_forget'].includes(name))
      return `attribute ${name}`;
  const hidden = a.get('hidden_size')?.i;
  if (hidden === undefined || hidden < 1n || hidden > 4096n) return 'hidden_size missing or out of range';
  const direction = a.get('direction')?.s ?? 'forward';
  if (direction !== 'forward') return `direction ${direction}`;
  const activations = a.get('activations')?.strings;
  if (
    activations !== undefined &&
    activations.map((s) => s.toLowerCase()).join(',') !== 'sigmoid,tanh,tanh'
  )
    return `activations ${activations.join(',')}`;
  if ((a.get('layout')?.i ?? 0n) !== 0n) return 'layout 1';
  if ((a.get('input_forget')?.i ?? 0n) !== 0n) return 'input_forget';
  for (const attribute of a.values())
    if (attribute.other || attribute.tensor !== undefined) return `attribute ${attribute.name} of an unexpected type`;
  const [x, w, r, , sequenceLens, , , peephole] = node.inputs;
  if (!x || !w || !r) return 'X, W or R missing';
  if (sequenceLens) return 'sequence_lens';
  if (peephole) return 'peepholes (P)';
  if (node.outputs.length === 0 || node.outputs.every((o) => o === '')) return 'no outputs';
  return undefined;
}

/** Builds the nodes and constants of one unrolled LSTM. */
class Builder {
  readonly nodes: Uint8Array[] = [];
  readonly initializers: Uint8Array[] = [];
  private readonly prefix: string;
  private readonly taken: Set<string>;
  private readonly constants = new Map<string, string>();

  constructor(prefix: string, taken: Set<string>) {
    this.prefix = prefix;
    this.taken = taken;
  }

  fresh(base: string): string {
    let name = `${this.prefix}${base}`;
    for (let n = 1; this.taken.has(name); n++) name = `${this.prefix}${base}_${n}`;
    this.taken.add(name);
    return name;
  }

  /** An int64 constant (scalar when `scalar`), shared by value. */
  int64(values: readonly number[], scalar = false): string {
    const key = `${scalar ? 's' : 'v'}${values.join(',')}`;
    const known = this.constants.get(key);
    if (known !== undefined) return known;
    const name = this.fresh(scalar ? `const_${values[0]}` : `const_${values.join('_')}`);
    const raw = new Uint8Array(values.length * 8);
    const view = new DataView(raw.buffer);
    values.forEach((v, i) => view.setBigInt64(i * 8, BigInt(v), true));
    const parts: Uint8Array[] = [];
    if (!scalar) parts.push(varintField(TENSOR.dims, values.length));
    parts.push(varintField(TENSOR.dataType, INT64), stringField(TENSOR.name, name), bytesField(TENSOR.rawData, raw));
    this.initializers.push(concat(parts));
    this.constants.set(key, name);
    return name;
  }

  /** Adds a node; returns its outputs (fresh names unless given). */
  node(
    opType: string,
    inputs: readonly string[],
    outputs: readonly string[],
    attributes: { ints?: Record<string, readonly number[]>; int?: Record<string, number> } = {},
  ): string[] {
    const named = outputs.map((o) => (o.startsWith('=') ? o.slice(1) : this.fresh(o)));
    const parts: Uint8Array[] = [];
    for (const i of inputs) parts.push(stringField(NODE.input, i));
    for (const o of named) parts.push(stringField(NODE.output, o));
    parts.push(stringField(NODE.name, this.fresh(`${opType}`)), stringField(NODE.opType, opType));
    for (const [name, value] of Object.entries(attributes.int ?? {}))
      parts.push(
        bytesField(
          NODE.attribute,
          concat([stringField(ATTRIBUTE.name, name), varintField(ATTRIBUTE.type, ATTRIBUTE_TYPE.INT), varintField(ATTRIBUTE.i, value)]),
        ),
      );
    for (const [name, values] of Object.entries(attributes.ints ?? {}))
      parts.push(
        bytesField(
          NODE.attribute,
          concat([
            stringField(ATTRIBUTE.name, name),
            varintField(ATTRIBUTE.type, ATTRIBUTE_TYPE.INTS),
            ...values.map((v) => varintField(ATTRIBUTE.ints, v)),
          ]),
        ),
      );
    this.nodes.push(concat(parts));
    return named;
  }
}

/** True when `node` is a ConstantOfShape of zeros (torch's export makes the initial LSTM states so). */
function zeroFill(buf: Uint8Array, node: NodeInfo | undefined): boolean {
  if (node === undefined || node.opType !== 'ConstantOfShape' || (node.domain !== '' && node.domain !== 'ai.onnx'))
    return false;
  const value = node.attributes.get('value');
  if (value === undefined) return true; // the default fill is a float 0
  if (value.tensor === undefined) return false;
  for (const g of fields(buf, value.tensor[0], value.tensor[1])) {
    if (g.no === TENSOR.rawData) {
      for (let i = g.valueStart; i < g.valueEnd; i++) if (buf[i] !== 0) return false;
    } else if (g.no === TENSOR.floatData || g.no === TENSOR.doubleData) {
      // packed (wire 2) or one value (fixed32 / fixed64): zero bytes only (so -0 counts as not zero)
      for (let i = g.valueStart; i < g.valueEnd; i++) if (buf[i] !== 0) return false;
    } else if (g.no === TENSOR.int32Data || g.no === TENSOR.int64Data) {
      if (g.wire === WIRE_VARINT ? g.varint !== 0n : buf.subarray(g.valueStart, g.valueEnd).some((v) => v !== 0))
        return false;
    } else if (g.no === TENSOR.externalData || (g.no === TENSOR.dataLocation && g.varint !== 0n)) return false;
  }
  return true;
}

/**
 * The per-step graph of a forward LSTM (ONNX gate order i, o, f, c; default activations):
 *   gates_t = X_t W^T + Wb + Rb + h_{t-1} R^T;  i, o, f = sigmoid(.);  c~ = tanh(.)
 *   c_t = f * c_{t-1} + i * c~;  h_t = o * tanh(c_t)
 * writing the node's own outputs Y [steps, 1, batch, hidden], Y_h and Y_c [1, batch, hidden].
 */
function unrollNode(node: NodeInfo, steps: number, opset: number, zeroState: (name: string) => boolean, b: Builder): void {
  const hidden = Number(node.attributes.get('hidden_size')!.i!);
  const [x, w, r, bias, , initialH, initialC] = node.inputs as [
    string,
    string,
    string,
    string?,
    string?,
    string?,
    string?,
  ];
  const [y = '', yH = '', yC = ''] = node.outputs;
  const axis0 = b.int64([0]);
  const [w2] = b.node('Squeeze', [w, axis0], ['W']);
  const [wT] = b.node('Transpose', [w2!], ['W_T'], { ints: { perm: [1, 0] } });
  const [r2] = b.node('Squeeze', [r, axis0], ['R']);
  const [rT] = b.node('Transpose', [r2!], ['R_T'], { ints: { perm: [1, 0] } });
  // every step's input projection in one MatMul: [steps, batch, 4 hidden] ...
  let [projected] = b.node('MatMul', [x, wT!], ['XW']);
  if (bias) {
    const [b2] = b.node('Squeeze', [bias, axis0], ['B']);
    const [wb, rb] = b.node('Split', [b2!, b.int64([4 * hidden, 4 * hidden])], ['Wb', 'Rb'], { int: { axis: 0 } });
    const [sum] = b.node('Add', [wb!, rb!], ['bias']);
    [projected] = b.node('Add', [projected!, sum!], ['XW_bias']);
  }
  // ... as steps x [batch, 4 hidden] (rows are step-major), so each step is one Gemm on 2-D states
  const [flat] = b.node('Reshape', [projected!, b.int64([-1, 4 * hidden])], ['XW_2d']);
  const xs = b.node(
    'Split',
    [flat!],
    Array.from({ length: steps }, (_, t) => `x_${t}`),
    opset >= 18 ? { int: { axis: 0, num_outputs: steps } } : { int: { axis: 0 } },
  );
  // absent initial states, and torch's ConstantOfShape zeros, drop the first step's recurrent and
  // forget terms
  let h = initialH && !zeroState(initialH) ? b.node('Squeeze', [initialH, axis0], ['h_0'])[0] : undefined;
  let c = initialC && !zeroState(initialC) ? b.node('Squeeze', [initialC, axis0], ['c_0'])[0] : undefined;
  const split3 = b.int64([3 * hidden, hidden]);
  const splitGates = b.int64([hidden, hidden, hidden]);
  const hs: string[] = [];
  for (let t = 0; t < steps; t++) {
    let gates = xs[t]!;
    // h R^T + x_t in one op
    if (h !== undefined) [gates] = b.node('Gemm', [h, rT!, gates], [`gates_${t}`]) as [string];
    const [sigmoidPart, tanhPart] = b.node('Split', [gates, split3], [`iof_pre_${t}`, `g_pre_${t}`], {
      int: { axis: 1 },
    });
    const [iof] = b.node('Sigmoid', [sigmoidPart!], [`iof_${t}`]);
    const [i, o, f] = b.node('Split', [iof!, splitGates], [`i_${t}`, `o_${t}`, `f_${t}`], { int: { axis: 1 } });
    const [g] = b.node('Tanh', [tanhPart!], [`g_${t}`]);
    const cName = `c_${t + 1}`;
    const [ig] = b.node('Mul', [i!, g!], c === undefined ? [cName] : [`ig_${t}`]);
    if (c === undefined) c = ig!;
    else {
      const [fc] = b.node('Mul', [f!, c], [`fc_${t}`]);
      [c] = b.node('Add', [fc!, ig!], [cName]) as [string];
    }
    const [tc] = b.node('Tanh', [c], [`tanh_c_${t + 1}`]);
    [h] = b.node('Mul', [o!, tc!], [`h_${t + 1}`]) as [string];
    hs.push(h!);
  }
  if (y) {
    const [all] = b.node('Concat', hs, ['Y_2d'], { int: { axis: 0 } });
    b.node('Reshape', [all!, b.int64([steps, 1, -1, hidden])], [`=${y}`]);
  }
  if (yH) b.node('Unsqueeze', [h!, axis0], [`=${yH}`]);
  if (yC) b.node('Unsqueeze', [c!, axis0], [`=${yC}`]);
}

/**
 * Rewrites every standard forward LSTM node of the model's main graph into `steps` unrolled steps.
 * `steps` is the model input's sequence length: the caller checks the result against the original
 * graph, which catches an LSTM over another length. Never throws: a model it cannot read comes back
 * with bytes undefined and the reason in `kept`.
 */
export function unrollLstm(model: Uint8Array, steps: number): UnrollResult {
  const result: UnrollResult = { bytes: undefined, unrolled: [], kept: [] };
  if (!Number.isInteger(steps) || steps < 1 || steps > 256) {
    result.kept.push(`sequence length ${steps} (1 to 256 steps are unrolled)`);
    return result;
  }
  try {
    const top = fields(model);
    const graphField = top.find((f) => f.no === MODEL.graph && f.wire === WIRE_BYTES);
    if (graphField === undefined) {
      result.kept.push('no graph');
      return result;
    }
    let opset = 0;
    for (const f of top)
      if (f.no === MODEL.opsetImport && f.wire === WIRE_BYTES) {
        let domain = '';
        let version = 0n;
        for (const g of fields(model, f.valueStart, f.valueEnd)) {
          if (g.no === OPSET.domain) domain = text(model, g);
          else if (g.no === OPSET.version) version = g.varint;
        }
        if (domain === '' || domain === 'ai.onnx') opset = Number(version);
      }
    const graph = fields(model, graphField.valueStart, graphField.valueEnd);
    const nodes = new Map<Field, NodeInfo>();
    const taken = new Set<string>();
    let external = false;
    for (const f of graph) {
      if (f.wire !== WIRE_BYTES) continue;
      if (f.no === GRAPH.node) {
        const node = readNode(model, f);
        nodes.set(f, node);
        for (const name of [...node.outputs, node.name]) taken.add(name);
      } else if (f.no === GRAPH.initializer || f.no === GRAPH.sparseInitializer) {
        const name = nameOf(model, f, TENSOR.name);
        if (name !== undefined) taken.add(name);
        if (f.no === GRAPH.initializer && isExternal(model, f)) external = true;
      } else if (f.no === GRAPH.input || f.no === GRAPH.output || f.no === GRAPH.valueInfo) {
        const name = nameOf(model, f, 1);
        if (name !== undefined) taken.add(name);
      }
    }
    const producers = new Map<string, NodeInfo>();
    for (const node of nodes.values()) for (const output of node.outputs) if (output !== '') producers.set(output, node);
    const lstms = [...nodes.values()].filter((n) => n.opType === 'LSTM');
    if (lstms.length === 0) return result;
    const label = (n: NodeInfo): string => n.name || n.outputs.find((o) => o !== '') || 'LSTM';
    if (opset < 13 || opset > 23) {
      for (const n of lstms) result.kept.push(`${label(n)}: opset ${opset} (13 to 23 are rewritten)`);
      return result;
    }
    if (external) {
      for (const n of lstms) result.kept.push(`${label(n)}: the model keeps weights in external files`);
      return result;
    }
    const replacement = new Map<Field, Uint8Array[]>();
    const initializers: Uint8Array[] = [];
    for (const [f, node] of nodes) {
      if (node.opType !== 'LSTM') continue;
      const why = unsupported(node);
      if (why !== undefined) {
        result.kept.push(`${label(node)}: ${why}`);
        continue;
      }
      const builder = new Builder(`${label(node)}/unrolled/`, taken);
      unrollNode(node, steps, opset, (name) => zeroFill(model, producers.get(name)), builder);
      replacement.set(f, builder.nodes);
      initializers.push(...builder.initializers);
      result.unrolled.push(label(node));
    }
    if (replacement.size === 0) return result;
    const graphParts: Uint8Array[] = [];
    for (const f of graph) {
      const nodesFor = replacement.get(f);
      if (nodesFor !== undefined) for (const bytes of nodesFor) graphParts.push(bytesField(GRAPH.node, bytes));
      else graphParts.push(model.subarray(f.start, f.end));
    }
    for (const bytes of initializers) graphParts.push(bytesField(GRAPH.initializer, bytes));
    const modelParts: Uint8Array[] = [];
    for (const f of top)
      modelParts.push(f === graphField ? bytesField(MODEL.graph, concat(graphParts)) : model.subarray(f.start, f.end));
    result.bytes = concat(modelParts);
    return result;
  } catch (error) {
    result.bytes = undefined;
    result.unrolled = [];
    result.kept.push(`the model is not readable protobuf (${(error as Error).message})`);
    return result;
  }
}
