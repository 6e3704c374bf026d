/** `userip profile tune` and `userip profile explain`: the command-line face of src/profile/run.ts. */
import { Command } from 'commander';
import { BEHAVIOUR_FORMATS, explainRun, MASK_MODES, tuneRun, tuneSchema, type CodeLmText, type SlotExplanation } from '../profile/index.js';
import { tuneOnQueue } from '../queue/index.js';
import { intFlag, numberFlag, resolveConfig, switchFlag } from './config.js';
import { terminalProgress } from './progress.js';
import { coordinatorProgress } from './queue.js';

export function profileCommand(): Command {
  const profile = new Command('profile').description('latent user profiles: tune soft tokens, quantize, explain');
  profile
    .command('tune')
    .description('tune per-user soft tokens against the frozen LM, fit per-slot codebooks, write IDs to the feature bank')
    .option('--config <file>', 'JSON config (slots, template, training); flags override it')
    .requiredOption('--data <dir>', 'output of `userip data prepare`')
    .requiredOption('--out <dir>', 'output directory (rerun with the same one to resume)')
    .option('--lm <dir>', 'Hugging Face model directory, or "house" for the shipped house LM (default)')
    .option('--mask <mode>', `attention mask: ${MASK_MODES.join(' | ')} (default paper)`)
    .option('--behaviour-source <src>', 'items | reviews | both (default items)')
    .option('--behaviour-format <fmt>', `item fields of each behaviour line: ${Object.keys(BEHAVIOUR_FORMATS).join(' | ')} (default full: title, year, genres, categories, brand, price)`)
    .option('--behaviour-tokens <n>', 'tokens per window of behaviour text; the whole train history is cut into such windows (default 256, cut to the LM\'s context)', intFlag)
    .option('--behaviour-ratings <on|off>', 'end each behaviour line with the user\'s rating (default on)', switchFlag)
    .option('--rating-text <style>', 'number | liked: write the rating as "rated 4.5", or as "liked" / "disliked" at the data\'s click threshold (default liked)')
    .option('--rating-weight <x>', 'weight of the rating\'s tokens in the behaviour NLL, relative to the item text\'s (default 10; 1: plain likelihood)', numberFlag)
    .option('--lr <x>', 'learning rate of the users\' tokens (default 0.01)', numberFlag)
    .option('--user-optimizer <name>', 'adamw | gradient: how a user\'s offset steps (gradient: lr × gradient / the user\'s first gradient norm in the E-step, along the LM\'s sensitive directions) (default adamw)')
    .option('--population-lr <x>', 'AdamW learning rate of the population token (default 0.05)', numberFlag)
    .option('--batch-tokens <n>', 'prompt tokens per population step (default 4096)', intFlag)
    .option('--lm-batch-tokens <n>', 'padded prompt tokens per LM call; larger steps are split (default 1024)', intFlag)
    .option('--windows-per-step <n|auto>', 'windows of a user in one of its steps; auto = enough that every E-step covers the user\'s whole history (default auto)', (v: string) => (v === 'auto' ? v : intFlag(v)))
    .option('--population-steps <n>', 'steps of the population token shared by all users, before the users\' own (default 60)', intFlag)
    .option('--user-steps <n>', 'step budget of each user per E-step (default 4)', intFlag)
    .option('--convergence <x>', 'a user stops once its gradient norm is below this share of its first (default 0.1; 0 = budget only)', numberFlag)
    .option('--prior <x>', 'L2 prior on a user\'s offset from the population token (default 0.01)', numberFlag)
    .option('--em-rounds <n>', 'E-step / M-step rounds; from the second on, each E-step pulls toward the codes (default 1: one E-step over the whole history, then the codebooks)', intFlag)
    .option('--commitment <x>', 'β: pull toward the nearest code\'s centroid from the second E-step on (default 0.1)', numberFlag)
    .option('--diagnostics-users <n>', 'users sampled for the retrieval and split-half diagnostics, 0 = skip (default 40)', intFlag)
    .option('--seed <n>', 'random seed (default 0)', intFlag)
    .option('--threads <n>', 'ORT threads (default: all cores)', intFlag)
    .option('--checkpoint-every <n>', 'checkpoint every N steps, and at every phase end (default 50)', intFlag)
    .option('--queue <url>', 'tune on BullMQ jobs in this Redis (redis://HOST:PORT), taken by `userip worker`s; this process coordinates (see docs/scale-out.md)')
    .option('--shard-users <n>', 'with --queue: users per shard job (default 256)', intFlag)
    .action(async ({ queue, shardUsers, ...flags }) => {
      const config = await resolveConfig(tuneSchema, flags.config, flags);
      if (shardUsers !== undefined && !queue) throw new Error('--shard-users needs --queue');
      if (!queue) {
        const summary = await tuneRun(config, terminalProgress());
        console.log(JSON.stringify({ ...summary, history: undefined }, null, 2));
        return;
      }
      const progress = coordinatorProgress();
      try {
        const summary = await tuneOnQueue(config, { redis: queue, shardUsers: shardUsers ?? 256, onEvent: progress.onEvent });
        progress.stop();
        console.log(JSON.stringify({ ...summary, history: undefined }, null, 2));
      } finally {
        progress.stop();
      }
    });
  profile
    .command('explain')
    .description('what each code means: its users, over-represented item attributes (lift), and the LM\'s continuation of the slot with the code\'s centroid')
    .requiredOption('--run <dir>', 'output directory of `userip profile tune`')
    .option('--top <n>', 'attributes per code (default 5)', intFlag, 5)
    .option('--min-count <n>', 'ignore attributes seen fewer times among a code\'s users (default 5)', intFlag, 5)
    .option('--tokens <n>', 'tokens the LM generates per code (default 8)', intFlag, 8)
    .option('--json', 'print JSON instead of text')
    .action(async (flags: { run: string; top: number; minCount: number; tokens: number; json?: boolean }) => {
      const explanation = await explainRun(flags.run, flags);
      console.log(flags.json ? JSON.stringify(explanation, null, 2) : formatExplanation(explanation));
    });
  return profile;
}

export function formatExplanation(slots: SlotExplanation[]): string {
  const lines: string[] = [];
  for (const s of slots) {
    lines.push(`slot ${s.slot} ("${s.text} …")`);
    for (const c of s.codes) {
      const attrs = c.top.map((t) => `${t.attribute} x${t.lift.toFixed(2)}`).join(', ') || '(no attribute above the minimum count)';
      lines.push(`  code ${c.code}: ${c.users} users | ${attrs}`);
      lines.push(`    LM: "${s.text}${c.continuation.replace(/\s+/g, ' ')}"`);
      // exp(contrast): P(word | code) over the geometric mean of P(word | code') across the slot's codes.
      const words = (list: CodeLmText['words']) => list.map((w) => `"${w.word}" x${Math.exp(w.contrast).toFixed(2)}`).join(', ') || '(none)';
      lines.push(`    LM words: ${words(c.words)}`);
      lines.push(`    LM words opening the behaviour: ${words(c.behaviour_words)}`);
    }
  }
  return lines.join('\n');
}
