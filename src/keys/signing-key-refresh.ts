import type { OutageReporter } from '../observability/outage-log.js';
import type { KeyService, SigningKeySet } from './service.js';

/** How often a process reads the key store for keys rotated elsewhere, in ms. */
export const KEY_REFRESH_INTERVAL_MS = 2000;

/** The signing order of the kids says both what is published and what signs. */
function fingerprint(set: SigningKeySet): string {
  return set.keys.map((key) => key.kid).join(',');
}

/**
 * Keeps a running process's signing keys in step with the key store: a key
 * rotated by the CLI (or any process) is published within one interval and
 * signs once its activation delay is over, with no restart.
 *
 * Polling the durable store, rather than listening for an announcement, is
 * one mechanism for every storage mode: the embedded database has no pub/sub
 * and a single process, and a process that missed a message (reconnecting to
 * Redis) would otherwise miss the key. The read is one small indexed query.
 */
export class SigningKeyRefresh {
  current: SigningKeySet;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private outages: OutageReporter | undefined;

  constructor(
    private readonly keys: KeyService,
    initial: SigningKeySet,
    private readonly apply: (next: SigningKeySet, previous: SigningKeySet) => void,
    private readonly failed: (error: unknown) => void,
    private readonly intervalMs = KEY_REFRESH_INTERVAL_MS,
  ) {
    this.current = initial;
  }

  /**
   * `outages` hears of every read that met an unreachable store and of every
   * read that succeeded, so that an outage is logged when it begins and ends
   * rather than at every interval; other failures still go to `failed`.
   */
  start(outages?: OutageReporter): void {
    this.outages = outages;
    this.timer ??= setInterval(() => { this.running ??= this.refresh().finally(() => { this.running = undefined; }); }, this.intervalMs);
    // A refresh never keeps the process alive on its own.
    this.timer.unref();
  }

  /** Reads the store once and applies what changed; a failed read keeps the keys it has. */
  async refresh(): Promise<void> {
    let next: SigningKeySet;
    try {
      next = await this.keys.signingKeySet();
    } catch (error) {
      if (!this.outages?.unavailable(error)) this.failed(error);
      return;
    }
    this.outages?.available();
    if (fingerprint(next) === fingerprint(this.current)) return;
    const previous = this.current;
    this.apply(next, previous);
    this.current = next;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }
}
