import type { CtrModelName } from '../config.js';
import type { Network } from '../net.js';
import { dcn, dcnv2 } from './dcn.js';
import { deepfm } from './deepfm.js';
import { fm } from './fm.js';
import { lr } from './lr.js';

export const NETWORKS: Record<CtrModelName, Network> = { lr, fm, deepfm, dcn, dcnv2 };
