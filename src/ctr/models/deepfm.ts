/** DeepFM (Guo et al. 2017): the FM and an MLP read the same field embeddings; their logits add. */
import { ops } from '../../engine/index.js';
import * as nn from '../../engine/nn.js';
import type { Network } from '../net.js';
import { factors, fieldEmbeddings, firstOrder, flatten, head, mlp } from '../layers.js';

export const deepfm: Network = (net, config) => {
  const e = fieldEmbeddings(net, factors(config.embeddingSize));
  const fm = ops.add(firstOrder(net), nn.fmInteraction(e));
  return ops.add(fm, head(net, mlp(net, flatten(e), config.mlp, config.dropout)));
};
