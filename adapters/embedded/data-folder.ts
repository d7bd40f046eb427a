import type { Stats } from 'node:fs';
import { ownedByUs } from '../file-owner.js';
import { chmod, lstat, mkdir, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { settings } from '../../config/defaults.js';
import { onSettingPath } from '../../config/setting-errors.js';

/** Modes of everything Gatehouse keeps in GATEHOUSE_DATA_DIR: the owner's alone. */
export const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;

/**
 * What of the data folder is Gatehouse's: the database and the files beside
 * it. Only these are walked, so that a data folder pointed at a folder with
 * other contents (GATEHOUSE_DATA_DIR=.) never has those changed.
 */
export const DATA_FOLDER_ENTRIES = ['pgdata', 'secrets.key', 'gatehouse.lock'];

/** Refused at start: a data folder or file another user could change or has chosen. */
export class ForeignDataFolderError extends Error {
  override name = 'ForeignDataFolderError';
}

export function assertOwnedByUs(path: string, stats: Pick<Stats, 'uid'>): void {
  if (ownedByUs(stats)) return;
  throw new ForeignDataFolderError(`${path} belongs to user ${stats.uid}, not to this process's user ${process.getuid?.() ?? '?'}: run Gatehouse (and its CLI) as the data folder's owner, or give it to this user (chown -R)`);
}

async function restrict(path: string, mode: number, current: number): Promise<void> {
  if ((current & 0o777) === mode) return;
  try {
    await chmod(path, mode);
  } catch (error) {
    throw new Error(`cannot make ${path} private to its owner (mode ${mode.toString(8)}): ${(error as Error).message}`, { cause: error });
  }
}

async function restrictTree(path: string): Promise<void> {
  let stats;
  try {
    stats = await lstat(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  assertOwnedByUs(path, stats);
  // Symbolic links are not followed (their target may be anything); sockets
  // and other special files keep their modes.
  if (stats.isDirectory()) {
    await restrict(path, PRIVATE_DIR_MODE, stats.mode);
    for (const entry of await readdir(path)) await restrictTree(join(path, entry));
  } else if (stats.isFile()) {
    await restrict(path, PRIVATE_FILE_MODE, stats.mode);
  }
}

/**
 * Creates the data folder if needed and makes it and every Gatehouse file in
 * it private to the owner (folders 0700, files 0600), whatever the umask
 * they were created under: the database holds live opaque tokens (in its
 * write-ahead log too) and sealed secrets, so no other user of the machine
 * may read it. Run at every start, so a folder written by an earlier version,
 * or restored from a backup with wider modes, is repaired before it is opened;
 * and again once PGlite has opened it and once it has closed, because PGlite
 * sets modes of its own (0666 on the files of a new database, 0644 on the
 * catalog caches it rewrites), whatever the process umask, so narrowing the
 * umask would not help. While it runs, the folder's own mode (0700) already
 * keeps every other user out of everything inside it. A folder or file that
 * another user owns is refused (ForeignDataFolderError): changing its mode
 * would not take it from them.
 */
export async function secureDataFolder(dataDir: string): Promise<void> {
  // A file where the folder should be, or a folder this user may not enter, is the setting to change.
  await onSettingPath(settings.dataDir.env, dataDir, () => securePrivately(dataDir));
}

async function securePrivately(dataDir: string): Promise<void> {
  await mkdir(dataDir, { recursive: true, mode: PRIVATE_DIR_MODE });
  // The folder itself may be a link an operator made (to a volume): its target is what must be ours.
  const folder = await stat(dataDir);
  assertOwnedByUs(dataDir, folder);
  await restrict(dataDir, PRIVATE_DIR_MODE, folder.mode);
  for (const entry of DATA_FOLDER_ENTRIES) await restrictTree(join(dataDir, entry));
}
