/**
 * `npm run bench -- <name>`: benchmarks that print one JSON object per line; the last line of each
 * benchmark is its result. Speed targets live here, compared against baselines measured in the same
 * run, never in timed unit tests.
 */
import { ctrBench } from './ctr.js';
import { engineBench } from './engine.js';
import { lmBench } from './lm.js';
import { profileBench } from './profile.js';
import { scaleBench } from './scale.js';
import { serveBench } from './serve.js';

/** Each gets the arguments after its name (`npm run bench -- lm --corpus DIR`). */
const benches: Record<string, (args: string[]) => Promise<void>> = { engine: engineBench, lm: lmBench, ctr: ctrBench, profile: profileBench, serve: serveBench, scale: scaleBench };

const name = process.argv[2];
const bench = name ? benches[name] : undefined;
if (!bench) {
  console.error(`usage: npm run bench -- <${Object.keys(benches).join('|')}> [options]   (lm: --corpus DIR; scale: --users N --shard-users N)`);
  process.exit(2);
}
await bench(process.argv.slice(3));
