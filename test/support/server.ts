import { rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { connectRedis, redisTarget } from '../../adapters/redis/connect.js';
import { loadConfig } from '../../src/config/load.js';
import type { GatehouseConfig } from '../../config/schema.js';
import { startGatehouse, type Gatehouse } from '../../src/main.js';
import { createLogger } from '../../src/observability/logger.js';
import { embeddedDataDir } from './embedded-data.js';
import { tempDir } from './folders.js';

/** Which storage the suite runs against: real services when the environment names them. */
export const storageMode = {
  postgres: Boolean(process.env.DATABASE_URL),
  redis: Boolean(process.env.REDIS_URL || process.env.REDIS_CLUSTER_NODES || process.env.REDIS_SENTINELS),
};

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export { tempDir } from './folders.js';

export interface TestServer extends Gatehouse {
  issuer: string;
  config: GatehouseConfig;
  /** Stops the server and removes its embedded data folder. */
  stop(): Promise<void>;
}

/**
 * Starts a real Gatehouse HTTP server in this process, on a free port, with
 * the storage the environment selects (DATABASE_URL / REDIS_URL), or a fresh
 * embedded database. Pass `dataDir` to reuse one across a restart.
 */
export async function startTestServer(env: Record<string, string> = {}, options: { logTo?: NodeJS.WritableStream } = {}): Promise<TestServer> {
  const port = Number(env.PORT ?? await freePort());
  const embedded = !('DATABASE_URL' in env ? env.DATABASE_URL : process.env.DATABASE_URL);
  const dataDir = env.GATEHOUSE_DATA_DIR ?? (embedded ? await embeddedDataDir() : await tempDir());
  let config: GatehouseConfig;
  let gatehouse: Gatehouse;
  try {
    config = loadConfig({
      DATABASE_URL: process.env.DATABASE_URL,
      REDIS_URL: process.env.REDIS_URL,
      // Or a Redis Cluster / Sentinel set instead (issue 19): the suite runs on either.
      REDIS_CLUSTER_NODES: process.env.REDIS_CLUSTER_NODES,
      REDIS_SENTINELS: process.env.REDIS_SENTINELS,
      REDIS_SENTINEL_MASTER: process.env.REDIS_SENTINEL_MASTER,
      SECRETS_KEY: process.env.SECRETS_KEY,
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
      ISSUER: `http://localhost:${port}`,
      IP_FAILURE_LIMIT: process.env.IP_FAILURE_LIMIT, // see environment.ts
      ...env,
      PORT: String(port),
      GATEHOUSE_DATA_DIR: dataDir,
    });
    gatehouse = await startGatehouse(config, createLogger(options.logTo ? (env.LOG_LEVEL ?? 'trace') : config.logLevel, options.logTo));
  } catch (error) {
    // A start that fails (the tests of configuration and start-up errors) leaves no folder behind either.
    if (!env.GATEHOUSE_DATA_DIR) await rm(dataDir, { recursive: true, force: true });
    throw error;
  }
  return {
    ...gatehouse,
    issuer: config.issuer,
    config,
    async stop() {
      await gatehouse.close();
      if (!env.GATEHOUSE_DATA_DIR) await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * The environment for a server started, stopped and started again on the
 * same embedded data and at the same address (so with the same issuer):
 * pass `env` to every start, and remove `dataDir` at the end.
 */
export async function restartableEnv(options: { emptyFolder?: boolean } = {}): Promise<{ env: Record<string, string>; dataDir: string }> {
  // `emptyFolder`: PGlite makes the cluster itself, on the first start (embedded-data.ts).
  const dataDir = process.env.DATABASE_URL || options.emptyFolder ? await tempDir() : await embeddedDataDir();
  const port = String(await freePort());
  return { dataDir, env: { GATEHOUSE_DATA_DIR: dataDir, PORT: port, ISSUER: `http://localhost:${port}` } };
}

/** Skips the running test with its reason in the title, so the report says why. */
export function skipBecause(context: Mocha.Context, reason: string): never {
  if (context.test) context.test.title += ` (skipped: ${reason})`;
  return context.skip();
}

/**
 * Removes the revocation set of a stopped server's Redis namespace: it never
 * expires (it records since when it exists), while the rest of the namespace
 * does. For tests that give a server a REDIS_PREFIX of its own.
 */
export async function removeRevocationSet(config: GatehouseConfig): Promise<void> {
  const target = redisTarget(config);
  if (!target) return;
  const redis = await connectRedis(target);
  try {
    await redis.del(`${config.redisPrefix}revocations`);
  } finally {
    redis.disconnect();
  }
}
