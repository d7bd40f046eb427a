#!/usr/bin/env node
import cluster from 'node:cluster';
import { availableParallelism } from 'node:os';
import { EmbeddedDatabaseBusyError, ForeignDataFolderError, StorageUnavailableError } from '../adapters/factory.js';
import { SecretsKeyError } from '../adapters/secrets-at-rest.js';
import type { GatehouseConfig } from '../config/schema.js';
import { ConfigError, loadConfig } from './config/load.js';
import { PortInUseError, startGatehouse } from './main.js';
import { aggregateWorkerMetrics } from './observability/cluster-metrics.js';
import { abandonLogs, createLogger, type Logger, logFormat, settleLogs } from './observability/logger.js';

const EXPECTED = [ConfigError, StorageUnavailableError, EmbeddedDatabaseBusyError, ForeignDataFolderError, SecretsKeyError, PortInUseError];
// In-flight requests get this long to finish on SIGTERM.
const SHUTDOWN_GRACE_MS = 10_000;
// What a worker tells the primary about its start (node:cluster IPC).
const START_FAILED = 'gatehouse:start-failed';
// A worker binds its port before it opens storage, so "listening" does not
// mean "started": a worker says so itself once it serves requests.
const STARTED = 'gatehouse:started';
interface StartFailure { type: typeof START_FAILED; message: string }

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
function forceExitAfter(logger: Logger, ms: number, code: () => number = () => 1): void {
  setTimeout(() => {
    abandonLogs(logger);
    process.exit(code());
  }, ms).unref();
}

async function runWorker(config: GatehouseConfig, logger: Logger): Promise<void> {
  // Signals are handled from the first moment: one that arrives while the
  // storage is still opening stops the server as soon as it has started
  // (closing what it opened, the embedded database's lock included), within
  // the same grace period.
  const started = startGatehouse(config, logger);
  let running = false;
  void started.then(() => { running = true; }, () => {});
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, running ? 'shutting down' : 'stopped during start-up');
    // Cut short while still starting, nothing was served and nothing is lost
    // (migrations are transactions; the embedded database recovers as after
    // a SIGKILL): a stop, not a failure. Cut short while serving: a failure.
    forceExitAfter(logger, SHUTDOWN_GRACE_MS, () => (running ? 1 : 0));
    started.then((gatehouse) => gatehouse.close()).then(() => exit(logger, 0), (error: unknown) => {
      logger.error({ err: error }, 'shutdown failed');
      return exit(logger, 1);
    });
  };
  // Installed before start-up, which can take seconds (opening the database,
  // migrations): as PID 1 of a container, a signal without a handler is
  // ignored, so `docker stop` would wait for its SIGKILL.
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  await started;
  if (cluster.isWorker) process.send?.({ type: STARTED });
}

/** The primary of a multi-worker run: forks, replaces crashed workers, passes signals on. */
function runPrimary(workers: number, logger: Logger): void {
  aggregateWorkerMetrics();
  let stopping = false;
  let failureReported = false;
  cluster.on('message', (worker, message: Partial<StartFailure> | { type?: typeof STARTED }) => {
    if (message?.type === STARTED) started.add(worker.id);
    if (message?.type !== START_FAILED || failureReported || typeof message.message !== 'string') return;
    failureReported = true;
    process.stderr.write(message.message);
  });
  const started = new Set<number>();
  for (let i = 0; i < workers; i += 1) cluster.fork();
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) {
      if (Object.keys(cluster.workers ?? {}).length === 0) void exit(logger, Number(process.exitCode ?? 0));
      return;
    }
    if (!started.has(worker.id)) {
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
  const logger = createLogger(config.logLevel, undefined, logFormat(config.logFormat));
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
  const message = EXPECTED.some((kind) => error instanceof kind)
    ? `gatehouse: ${error instanceof StorageUnavailableError ? error.detail : (error as Error).message}\n`
    : `gatehouse: failed to start: ${(error as Error)?.stack ?? String(error)}\n`;
  if (cluster.isWorker && process.send) {
    // Every worker fails for the same reason: the primary says it once.
    process.send({ type: START_FAILED, message } satisfies StartFailure, () => process.exit(1));
    return;
  }
  process.stderr.write(message);
  process.exit(1);
});
