/**
 * `userip lm info` as a user runs it: the compiled CLI (dist/src/cli/main.js, built by `tsc -p .`)
 * in a child process, on tiny Hugging Face directories.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { CausalLm } from '../../src/lm/causal-lm.js';
import { writeTinyCheckpoint, type TinyCheckpoint } from '../helpers/tinyCheckpoint.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

function userip(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [MAIN, ...args], (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

let root: string;
let gpt2: TinyCheckpoint;
let qwen2: TinyCheckpoint;
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'userip-lm-info-'));
  // Layouts as recent transformers saves them: gpt2 under `transformer.`, qwen2 sharded in bf16.
  gpt2 = await writeTinyCheckpoint(join(root, 'gpt2'), { architecture: 'gpt2', seed: 1, prefixed: true, hiddenSize: 24, numHeads: 3 });
  qwen2 = await writeTinyCheckpoint(join(root, 'qwen2'), { architecture: 'qwen2', seed: 2, dtype: 'BF16', sharded: true, vocabSize: 300, numKvHeads: 1 });
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

const parameterCount = (fx: TinyCheckpoint) => [...fx.weights.values()].reduce((n, w) => n + w.length, 0);

describe('userip lm info', () => {
  test('--json on a gpt2 directory', async () => {
    const { code, stdout, stderr } = await userip('lm', 'info', '--lm', gpt2.dir, '--json');
    assert.equal(code, 0, stderr);
    assert.deepEqual(JSON.parse(stdout), {
      architecture: 'gpt2',
      model_id: (await CausalLm.load(gpt2.dir)).id,
      parameters: parameterCount(gpt2),
      vocab_size: 283,
      tokenizer_vocab_size: 283,
      layers: 2,
      hidden_size: 24,
      heads: 3,
      kv_heads: 3,
      head_dim: 8,
      intermediate_size: 96,
      context_length: 32,
      tied_head: true,
      dtype: 'F32',
    });
  });

  test('--json on a sharded bf16 qwen2 directory', async () => {
    const { code, stdout, stderr } = await userip('lm', 'info', '--lm', qwen2.dir, '--json');
    assert.equal(code, 0, stderr);
    const info = JSON.parse(stdout);
    assert.match(info.model_id, /^qwen2-[0-9a-f]{16}$/);
    assert.deepEqual(
      { ...info, model_id: undefined },
      {
        architecture: 'qwen2',
        model_id: undefined,
        parameters: parameterCount(qwen2),
        vocab_size: 300,
        tokenizer_vocab_size: 285,
        layers: 2,
        hidden_size: 16,
        heads: 4,
        kv_heads: 1,
        head_dim: 4,
        intermediate_size: 40,
        context_length: 32,
        tied_head: true,
        dtype: 'BF16',
      },
    );
  });

  test('plain text output names the architecture, size and vocabulary', async () => {
    const { code, stdout } = await userip('lm', 'info', '--lm', qwen2.dir);
    assert.equal(code, 0);
    assert.match(stdout, /^architecture +qwen2$/m);
    assert.match(stdout, new RegExp(`^parameters +${parameterCount(qwen2).toLocaleString('en-US')} \\(0\\.01M\\)$`, 'm'));
    assert.match(stdout, /^vocabulary +300 \(tokenizer: 285\)$/m);
    assert.match(stdout, /^heads +4 \(kv heads: 1, head dim: 4\)$/m);
  });

  test('bad directories get a one-line error and exit code 1', async () => {
    const bert = await writeTinyCheckpoint(join(root, 'bert'), { architecture: 'gpt2', seed: 3 });
    await writeFile(join(bert.dir, 'config.json'), JSON.stringify({ ...bert.rawConfig, model_type: 'bert' }));
    const cases: [string, RegExp][] = [
      [join(root, 'missing'), /missing: no such directory/],
      [root, /no config\.json; expected a Hugging Face checkpoint directory/],
      [bert.dir, /unsupported model_type "bert"; supported model types: gpt2, llama, mistral, qwen2/],
    ];
    for (const [dir, message] of cases) {
      const { code, stdout, stderr } = await userip('lm', 'info', '--lm', dir, '--json');
      assert.equal(code, 1, dir);
      assert.equal(stdout, '');
      assert.match(stderr, /^userip lm info: /);
      assert.match(stderr, message);
      assert.equal(stderr.trim().split('\n').length, 1, `not one line: ${stderr}`);
    }
  });
});
