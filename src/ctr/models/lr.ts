/** Logistic regression: a bias plus one learned weight per id (and a linear term per dense field). */
import type { Network } from '../net.js';
import { firstOrder } from '../layers.js';

export const lr: Network = (net) => firstOrder(net);
