import { readFile, rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { pg_trgm } from '@electric-sql/pglite/contrib/pg_trgm';
import { PGliteSocketBridge } from './socket-bridge.js';
import pg from 'pg';
import { guardText, type QueryResult, type SqlDatabase, type SqlExecutor } from '../sql/database.js';
import { poolDatabase, unavailableSqlState } from '../sql/postgres.js';
import { StorageUnavailableError } from '../unavailable.js';
import { secureDataFolder } from './data-folder.js';

/** The embedded database folder is owned by another live process. */
export class EmbeddedDatabaseBusyError extends Error {
  override name = 'EmbeddedDatabaseBusyError';
}

export interface EmbeddedDatabase extends SqlDatabase {
  /**
   * Lets other local processes (the CLI) reach this database through a unix
   * socket in the data folder while this process owns it. PGlite is
   * single-process, so this is how `gatehouse client create` works next to a
   * running embedded server. Answers whether it does (a folder whose path
   * is too long for a socket is not shared).
   */
  share(): Promise<boolean>;
}

// pg derives the socket file name from host (a folder) and port.
const SOCKET_PORT = 5432;
// sockaddr_un.sun_path is 108 bytes on Linux.
const MAX_SOCKET_PATH = 100;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

// The lock files this process holds (a second owner in the same process is refused too).
const heldLocks = new Set<string>();

/**
 * A lock that names this process's PID and host, which this process does not
 * hold, was written by an earlier process with the same PID on the same host,
 * which is gone: in a container the server is PID 1 on every start, so after
 * a kill its restart would otherwise find "PID 1" alive (itself) and refuse
 * for ever. The same PID under another host name is another container on a
 * shared volume, which may well be alive: that one is still refused.
 */
function writtenByAnEarlierSelf(lockPath: string, holder: number, holderHost: string | undefined): boolean {
  return holder === process.pid && holderHost === hostname() && !heldLocks.has(lockPath);
}

async function releaseLock(lockPath: string): Promise<void> {
  await rm(lockPath, { force: true });
  heldLocks.delete(lockPath);
}

async function acquireLock(lockPath: string): Promise<number | undefined> {
  for (let attempt = 0; attempt < 2; attempt += 1) {
    try {
      await writeFile(lockPath, `${process.pid} ${hostname()}`, { flag: 'wx', mode: 0o600 });
      heldLocks.add(lockPath);
      return undefined;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const [pid, holderHost] = (await readFile(lockPath, 'utf8').catch(() => '')).trim().split(/\s+/);
      const holder = Number.parseInt(pid ?? '', 10);
      if (Number.isInteger(holder) && alive(holder) && !writtenByAnEarlierSelf(lockPath, holder, holderHost)) return holder;
      // The owner died without cleaning up: the lock is stale.
      await rm(lockPath, { force: true });
    }
  }
  throw new EmbeddedDatabaseBusyError(`could not take the lock ${lockPath}`);
}

/**
 * Rethrows what says the embedded database cannot serve now (a full disk,
 * 53100; read-only, 25006: the same SQLSTATEs as a server's, postgres.ts) as
 * StorageUnavailableError, so a request answers 503 as with PostgreSQL.
 */
async function serving<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (unavailableSqlState(error)) throw new StorageUnavailableError(`embedded database unavailable: ${(error as Error).message}`, error);
    throw error;
  }
}

function pgliteExecutor(db: Pick<PGlite, 'query' | 'exec'>): SqlExecutor {
  return {
    async query<Row>(text: string, params: unknown[] = []): Promise<QueryResult<Row>> {
      return guardText(text, params, async () => {
        const result = await serving(() => db.query<Row>(text, params));
        return { rows: result.rows, rowCount: result.affectedRows ?? result.rows.length };
      });
    },
    async exec(sql: string): Promise<void> {
      await serving(() => db.exec(sql));
    },
  };
}

async function connectToOwner(dataDir: string, owner: number): Promise<SqlDatabase> {
  const pool = new pg.Pool({ host: dataDir, port: SOCKET_PORT, user: 'postgres', database: 'postgres', max: 1 });
  pool.on('error', () => {});
  try {
    await pool.query('SELECT 1');
  } catch {
    await pool.end().catch(() => {});
    throw new EmbeddedDatabaseBusyError(
      `The embedded database in ${dataDir} is in use by process ${owner}, which is not sharing it yet. `
      + 'Wait until that server has started, or stop it and try again.',
    );
  }
  return poolDatabase(pool, 'embedded-shared');
}

/**
 * Opens the embedded PostgreSQL (PGlite) kept in `dataDir`.
 *
 * `owner`: this process must own the folder (the server). `guest`: when a live
 * server owns it, talk to that server's shared socket instead (the CLI).
 */
export async function openEmbedded(dataDirInput: string, role: 'owner' | 'guest'): Promise<EmbeddedDatabase | SqlDatabase> {
  const dataDir = resolve(dataDirInput);
  const lockPath = join(dataDir, 'gatehouse.lock');
  const socketPath = join(dataDir, `.s.PGSQL.${SOCKET_PORT}`);

  // Before anything is created or opened, and again once PGlite has written
  // its own modes: see data-folder.ts.
  await secureDataFolder(dataDir);
  const owner = await acquireLock(lockPath);
  if (owner !== undefined) {
    if (role === 'guest') return connectToOwner(dataDir, owner);
    throw new EmbeddedDatabaseBusyError(
      `The embedded database in ${dataDir} is in use by process ${owner}. `
      + 'Stop that process, choose another GATEHOUSE_DATA_DIR, or set DATABASE_URL to share a PostgreSQL server between processes.',
    );
  }

  let db: PGlite | undefined;
  try {
    // pg_trgm: the account search's index (migration 0013), as on a PostgreSQL server.
    db = await PGlite.create(join(dataDir, 'pgdata'), { extensions: { pg_trgm } });
    await secureDataFolder(dataDir);
  } catch (error) {
    await db?.close().catch(() => {});
    await releaseLock(lockPath);
    throw error;
  }
  const pglite = db;
  let socketServer: PGliteSocketBridge | undefined;

  return {
    kind: 'embedded',
    ...pgliteExecutor(pglite),
    async transaction<T>(work: (tx: SqlExecutor) => Promise<T>): Promise<T> {
      return pglite.transaction((tx) => work(pgliteExecutor(tx)));
    },
    async ping(): Promise<void> {
      await pglite.query('SELECT 1');
    },
    async share(): Promise<boolean> {
      if (socketPath.length > MAX_SOCKET_PATH) return false;
      if (socketServer) return true;
      socketServer = new PGliteSocketBridge(pglite, 4);
      await socketServer.listen(socketPath);
      return true;
    },
    async close(): Promise<void> {
      await socketServer?.close().catch(() => {});
      await rm(socketPath, { force: true });
      await pglite.close();
      await secureDataFolder(dataDir);
      await releaseLock(lockPath);
    },
  };
}
