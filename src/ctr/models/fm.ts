/** Factorization machine (Rendle 2010): LR plus Σ_{i<j} <v_i, v_j> over all field pairs. */
import { ops } from '../../engine/index.js';
import type { Network } from '../net.js';
import { factors, fieldEmbeddings, firstOrder, fmInteraction } from '../layers.js';

export const fm: Network = (net, config) => ops.add(firstOrder(net), fmInteraction(fieldEmbeddings(net, factors(config.embeddingSize))));
