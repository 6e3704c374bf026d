/** `userip lm adapt`: continued pretraining of a GPT-2 checkpoint on a prepared dataset's train-split behaviour text. */
import { Command } from 'commander';
import { readJson } from '../io/files.js';
import { adapt, adaptSettingsSchema, BEHAVIOUR_KEYS } from '../lm/adapt.js';
import { BEHAVIOUR_FORMATS } from '../profile/index.js';
import { intFlag, numberFlag, resolveConfig, switchFlag } from './config.js';

export function adaptCommand(): Command {
  return new Command('adapt')
    .description(
      'continue pretraining a GPT-2-architecture LM on the behaviour text of a prepared dataset\'s TRAIN split ' +
        '(the lines `profile tune` scores; validation rows only measure the held-out NLL, test rows are never read). ' +
        'Resumable: rerun the same command to continue. Writes a Hugging Face directory for `profile tune --lm`, ' +
        'with adapt-summary.json and MODEL_CARD.md.',
    )
    .option('--config <file>', 'JSON config (the keys of these flags, camelCase); flags override it')
    .option('--lm <dir>', 'Hugging Face GPT-2 checkpoint directory, or "house" for the shipped house LM (default house)')
    .option('--data <dir>', 'output of `userip data prepare`')
    .option('--out <dir>', 'output directory: the adapted model, its corpus, checkpoint and logs')
    .option('--exclude-users <file>', 'user ids, one per line, whose rows stay out of the corpus (the cold protocol\'s cold users)')
    .option('--tune-config <file>', 'take the behaviour settings from a `profile tune` config (e.g. <run>/config.json); flags override them')
    .option('--behaviour-source <src>', 'items | reviews | both (default items), as in `profile tune`')
    .option('--behaviour-format <fmt>', `item fields of each behaviour line: ${Object.keys(BEHAVIOUR_FORMATS).join(' | ')} (default full), as in \`profile tune\``)
    .option('--behaviour-ratings <on|off>', 'end each behaviour line with the user\'s rating (default on), as in `profile tune`', switchFlag)
    .option('--behaviour-prefix <text>', 'first line of each user\'s document (default "Recently the user watched:"), as in `profile tune`')
    .option('--steps <n>', 'optimizer steps (default 200)', intFlag)
    .option('--batch <n>', 'sequences of the model\'s full context per step (default 16)', intFlag)
    .option('--lr <x>', 'peak learning rate, cosine-decayed after warmup (default 5e-4)', numberFlag)
    .option('--warmup <n>', 'linear warmup steps (default 20)', intFlag)
    .option('--weight-decay <x>', 'AdamW weight decay on matrices (default 0.1)', numberFlag)
    .option('--eval-every <n>', 'validation loss every N steps on the first --eval-tokens tokens, 0 = never (default 50)', intFlag)
    .option('--eval-tokens <n>', 'validation tokens of the periodic evaluation (default 8192)', intFlag)
    .option('--checkpoint-every <n>', 'checkpoint every N steps (default 50)', intFlag)
    .option('--seed <n>', 'seed of batch sampling (default 0)', intFlag)
    .option('--threads <n>', 'onnxruntime threads (default 1)', intFlag)
    .option('--minutes <x>', 'time budget: stop training after this many minutes in total and save the model', numberFlag)
    .option('--stop-after <n>', 'stop at this step with a checkpoint and no model files (rerun to continue)', intFlag)
    .option('--no-progress', 'no progress bar')
    .action(async (flags) => {
      const { tuneConfig, ...rest } = flags;
      const fromTune = tuneConfig === undefined ? {} : await tuneBehaviour(tuneConfig);
      const defined = Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined));
      const settings = await resolveConfig(adaptSettingsSchema, flags.config, { ...fromTune, ...defined });
      const result = await adapt(settings, ['userip', ...process.argv.slice(2)].map(shellQuote).join(' '));
      if (!result.finished) console.log(JSON.stringify({ finished: false, step: result.step }, null, 2));
      else console.log(JSON.stringify(result.summary, null, 2));
    });
}

/** The behaviour settings of a `profile tune` config file. */
async function tuneBehaviour(file: string): Promise<Record<string, unknown>> {
  const config = await readJson<Record<string, unknown>>(file);
  return Object.fromEntries(BEHAVIOUR_KEYS.filter((key) => config[key] !== undefined).map((key) => [key, config[key]]));
}

function shellQuote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}
