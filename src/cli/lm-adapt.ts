/** `userip lm adapt`: continued pretraining of a GPT-2 checkpoint on a prepared dataset's train-split behaviour text. */
import { Command } from 'commander';
import { readJson } from '../io/files.js';
import { adapt, adaptSettingsSchema, BEHAVIOUR_KEYS } from '../houselm/index.js';
import { BEHAVIOUR_FORMATS } from '../profile/index.js';
import { resolveConfig, switchFlag } from './config.js';
import { trainingFlags } from './lm-pretrain.js';
import { terminalProgress } from './progress.js';

export function adaptCommand(): Command {
  const command = new Command('adapt')
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
    .option('--behaviour-prefix <text>', 'first line of each user\'s document (default "Recently the user watched:"), as in `profile tune`');
  return trainingFlags(command, {
    batch: 'sequences of the model\'s full context per step (default 16)',
    steps: 200,
    lr: '5e-4',
    warmup: 20,
    evalEvery: 50,
    checkpointEvery: 50,
    seed: 'seed of batch sampling (default 0)',
  })
    .action(async (flags) => {
      const { tuneConfig, ...rest } = flags;
      const fromTune = tuneConfig === undefined ? {} : await tuneBehaviour(tuneConfig);
      const defined = Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined));
      const settings = await resolveConfig(adaptSettingsSchema, flags.config, { ...fromTune, ...defined });
      const result = await adapt(settings, ['userip', ...process.argv.slice(2)].map(shellQuote).join(' '), terminalProgress({ bar: flags.progress }));
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
