/** `userip ctr train`: the CTR model `userip serve` loads, on the ID fields plus a tune run's profile IDs. */
import { Command } from 'commander';
import { CTR_MODELS } from '../ctr/index.js';
import { servingModelSchema, trainServingModel } from '../features/index.js';
import { intFlag, resolveConfig } from './config.js';
import { addCtrOptions, CTR_FLAGS } from './eval.js';

export function ctrCommand(): Command {
  const ctr = new Command('ctr').description('CTR models for serving');
  const train = ctr
    .command('train')
    .description('train a CTR model on user, item, genre and the feature bank\'s profile IDs (early stopping on the validation split); write model.json, weights, features.json and train.json for `userip serve --model`')
    .option('--config <file>', 'JSON config: any setting below, plus "ctr" (CTR model settings); flags override it')
    .option('--data <dir>', 'output directory of `userip data prepare`')
    .option('--run <dir>', 'output directory of `userip profile tune` on that data (its bank.sqlite feeds the model)')
    .option('--out <dir>', 'model directory')
    .option('--model <name>', `${CTR_MODELS.join(' | ')} (default dcn)`)
    .option('--seed <n>', 'initialisation and shuffling seed (default 0)', intFlag)
    .option('--threads <n>', 'ORT threads (default: all cores)', intFlag);
  addCtrOptions(train).action(async (flags: Record<string, unknown>) => {
    const config = await resolveConfig(servingModelSchema, flags.config as string | undefined, flags, { key: 'ctr', flags: CTR_FLAGS });
    console.log(JSON.stringify(await trainServingModel(config), null, 2));
  });
  return ctr;
}
