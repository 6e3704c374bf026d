/**
 * Experiments that show whether the profiles help: CTR feature sets compared over seeds under a warm
 * and a cold-start protocol (report.md, report.json, SVG plots), and profile recovery against true
 * user attributes (NMI, linear probes), each next to baselines that need no LM.
 *
 *   const report = await compareFeatureSets({ data: 'runs/x/data', run: 'runs/x/profile', out: 'runs/x/compare' });
 *   report.ctr.find((r) => r.features === 'id+userip' && r.protocol === 'cold')?.vs_id?.auc.verdict;
 *   await evalAttributes({ data, run, attributes: 'users.csv' });
 */
export { compareFeatureSets, compareSchema, type ColdStartProfiles, type CompareConfig, type CompareConfigInput, type CompareHooks } from './compare.js';
export { ACTIVITY_BUCKETS, FEATURE_SETS, PROTOCOLS, type CompareReport, type CtrRow, type FeatureSet, type Protocol, type RunRecord } from './report.js';
export { attributesSchema, evalAttributes, type AttributeResult, type AttributesConfig, type AttributesReport } from './attributes.js';
export { mfKmeans, mfSettingsSchema, randomIds, rateBins, type LabelRows, type MfKmeans } from './baselines.js';
export { DEFAULT_MF, foldInUsers, predictMf, trainMf, type MfModel, type MfOptions, type Rating } from './mf.js';
export { nmi, mutualInformation } from './nmi.js';
export { DEFAULT_PROBE, probeAccuracy, type ProbeOptions, type ProbeResult } from './probe.js';
export { pairedTest, tCritical, tTwoSided, type PairedTest, type Verdict } from './stats.js';
export { DEMO_CONFIG, demoConfigSchema, demoTuneConfig, readDemoConfig, runDemo, type DemoConfig, type DemoListener, type DemoOptions, type DemoSummary } from './demo.js';
