#!/usr/bin/env node
// First: refuses an unsupported Node.js before anything else loads.
import './runtime-guard.js';
import cluster from 'node:cluster';
import { availableParallelism } from 'node:os';
import { EmbeddedDatabaseBusyError, ForeignDataFolderError, StorageUnavailableError } from '../adapters/factory.js';
import { SecretsKeyError } from '../adapters/secrets-at-rest.js';
import type { GatehouseConfig } from '../config/schema.js';
import { ConfigError, loadConfig } from './config/load.js';
import { PortInUseError, StartAbandonedError, startGatehouse } from './main.js';
import { aggregateWorkerMetrics } from './observability/cluster-metrics.js';
import { createLogger, type Logger, logFormat, settleLogs } from './observability/logger.js';
import { missingServerNodeOptions } from './supported-runtime.js';

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

/**
 * The last resort of a shutdown: exit after `ms` whatever is still running.
 * Said in the log first (the lines get a bounded moment to go out, see
 * settleLogs), so that an exit code 1 has its reason beside it.
 */
function forceExitAfter(logger: Logger, ms: number, code: () => number = () => 1): void {
  setTimeout(() => {
    const exitCode = code();
    if (exitCode !== 0) logger.error({ grace_ms: ms }, 'the grace period is over: exiting with work still in flight (requests cut off)');
    void exit(logger, exitCode);
  }, ms).unref();
}

// What stops the server gracefully. SIGHUP too: a closed terminal or an SSH
// session that drops would otherwise kill it (exit 129) with no log line and
// the last second's buffered lines lost.
const STOP_SIGNALS = ['SIGTERM', 'SIGINT', 'SIGHUP'] as const;

async function runWorker(config: GatehouseConfig, logger: Logger): Promise<void> {
  // Signals are handled from the first moment: one that arrives while the
  // storage is still opening stops the server as soon as it has started
  // (closing what it opened, the embedded database's lock included), within
  // the same grace period; one that arrives while start-up waits for a store
  // that is down ends the wait.
  const stopRequested = new AbortController();
  const started = startGatehouse(config, logger, { stop: stopRequested.signal });
  let running = false;
  void started.then(() => { running = true; }, () => {});
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    const serving = running;
    logger.info({ signal }, serving ? 'shutting down' : 'stopped during start-up');
    stopRequested.abort();
    // Cut short while still starting, nothing was served and nothing is lost
    // (migrations are transactions; the embedded database recovers as after
    // a SIGKILL): a stop, not a failure. Cut short while serving: a failure.
    // Decided when the signal comes: a start that finishes afterwards does
    // not serve (StartAbandonedError), so a slow start is still a stop.
    forceExitAfter(logger, SHUTDOWN_GRACE_MS, () => (serving ? 1 : 0));
    started.then((gatehouse) => gatehouse.close()).then(() => exit(logger, 0), (error: unknown) => {
      if (error instanceof StartAbandonedError) return exit(logger, 0);
      logger.error({ err: error }, 'shutdown failed');
      return exit(logger, 1);
    });
  };
  // Installed before start-up, which can take seconds (opening the database,
  // migrations, waiting for a store): as PID 1 of a container, a signal
  // without a handler is ignored, so `docker stop` would wait for its SIGKILL.
  for (const signal of STOP_SIGNALS) process.on(signal, () => stop(signal));
  // A start given up for a stop is the stop's to finish (exit 0), not a failure to start.
  const gatehouse = await started.catch((error: unknown) => {
    if (error instanceof StartAbandonedError) return undefined;
    throw error;
  });
  if (gatehouse && cluster.isWorker) process.send?.({ type: STARTED });
}

// A replacement worker that cannot start is forked again after this long,
// twice as long after each further failure, up to the cap.
const REPLACEMENT_RETRY_FIRST_MS = 1000;
const REPLACEMENT_RETRY_MAX_MS = 30_000;

/**
 * The primary of a multi-worker run: forks, replaces workers that die,
 * passes signals on.
 *
 * Only a worker that fails to start before any worker has ever served
 * stops the whole process (exit 1): that is the configuration (settings,
 * secrets) that can never start, and restarting would loop. Once a worker
 * has served, the configuration is known to work: a replacement that cannot
 * start is tried again with backoff while the others go on serving. (A store
 * that is down at start is not a failure at all: the worker waits for it.)
 */
