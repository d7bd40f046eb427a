import { chmod, lstat, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'chai';
import { basicAuth, postForm } from '../support/http.js';
import { restartableEnv, startTestServer, storageMode, skipBecause, type TestServer } from '../support/server.js';

interface Entry { path: string; kind: 'dir' | 'file'; mode: number }

async function walk(path: string, into: Entry[] = []): Promise<Entry[]> {
  const stats = await lstat(path);
  if (stats.isDirectory()) {
    into.push({ path, kind: 'dir', mode: stats.mode & 0o777 });
    for (const entry of await readdir(path)) await walk(join(path, entry), into);
  } else if (stats.isFile()) {
    into.push({ path, kind: 'file', mode: stats.mode & 0o777 });
  }
  return into;
}

/** Every folder and file that is not private to its owner (0700 / 0600), as `mode path`. */
async function notPrivate(dataDir: string): Promise<string[]> {
  return (await walk(dataDir))
    .filter((entry) => entry.mode !== (entry.kind === 'dir' ? 0o700 : 0o600))
    .map((entry) => `${entry.mode.toString(8)} ${entry.path}`);
}

/** Issues an opaque access token, so that the database and its write-ahead log hold one. */
async function issueToken(server: TestServer): Promise<void> {
  const { client, clientSecret } = await server.services.clients.create({ name: 'Permissions', grantTypes: ['client_credentials'], scope: ['read'] });
  const issued = await postForm(`${server.url}/token`, { grant_type: 'client_credentials', scope: 'read' }, { authorization: basicAuth(client.clientId, clientSecret!) });
  expect(issued.status).to.equal(200);
}

describe('embedded data folder permissions', () => {
  let umaskBefore: number | undefined;

  afterEach(() => {
    if (umaskBefore !== undefined) process.umask(umaskBefore);
    umaskBefore = undefined;
  });

  it('keeps every folder 0700 and every file 0600 under umask 022, while running and after a restart repairs wider modes', async function () {
    if (storageMode.postgres) skipBecause(this, 'the embedded database is used only without DATABASE_URL');
    // What most machines run with: new files 0644 (PGlite sets 0666 on its own).
    umaskBefore = process.umask(0o022);
    // An empty folder: the modes PGlite gives a cluster it has just made are what is checked.
    const { env, dataDir } = await restartableEnv({ emptyFolder: true });
    try {
      // The folder a test harness (or an operator) made, with a wide mode.
      await chmod(dataDir, 0o755);
      let server = await startTestServer(env);
      try {
        await issueToken(server);
        // Files PGlite creates while it runs (WAL segments, relations) too.
        const running = await notPrivate(dataDir);
        expect(running, `while running: ${running.join(', ')}`).to.deep.equal([]);
      } finally {
        await server.stop();
      }
      expect(await notPrivate(dataDir), 'after the first start').to.deep.equal([]);

      // As a folder written by an earlier version, or restored from a backup, could be.
      const files = (await walk(dataDir)).filter((entry) => entry.kind === 'file');
      const wal = files.filter((entry) => entry.path.includes(`${join('pgdata', 'pg_wal')}/`));
      expect(wal, 'a WAL segment').to.have.length.greaterThan(0);
      const widened = [...wal.slice(0, 2), ...files.filter((entry) => !entry.path.includes('pg_wal')).slice(0, 5),
        ...files.filter((entry) => entry.path.endsWith('secrets.key'))];
      for (const entry of widened) await chmod(entry.path, 0o666);
      await chmod(join(dataDir, 'pgdata'), 0o777);
      await chmod(dataDir, 0o755);
      expect((await notPrivate(dataDir)).length).to.equal(widened.length + 2);

      server = await startTestServer(env);
      try {
        expect(await notPrivate(dataDir), 'repaired at start').to.deep.equal([]);
        await issueToken(server);
      } finally {
        await server.stop();
      }
      expect(await notPrivate(dataDir), 'after the restart').to.deep.equal([]);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
