/** The options every onnxruntime session of the engine is created with, in the worker or inline. */
import type * as ort from 'onnxruntime-node';

/** `leanMemory`: no memory pattern and no pre-packed weights (see docs/models.md for what each saves). */
export function ortSessionOptions(threads: number, leanMemory = false): ort.InferenceSession.SessionOptions {
  return {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    // A memory pattern is one block per input shape holding every intermediate at once, kept for
    // the session's life; without it, intermediates come from the arena and are reused as they die.
    enableMemPattern: !leanMemory,
    extra: {
      session: {
        // Spinning threads would burn the second core while the main thread runs the optimizer.
        intra_op: { allow_spinning: '0' },
        inter_op: { allow_spinning: '0' },
        // A pre-packed weight is a second copy per consumer (the forward MatMul and the backward Gemm
        // each pack their own), and the unpacked one stays mapped from the external data file.
        ...(leanMemory ? { disable_prepacking: '1' } : {}),
      },
    },
  };
}
