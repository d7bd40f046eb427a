import { randomBytes } from 'node:crypto';
import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/**
 * Writes `content` to `file` readable by its owner only, whatever was at that
 * path before: a file with a wider mode, someone else's file, or a symbolic
 * link planted to redirect the write. The content goes to a new file created
 * exclusively (O_CREAT|O_EXCL, which never follows a link) with mode 0600
 * beside the target, then replaces the target's directory entry (rename),
 * so no one can read it while it is written, and nothing the path pointed
 * to is touched.
 *
 * A failure is the filesystem's own error (ENOENT: no such folder; EISDIR:
 * `file` is a folder; EACCES), whose path may be the temporary file's: the
 * caller names `file` when it reports it. The temporary file is gone by then
 * whatever failed, since it may hold secrets.
 */
export async function writeOwnerOnly(file: string, content: string): Promise<void> {
  const temporary = join(dirname(file), `.${basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await open(temporary, 'wx', 0o600);
  try {
    try {
      await handle.writeFile(content);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, file);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}