function runPrimary(workers: number, logger: Logger, missingNodeOptions: string[]): void {
  aggregateWorkerMetrics();
  // Workers serve; started without the server's Node options (a unit or a
  // script running `node dist/src/server.js`), they get them here.
  if (missingNodeOptions.length) cluster.setupPrimary({ execArgv: [...process.execArgv, ...missingNodeOptions] });
  let stopping = false;
  let failureReported = false;
  // Whether any worker has ever started: from then on no failure to start is a configuration error.
  let served = false;
  let failedReplacements = 0;
  const started = new Set<number>();
  const pendingForks = new Set<NodeJS.Timeout>();
  cluster.on('message', (worker, message: Partial<StartFailure> | { type?: typeof STARTED }) => {
    if (message?.type === STARTED) {
      started.add(worker.id);
      served = true;
      failedReplacements = 0;
    }
    if (message?.type !== START_FAILED || typeof message.message !== 'string') return;
    if (served) {
      logger.error({ pid: worker.process.pid, reason: message.message.trim() }, 'a replacement worker cannot start');
    } else if (!failureReported) {
      // Every worker fails for the same reason: said once.
      failureReported = true;
      process.stderr.write(message.message);
    }
  });
  const liveWorkers = () => Object.keys(cluster.workers ?? {}).length;
  const forkAfter = (ms: number) => {
    const timer = setTimeout(() => {
      pendingForks.delete(timer);
      if (!stopping) cluster.fork();
    }, ms);
    pendingForks.add(timer);
  };
  for (let i = 0; i < workers; i += 1) cluster.fork();
  cluster.on('exit', (worker, code, signal) => {
    const hadStarted = started.delete(worker.id);
    if (stopping) {
      // A serving worker that had to be cut off (or was killed) makes the stop a failure, as in a single
      // process. One still starting (even still loading, before its signal handlers: killed by the
      // signal) had served nothing: a stop, not a failure, as a single process says too.
      if (hadStarted && (code !== 0 || signal)) process.exitCode = 1;
      if (liveWorkers() === 0) void exit(logger, Number(process.exitCode ?? 0));
      return;
    }
    if (hadStarted) {
      logger.error({ pid: worker.process.pid, code, signal }, 'worker died; starting another');
      cluster.fork();
      return;
    }
    if (!served && code !== 0 && !signal) {
      // The first workers cannot start (bad settings, a wrong SECRETS_KEY): restarting would loop.
      logger.error({ pid: worker.process.pid, code }, 'a worker failed to start; stopping');
      stopping = true;
      for (const other of Object.values(cluster.workers ?? {})) other?.process.kill('SIGTERM');
      process.exitCode = 1;
      if (liveWorkers() === 0) void exit(logger, 1);
      return;
    }
    failedReplacements += 1;
    const retryMs = Math.min(REPLACEMENT_RETRY_MAX_MS, REPLACEMENT_RETRY_FIRST_MS * 2 ** (failedReplacements - 1));
    logger.error({ pid: worker.process.pid, code, signal, retry_in_ms: retryMs },
      'a replacement worker failed to start; trying again after a pause (the other workers go on serving)');
    forkAfter(retryMs);
  });
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal, workers }, 'shutting down workers');
    for (const timer of pendingForks) clearTimeout(timer);
    pendingForks.clear();
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGTERM');
    if (liveWorkers() === 0) void exit(logger, Number(process.exitCode ?? 0));
    forceExitAfter(logger, SHUTDOWN_GRACE_MS + 2000);
  };
  for (const signal of STOP_SIGNALS) process.on(signal, () => stop(signal));
}

async function run(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel, undefined, logFormat(config.logFormat));
  if (cluster.isPrimary) {
    const missing = missingServerNodeOptions();
    const workers = workerCount(config, logger);
    if (workers > 1) {
      runPrimary(workers, logger, missing);
      return;
    }
    if (missing.length) {
      logger.info({ node_options: missing }, 'started without the Node options npm start and the image use: each request costs more CPU (docs/performance.md)');
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
