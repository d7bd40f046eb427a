#!/usr/bin/env node
import cluster from 'node:cluster';
import { availableParallelism } from 'node:os';
import { EmbeddedDatabaseBusyError } from '../adapters/embedded/pglite.js';
import { StorageUnavailableError } from '../adapters/factory.js';
import { SecretsKeyError } from '../adapters/secrets-at-rest.js';
import type { GatehouseConfig } from '../config/schema.js';
import { ConfigError, loadConfig } from './config/load.js';
import { startGatehouse } from './main.js';
import { abandonLogs, createLogger, type Logger, settleLogs } from './observability/logger.js';

const EXPECTED = [ConfigError, StorageUnavailableError, EmbeddedDatabaseBusyError, SecretsKeyError];
// In-flight requests get this long to finish on SIGTERM.
const SHUTDOWN_GRACE_MS = 10_000;

function workerCount(config: GatehouseConfig, logger: Logger): number {
  const wanted = config.webConcurrency ?? (process.env.NODE_ENV === 'production' ? availableParallelism() : 1);
  if (wanted > 1 && !config.databaseUrl) {
    logger.warn({ wanted }, 'the embedded database belongs to one process: running 1 worker (set DATABASE_URL to run more)');
    return 1;
  }
  return wanted;
}

/** Exits once the logs are out (or could not be written), never blocking on stdout. */
async function exit(logger: Logger, code: number): Promise<never> {
  await settleLogs(logger);
  process.exit(code);
}

/** The last resort of a shutdown: exit after `ms` whatever is still running or writing. */
function forceExitAfter(logger: Logger, ms: number): void {
  setTimeout(() => {
    abandonLogs(logger);
    process.exit(1);
  }, ms).unref();
}

async function runWorker(config: GatehouseConfig, logger: Logger): Promise<void> {
  let gatehouse: Awaited<ReturnType<typeof startGatehouse>> | undefined;
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, gatehouse ? 'shutting down' : 'stopped during start-up');
    forceExitAfter(logger, SHUTDOWN_GRACE_MS);
    // Before it listens there is no request to finish: migrations run in one
    // transaction, and the embedded database recovers as after a SIGKILL.
    if (!gatehouse) return void exit(logger, 0);
    gatehouse.close().then(() => exit(logger, 0), (error: unknown) => {
      logger.error({ err: error }, 'shutdown failed');
      return exit(logger, 1);
    });
  };
  // Installed before start-up, which can take seconds (opening the database,
  // migrations): as PID 1 of a container, a signal without a handler is
  // ignored, so `docker stop` would wait for its SIGKILL.
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  gatehouse = await startGatehouse(config, logger);
}

/** The primary of a multi-worker run: forks, replaces crashed workers, passes signals on. */
function runPrimary(workers: number, logger: Logger): void {
  let stopping = false;
  const listening = new Set<number>();
  for (let i = 0; i < workers; i += 1) cluster.fork();
  cluster.on('listening', (worker) => listening.add(worker.id));
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) {
      if (Object.keys(cluster.workers ?? {}).length === 0) void exit(logger, Number(process.exitCode ?? 0));
      return;
    }
    if (!listening.has(worker.id)) {
      // It never started (bad configuration, unreachable database): restarting would loop.
      logger.error({ pid: worker.process.pid, code }, 'a worker failed to start; stopping');
      stopping = true;
      for (const other of Object.values(cluster.workers ?? {})) other?.process.kill('SIGTERM');
      process.exitCode = 1;
      return;
    }
    logger.error({ pid: worker.process.pid, code, signal }, 'worker died; starting another');
    cluster.fork();
  });
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal, workers }, 'shutting down workers');
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGTERM');
    forceExitAfter(logger, SHUTDOWN_GRACE_MS + 2000);
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

async function run(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel);
  if (cluster.isPrimary) {
    const workers = workerCount(config, logger);
    if (workers > 1) {
      runPrimary(workers, logger);
      return;
    }
  }
  await runWorker(config, logger);
}

run().catch((error: unknown) => {
  if (EXPECTED.some((kind) => error instanceof kind)) {
    process.stderr.write(`gatehouse: ${error instanceof StorageUnavailableError ? error.detail : (error as Error).message}\n`);
  } else {
    process.stderr.write(`gatehouse: failed to start: ${(error as Error)?.stack ?? String(error)}\n`);
  }
  process.exit(1);
});
