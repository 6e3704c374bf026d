/**
 * Every command takes a JSON config file plus flags (flags win) and saves the effective config next
 * to its outputs, so a result can always be traced to the settings that made it.
 */
import { InvalidArgumentError } from 'commander';
import { readJson } from '../io/index.js';
import { z } from 'zod';

/**
 * Settings from a JSON config file, then flags (flags win). `nested` names flags that set fields of
 * one object of the config (e.g. `ctr`): they are merged into the file's object instead of replacing it.
 */
export async function resolveConfig<S extends z.ZodType>(
  schema: S,
  configFile: string | undefined,
  flags: Record<string, unknown>,
  nested?: { key: string; flags: readonly string[] },
): Promise<z.infer<S>> {
  const fromFile = configFile ? await readJson<Record<string, unknown>>(configFile) : {};
  const given = (keep: (key: string) => boolean) => Object.fromEntries(Object.entries(flags).filter(([k, v]) => v !== undefined && k !== 'config' && keep(k)));
  const merged = nested
    ? { ...fromFile, ...given((k) => !nested.flags.includes(k)), [nested.key]: { ...(fromFile[nested.key] as object | undefined), ...given((k) => nested.flags.includes(k)) } }
    : { ...fromFile, ...given(() => true) };
  const parsed = schema.safeParse(merged);
  if (!parsed.success) throw new Error(`invalid settings${configFile ? ` (config ${configFile} plus flags)` : ''}:\n${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

// Flag parsers throw InvalidArgumentError, which commander reports naming the flag: `option '--lr <x>' argument 'abc' is invalid`.
export const intFlag = (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n)) throw new InvalidArgumentError(`not an integer: ${v}`);
  return n;
};

/** `on`/`off` (also yes/no, true/false): a flag that can also turn off what a config file turned on. */
export const switchFlag = (v: string): boolean => {
  if (['on', 'yes', 'true'].includes(v)) return true;
  if (['off', 'no', 'false'].includes(v)) return false;
  throw new InvalidArgumentError(`not on or off: ${v}`);
};

export const numberFlag = (v: string): number => {
  const n = Number(v);
  if (!Number.isFinite(n)) throw new InvalidArgumentError(`not a number: ${v}`);
  return n;
};
