import { rm } from 'node:fs/promises';
import type { Server } from 'node:net';

/**
 * Listens on a unix socket file in the data folder. A file left by a process
 * that died without closing is removed first: the folder's lock (pglite.ts)
 * already says no live process owns it.
 */
export async function listenOnSocketFile(server: Server, path: string): Promise<void> {
  await rm(path, { force: true });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => { server.off('error', reject); resolve(); });
  });
}
