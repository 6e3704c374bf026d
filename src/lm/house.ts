import { fileURLToPath } from 'node:url';
import type { Runtime } from '../engine/index.js';
import { CausalLm } from './causal-lm.js';

/** The shipped house LM (see models/house-lm/MODEL_CARD.md), resolved from the compiled file in dist/src/lm/. */
export const HOUSE_LM_DIR = fileURLToPath(new URL('../../../models/house-lm', import.meta.url));

/** `--lm` values: "house" for the shipped model, else a Hugging Face checkpoint directory. */
export function resolveLmDir(spec: string): string {
  return spec === 'house' ? HOUSE_LM_DIR : spec;
}

/** Load `--lm` ("house" or a directory), with a hint when the house LM has not been trained yet. */
export async function loadLm(spec: string, runtime: Runtime): Promise<CausalLm> {
  const dir = resolveLmDir(spec);
  try {
    return await CausalLm.load(dir, { runtime });
  } catch (err) {
    const hint = spec === 'house' ? ' (the house LM ships in models/house-lm; `userip lm pretrain` rebuilds it)' : '';
    throw new Error(`cannot load LM ${dir}${hint}: ${(err as Error).message}`);
  }
}
