/**
 * Deep & Cross Network, parallel form: a cross network and an MLP both read x0 (the flattened field
 * embeddings); one linear unit reads both outputs side by side. DCN (Wang et al. 2017) uses vector
 * cross weights, DCN-V2 (Wang et al. 2021) full matrices.
 */
import { ops } from '../../engine/index.js';
import type { Network } from '../net.js';
import { crossNetwork, factors, fieldEmbeddings, flatten, head, mlp } from '../layers.js';

function deepCross(version: 1 | 2): Network {
  return (net, config) => {
    const x0 = flatten(fieldEmbeddings(net, factors(config.embeddingSize)));
    const cross = crossNetwork(net, x0, config.crossLayers, version);
    return head(net, config.mlp.length > 0 ? ops.concat([cross, mlp(net, x0, config.mlp, config.dropout)], 1) : cross);
  };
}

export const dcn = deepCross(1);
export const dcnv2 = deepCross(2);
