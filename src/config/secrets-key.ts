import { randomBytes } from 'node:crypto';
import { lstat, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { settings } from '../../config/defaults.js';
import type { GatehouseConfig } from '../../config/schema.js';
import { onSettingPath } from '../../config/setting-errors.js';
import { ConfigError } from './load.js';
import { ownedByUs } from '../../adapters/file-owner.js';

/** Where the embedded default keeps its generated key (beside, never inside, the database). */
export const SECRETS_KEY_FILE = 'secrets.key';

/** SECRETS_KEY's text (hex, or standard / url-safe base64) as 32 bytes. */
export function decodeSecretsKey(text: string): Buffer {
  const trimmed = text.trim();
  const key = /^[0-9a-fA-F]{64}$/.test(trimmed) ? Buffer.from(trimmed, 'hex') : Buffer.from(trimmed, 'base64');
  if (key.length !== 32) throw new ConfigError('SECRETS_KEY must be 32 bytes, base64 or hex');
  return key;
}

async function readKeyFile(path: string): Promise<Buffer | undefined> {
  try {
    // A key another user owns (or links to) is one they chose, or can read and replace.
    const stats = await lstat(path);
    if (!stats.isFile()) throw new ConfigError(`${path} is not a plain file; restore the key there or set SECRETS_KEY`);
    if (!ownedByUs(stats)) throw new ConfigError(`${path} belongs to user ${stats.uid}, not to this process's user: run Gatehouse as the data folder's owner, or set SECRETS_KEY`);
    return decodeSecretsKey(await readFile(path, 'utf8'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    if (error instanceof ConfigError && /must be 32 bytes/.test(error.message)) throw new ConfigError(`${path} does not hold a 32-byte key (base64 or hex); restore it or set SECRETS_KEY`);
    throw error;
  }
}

/**
 * The key secrets are sealed with at rest. SECRETS_KEY when set (required
 * with DATABASE_URL, which loadConfig enforces). Otherwise, for the embedded
 * default only, a key generated once into the data folder with mode 0600, so
 * a copy of the database alone still opens nothing; `onGenerated` is told
 * where, so the operator can back it up with the data.
 */
export async function resolveSecretsKey(config: GatehouseConfig, onGenerated?: (path: string) => void): Promise<Buffer> {
  if (config.secretsKey) return decodeSecretsKey(config.secretsKey);
  if (config.databaseUrl) throw new ConfigError('SECRETS_KEY is required with DATABASE_URL');
  // The first thing to touch the data folder when SECRETS_KEY is not set.
  return onSettingPath(settings.dataDir.env, config.dataDir, () => keyInDataFolder(resolve(config.dataDir), onGenerated));
}

/** The key kept in the data folder `dir`, generated there the first time. */
async function keyInDataFolder(dir: string, onGenerated?: (path: string) => void): Promise<Buffer> {
  const path = join(dir, SECRETS_KEY_FILE);
  const existing = await readKeyFile(path);
  if (existing) return existing;
  // Private from the start (the embedded database repairs it at every start too).
  await mkdir(dir, { recursive: true, mode: 0o700 });
  // Never a new key into a folder another user owns: they could read it, or replace it.
  const folder = await stat(dir);
  if (!ownedByUs(folder)) throw new ConfigError(`${dir} belongs to user ${folder.uid}, not to this process's user: run Gatehouse as the data folder's owner (or chown it), or set SECRETS_KEY`);
  try {
    // `wx`: two processes starting at once cannot both write a key.
    await writeFile(path, `${randomBytes(32).toString('base64')}\n`, { flag: 'wx', mode: 0o600 });
    onGenerated?.(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  const written = await readKeyFile(path);
  if (!written) throw new Error(`${path} vanished while it was being created`);
  return written;
}
