import { StorageUnavailableError } from '../../adapters/unavailable.js';
import type { Logger } from './logger.js';

/**
 * What a background task (the signing-key refresh, the sweeper) reports about
 * each use of a storage tier: it met an outage, or the tier answered.
 */
export interface OutageReporter {
  /**
   * True when `error` says the tier cannot serve now (StorageUnavailableError):
   * the outage is the reporter's to log, not the caller's. False for every
   * other error, which the caller logs itself.
   */
  unavailable(error: unknown): boolean;
  /** The tier answered: an outage in progress is over. */
  available(): void;
}

/**
 * Logs a storage tier's outage as two lines per process, one when it begins
 * and one when it ends, however many tasks meet it and however often they
 * retry: the signing-key refresh alone would otherwise log one warning with
 * a stack every two seconds. The same shape as the Redis connection's
 * lost/restored lines (adapters/redis/connect.ts, RedisConnectionWatcher).
 */
export class OutageLog implements OutageReporter {
  private since: number | undefined;

  /** `tier` names the store in the log lines ("PostgreSQL"). */
  constructor(private readonly logger: Logger, private readonly tier: string) {}

  unavailable(error: unknown): boolean {
    if (!(error instanceof StorageUnavailableError)) return false;
    if (this.since === undefined) {
      this.since = Date.now();
      this.logger.warn({ tier: this.tier, reason: error.detail },
        `${this.tier} unavailable: signing-key refresh and sweeps are paused (the keys in use stay in use); retrying`);
    }
    return true;
  }

  available(): void {
    if (this.since === undefined) return;
    const seconds = Math.round((Date.now() - this.since) / 1000);
    this.since = undefined;
    this.logger.info({ tier: this.tier, outage_seconds: seconds }, `${this.tier} is back: signing-key refresh and sweeps resumed`);
  }
}
