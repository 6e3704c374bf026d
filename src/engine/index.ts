export { Graph, type Tensor, type Dim, type Shape, type DType } from './graph.js';
export * as ops from './ops.js';
export { gradients } from './autodiff.js';
export { serialize, type SerializedModel } from './onnx.js';
export { Runtime, Session, defaultRuntime, float32, int64, type HostTensor } from './runtime.js';
export { InlineSession } from './inline.js';
export { Rng } from './random.js';
export { freeNow } from './free.js';
export { Sgd, Adam, AdamW, clipGradNorm, optimizerFromState, type Param, type OptimizerState } from './optim.js';
