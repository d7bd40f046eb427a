import { spawn } from 'node:child_process';
import { chmod, chown, lstat, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { expect } from 'chai';
import { basicAuth, postForm } from '../support/http.js';
import { freePort, restartableEnv, startTestServer, storageMode, skipBecause, tempDir, type TestServer } from '../support/server.js';
import { SERVER_ARGUMENTS } from '../support/process.js';

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

describe('an embedded data folder another user owns', () => {
  // nobody: a user that is neither this process's nor root.
  const OTHER = 65534;

  async function startIn(dataDir: string): Promise<{ code: number | null; stderr: string }> {
    const server = spawn(process.execPath, SERVER_ARGUMENTS, {
      env: { ...process.env, DATABASE_URL: '', REDIS_URL: '', SECRETS_KEY: '', PORT: String(await freePort()), GATEHOUSE_DATA_DIR: dataDir, LOG_LEVEL: 'silent' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    server.stderr!.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk; });
    const code = await new Promise<number | null>((resolve) => server.once('exit', resolve));
    return { code, stderr };
  }

  it('is refused at start, as is a secrets.key another user owns, with the reason and without a stack', async function () {
    if (storageMode.postgres) skipBecause(this, 'the embedded database is used only without DATABASE_URL');
    if (process.getuid?.() !== 0) skipBecause(this, 'giving a folder to another user needs root');
    const parent = await tempDir();
    try {
      const foreign = join(parent, 'foreign');
      await mkdir(foreign, { mode: 0o777 });
      await chown(foreign, OTHER, OTHER);
      const refused = await startIn(foreign);
      expect(refused.code).to.equal(1);
      expect(refused.stderr).to.include(`belongs to user ${OTHER}`).and.not.match(/\n\s+at /);
      expect(await readdir(foreign), 'nothing written into it').to.deep.equal([]);

      const ours = join(parent, 'ours');
      await mkdir(ours, { mode: 0o700 });
      await writeFile(join(ours, 'secrets.key'), `${randomBytes(32).toString('base64')}\n`, { mode: 0o666 });
      await chown(join(ours, 'secrets.key'), OTHER, OTHER);
      const planted = await startIn(ours);
      expect(planted.code).to.equal(1);
      expect(planted.stderr).to.include('secrets.key belongs to user').and.not.match(/\n\s+at /);
    } finally {
      await rm(parent, { recursive: true, force: true });
    }
  });
});
