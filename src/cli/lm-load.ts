import type { Runtime } from '../engine/index.js';
import { CausalLm, resolveLmDir } from '../lm/index.js';

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
