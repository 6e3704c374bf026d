/** `userip lm corpus` and `userip lm tokenizer`: the house LM's pretraining corpus and its compact BPE. */
import { Command } from 'commander';
import { buildCorpus, trainTokenizer } from '../houselm/index.js';
import { intFlag } from './config.js';

export function corpusCommand(): Command {
  return new Command('corpus')
    .description('build the house LM\'s pretraining corpus (train.txt, valid.txt, manifest.json) from openly licensed Debian text packages and the MovieLens catalog (titles and genres only); see docs/house-lm-corpus.md')
    .requiredOption('--out <dir>', 'corpus directory')
    .option('--movielens <dir>', 'directory with movies.csv (default: the embedded MovieLens latest-small)', 'data/movielens-latest-small')
    .option('--seed <n>', 'seed of the split and document order (default 0)', intFlag, 0)
    .action(async (flags: { out: string; movielens: string; seed: number }) => {
      const manifest = await buildCorpus({ outDir: flags.out, movielensDir: flags.movielens, seed: flags.seed, onProgress: (line) => console.error(line) });
      console.log(JSON.stringify({ train: manifest.train, valid: manifest.valid, sources: manifest.sources.map((s) => ({ id: s.id, status: s.status })) }, null, 2));
    });
}

export function tokenizerCommand(): Command {
  return new Command('tokenizer')
    .description('train a compact BPE (SentencePiece\'s spm_train; Debian package `sentencepiece`) on a corpus and write it as a Hugging Face tokenizer.json')
    .requiredOption('--corpus <dir>', 'corpus directory with train.txt')
    .requiredOption('--out <dir>', 'directory for tokenizer.json and tokenizer_config.json')
    .option('--vocab <n>', 'vocabulary size (default 8192)', intFlag, 8192)
    .option('--sample-lines <n>', 'training lines sampled from the corpus (default 2000000)', intFlag, 2_000_000)
    .option('--threads <n>', 'trainer threads (default 2)', intFlag, 2)
    .option('--seed <n>', 'sampling seed (default 0)', intFlag, 0)
    .action(async (flags: { corpus: string; out: string; vocab: number; sampleLines: number; threads: number; seed: number }) => {
      const result = await trainTokenizer({ inputs: [`${flags.corpus}/train.txt`], out: flags.out, vocabSize: flags.vocab, sampleLines: flags.sampleLines, threads: flags.threads, seed: flags.seed });
      console.log(JSON.stringify({ vocab_size: result.vocabSize, out: flags.out }));
    });
}
