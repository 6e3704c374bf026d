/** The options every onnxruntime session of the engine is created with, in the worker or inline. */
import type * as ort from 'onnxruntime-node';

export function ortSessionOptions(threads: number): ort.InferenceSession.SessionOptions {
  return {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    // Spinning threads would burn the second core while the main thread runs the optimizer.
    extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } },
  };
}
