/** DeepFM (Guo et al. 2017): the FM and an MLP read the same field embeddings; their logits add. */
import { ops } from '../../engine/index.js';
import type { Network } from '../net.js';
import { factors, fieldEmbeddings, firstOrder, flatten, fmInteraction, head, mlp } from '../layers.js';

export const deepfm: Network = (net, config) => {
  const e = fieldEmbeddings(net, factors(config.embeddingSize));
  const fm = ops.add(firstOrder(net), fmInteraction(e));
  return ops.add(fm, head(net, mlp(net, flatten(e), config.mlp, config.dropout)));
};
