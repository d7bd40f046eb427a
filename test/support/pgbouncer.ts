import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import pg from 'pg';
import { freePort, tempDir } from './server.js';

/**
 * The local PostgreSQL server the pooler stands in front of: the one
 * DATABASE_URL names when set, otherwise the one every development machine
 * and CI runner has at 127.0.0.1:5432.
 */
function serverUrl(database: string): string {
  const url = new URL(process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres');
  url.pathname = `/${database}`;
  return url.toString();
}

/** A database of its own on the local server, dropped by `drop()`. */
export interface ScratchDatabase {
  name: string;
  url: string;
  /** A direct connection (not through the pooler), to look at what the processes wrote. */
  query<Row = Record<string, unknown>>(text: string, params?: unknown[]): Promise<Row[]>;
  drop(): Promise<void>;
}

export async function createScratchDatabase(prefix = 'gh_scale_'): Promise<ScratchDatabase> {
  const name = `${prefix}${randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: serverUrl('postgres') });
  await admin.connect();
  try { await admin.query(`CREATE DATABASE ${name}`); } finally { await admin.end(); }
  const pool = new pg.Pool({ connectionString: serverUrl(name), max: 2 });
  return {
    name,
    url: serverUrl(name),
    query: async <Row>(text: string, params: unknown[] = []) => (await pool.query(text, params)).rows as Row[],
    async drop() {
      await pool.end();
      const again = new pg.Client({ connectionString: serverUrl('postgres') });
      await again.connect();
      try { await again.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`); } finally { await again.end(); }
    },
  };
}

/** The pgbouncer binary's path, or undefined when it is not installed (Debian package `pgbouncer`). */
export function pgbouncerBinary(): string | undefined {
  for (const candidate of ['/usr/sbin/pgbouncer', '/usr/bin/pgbouncer', '/usr/local/bin/pgbouncer']) {
    if (spawnSync(candidate, ['--version']).status === 0) return candidate;
  }
  return undefined;
}

export interface PgBouncer {
  pid: number;
  /** Connection string of the pooled database, as Gatehouse's DATABASE_URL. */
  url: string;
  stop(): Promise<void>;
}

async function listening(port: number, child: ChildProcess): Promise<void> {
  for (let i = 0; i < 100; i += 1) {
    if (child.exitCode !== null) throw new Error(`pgbouncer exited with ${child.exitCode}`);
    const up = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => { socket.end(); resolve(true); });
      socket.once('error', () => resolve(false));
    });
    if (up) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error('pgbouncer did not start listening');
}

/**
 * Starts pgbouncer in transaction pooling mode in front of `database` on the
 * local server: every transaction may run on a different server connection,
 * so nothing may rely on session state between transactions. The pool is
 * deliberately small (fewer server connections than clients).
 */
export async function startPgBouncer(
  binary: string,
  database: Pick<ScratchDatabase, 'url'>,
  options: { poolSize?: number; allDatabases?: boolean } = {},
): Promise<PgBouncer> {
  const dir = await tempDir('gh-pgbouncer-');
  const port = await freePort();
  const target = new URL(database.url);
  const user = decodeURIComponent(target.username || 'postgres');
  const name = decodeURIComponent(target.pathname.slice(1));
  const server = `host=${target.hostname} port=${target.port || 5432} user=${user}${target.password ? ` password=${decodeURIComponent(target.password)}` : ''}`;
  await writeFile(join(dir, 'users.txt'), `"${user}" ""\n`);
  await writeFile(join(dir, 'pgbouncer.ini'), [
    '[databases]',
    // allDatabases: every database of the server under its own name (the
    // whole suite creates and drops databases of its own through the pooler).
    options.allDatabases ? `* = ${server}` : `gatehouse = ${server} dbname=${name}`,
    '[pgbouncer]',
    'listen_addr = 127.0.0.1',
    `listen_port = ${port}`,
    'unix_socket_dir =',
    'auth_type = trust',
    `auth_file = ${join(dir, 'users.txt')}`,
    'pool_mode = transaction',
    `default_pool_size = ${options.poolSize ?? 4}`,
    'max_client_conn = 2000',
    // Well under PostgreSQL's default max_connections (100), whatever the
    // number of databases in use: the pooler, not the server, makes clients wait.
    'max_user_connections = 40',
    'server_idle_timeout = 10',
    // What docs/operations/scaling-out.md recommends: a client waits at most
    // this long for a server connection (PgBouncer's default is 120 s), so an
    // unreachable or dropped database is a prompt error (then 503), not a hang.
    'query_wait_timeout = 5',
    'server_login_retry = 1',
    'log_connections = 0',
    'log_disconnections = 0',
    '',
  ].join('\n'));
  // pgbouncer refuses to run as root; as root (containers), it is told to
  // switch to the postgres user, which must then be able to read the files.
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    await chmod(dir, 0o755);
    for (const file of ['users.txt', 'pgbouncer.ini']) await chmod(join(dir, file), 0o644);
  }
  const child = spawn(binary, [...(asRoot ? ['-u', 'postgres'] : []), join(dir, 'pgbouncer.ini')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr!.on('data', (chunk) => { log = (log + String(chunk)).slice(-4000); });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    await listening(port, child);
  } catch (error) {
    child.kill('SIGKILL');
    throw new Error(`${(error as Error).message}\n${log}`);
  }
  return {
    pid: child.pid!,
    url: `postgres://${encodeURIComponent(user)}@127.0.0.1:${port}/${options.allDatabases ? encodeURIComponent(name) : 'gatehouse'}`,
    async stop() {
      if (child.exitCode === null) process.kill(child.pid!, 'SIGTERM');
      await exited;
      await rm(dir, { recursive: true, force: true });
    },
  };
}
