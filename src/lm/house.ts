import { fileURLToPath } from 'node:url';

/** The shipped house LM (see models/house-lm/MODEL_CARD.md), resolved from the compiled file in dist/src/lm/. */
export const HOUSE_LM_DIR = fileURLToPath(new URL('../../../models/house-lm', import.meta.url));

/** `--lm` values: "house" for the shipped model, else a Hugging Face checkpoint directory. */
export function resolveLmDir(spec: string): string {
  return spec === 'house' ? HOUSE_LM_DIR : spec;
}
