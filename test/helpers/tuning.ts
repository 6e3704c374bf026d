/** What the trainer tests tune with: a tiny LM's shape, small settings and seeded users of its tokens. */
import { Rng } from '../../src/engine/index.js';
import type { Tokenizer } from '../../src/lm/index.js';
import type { TuneOptions, UserBehaviour } from '../../src/profile/index.js';

/** The tiny random GPT-2 the trainer tests tune against (`tinyLm` adds the seed). */
export const TUNING_LM = { architecture: 'gpt2', hiddenSize: 32, numLayers: 2, numHeads: 4, maxPositions: 96 } as const;

/** Trainer settings small enough for a tiny LM in a test; each test overrides what it is about. */
export function testTuneOptions(overrides: Partial<TuneOptions> = {}): TuneOptions {
  return {
    mask: 'paper',
    lr: 0.05,
    populationLr: 0.05,
    userOptimizer: 'adamw',
    codebookSizes: [3, 2],
    batchTokens: 120,
    lmBatchTokens: 120,
    windowsPerStep: 2,
    populationSteps: 3,
    userSteps: 3,
    convergence: 0.05,
    prior: 0.01,
    emRounds: 2,
    commitment: 0.1,
    seed: 5,
    checkpointEvery: 1000,
    configHash: 'test',
    ...overrides,
  };
}

/** `n` users with 1 to `maxWindows` train windows of seeded words; every third user has no validation text. */
export function testUsers(tokenizer: Tokenizer, n: number, seed: number, maxWindows: number): UserBehaviour[] {
  const rng = new Rng(seed);
  const words = ['alpha', 'beta', 'gamma', 'delta'];
  return Array.from({ length: n }, (_, u) => {
    const text = (len: number) => Array.from({ length: len }, () => words[(u + rng.int(2)) % 4]).join(' ');
    const train = Array.from({ length: 1 + (u % maxWindows) }, () => tokenizer.encode(text(6)));
    return { user: `u${u}`, train, valid: u % 3 === 2 ? [] : [tokenizer.encode(text(4))] };
  });
}
