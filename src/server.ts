#!/usr/bin/env node
import { EmbeddedDatabaseBusyError } from '../adapters/embedded/pglite.js';
import { StorageUnavailableError } from '../adapters/factory.js';
import { ConfigError, loadConfig } from './config/load.js';
import { startGatehouse } from './main.js';
import { createLogger } from './observability/logger.js';

const EXPECTED = [ConfigError, StorageUnavailableError, EmbeddedDatabaseBusyError];

async function run(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel);
  const gatehouse = await startGatehouse(config, logger);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    // In-flight requests finish; a stuck one cannot hold the process forever.
    setTimeout(() => process.exit(1), 10_000).unref();
    gatehouse.close().then(() => process.exit(0), (error: unknown) => {
      logger.error({ err: error }, 'shutdown failed');
      process.exit(1);
    });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

run().catch((error: unknown) => {
  if (EXPECTED.some((kind) => error instanceof kind)) {
    process.stderr.write(`gatehouse: ${(error as Error).message}\n`);
  } else {
    process.stderr.write(`gatehouse: failed to start: ${(error as Error)?.stack ?? String(error)}\n`);
  }
  process.exit(1);
});
