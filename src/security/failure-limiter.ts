import { createHash } from 'node:crypto';
import type { CounterStore } from '../../adapters/contract.js';

/** What failed attempts are counted against. */
export type SubjectKind = 'client' | 'user' | 'ip';

export interface Subject {
  kind: SubjectKind;
  value: string;
}

export interface FailureLimits {
  client: number;
  user: number;
  ip: number;
  /** Seconds without a failure after which a counter starts again. */
  windowSeconds: number;
  /** The longest back-off, so nobody is locked out for good. */
  maxBackoffSeconds: number;
}

export interface LimiterEvents {
  /** A subject has just reached its limit and is now backing off. */
  engaged(subject: Subject, backoffSeconds: number): void;
  /** A request was refused; it was not attempted, so it is not counted. */
  refused(subject: Subject, retryAfter: number): void;
}

/** A refused attempt: the caller should come back after `retryAfter` seconds. */
export class TooManyFailures extends Error {
  override name = 'TooManyFailures';

  constructor(readonly retryAfter: number, readonly subject: SubjectKind) {
    super(`too many failed attempts; retry after ${retryAfter} seconds`);
  }
}

// Short, printable values only: anything else (NUL, spaces, a megabyte) is digested.
const PLAIN_KEY = /^[\x21-\x7e]{1,128}$/;

// Usernames are personal data: their keys carry a digest. Client ids and
// addresses are not secret and are checked on every token request, so they
// are kept as they are (digested only when long, to bound key size).
function keyOf(subject: Subject): string {
  if (subject.kind !== 'user' && PLAIN_KEY.test(subject.value)) return `fail:${subject.kind}:${subject.value}`;
  const value = subject.kind === 'user' ? subject.value.trim().toLowerCase() : subject.value;
  return `fail:${subject.kind}:#${createHash('sha256').update(value).digest('base64url')}`;
}

/**
 * Brute-force protection for everything that checks a secret: client
 * authentication, the password grant and the login page. Failures are
 * counted per client, per username and per IP address in the shared counter
 * store; past a subject's limit every further attempt must wait, 1 s after
 * the limit, then 2 s, 4 s, … up to `maxBackoffSeconds`. Refused attempts are
 * not counted (so an attacker cannot stretch a lockout), the wait is capped
 * and counters expire, so nobody is locked out for good; a success clears the
 * username's counter.
 */
export class FailureLimiter {
  /** Keys with failures (any process), until when they may still count. */
  private readonly recent = new Map<string, number>();
  private view: { live(): boolean } | undefined;
  private watching = false;

  constructor(
    private readonly counters: CounterStore,
    private readonly limits: FailureLimits,
    private readonly events: LimiterEvents,
  ) {}

  private backoff(kind: SubjectKind, count: number): number {
    const over = count - this.limits[kind];
    if (over < 0) return 0;
    return Math.min(2 ** Math.min(over, 30), this.limits.maxBackoffSeconds);
  }

  private noted(key: string): void {
    const now = Date.now();
    if (this.recent.size > 50_000) {
      for (const [k, until] of this.recent) if (until <= now) this.recent.delete(k);
    }
    this.recent.set(key, now + this.limits.windowSeconds * 1000);
  }

  /**
   * Throws TooManyFailures when any subject must still wait. Where the
   * store publishes its hits, subjects with no recent failure anywhere are
   * let through without a round trip (almost every request); otherwise, one.
   */
  async check(subjects: Subject[]): Promise<void> {
    if (!subjects.length) return;
    if (!this.watching) {
      this.watching = true;
      this.view = this.counters.watch?.((key) => this.noted(key));
    }
    const keys = subjects.map(keyOf);
    const now = Date.now();
    if (this.view?.live() && !keys.some((key) => (this.recent.get(key) ?? 0) > now)) return;
    const states = await this.counters.peek(keys);
    let worst: { retryAfter: number; subject: Subject } | undefined;
    states.forEach((state, i) => {
      const subject = subjects[i]!;
      if (!state) return;
      const waitMs = state.lastAt + this.backoff(subject.kind, state.count) * 1000 - Date.now();
      const retryAfter = Math.ceil(waitMs / 1000);
      if (retryAfter > 0 && (!worst || retryAfter > worst.retryAfter)) worst = { retryAfter, subject };
    });
    if (worst) {
      this.events.refused(worst.subject, worst.retryAfter);
      throw new TooManyFailures(worst.retryAfter, worst.subject.kind);
    }
  }

  async failed(subjects: Subject[]): Promise<void> {
    await Promise.all(subjects.map(async (subject) => {
      this.noted(keyOf(subject));
      const { count } = await this.counters.hit(keyOf(subject), this.limits.windowSeconds);
      if (count === this.limits[subject.kind]) this.events.engaged(subject, this.backoff(subject.kind, count));
    }));
  }

  /**
   * One password attempt for `username` from `ip`: refused (TooManyFailures)
   * while either is backing off, otherwise `verify` runs and its outcome is
   * counted. Answers what `verify` answered.
   */
  async attemptPassword<T>(username: string, ip: string, verify: () => Promise<T | undefined>): Promise<T | undefined> {
    const subjects: Subject[] = [{ kind: 'user', value: username }, { kind: 'ip', value: ip }];
    await this.check(subjects);
    const result = await verify();
    if (result === undefined) await this.failed(subjects);
    else await this.succeeded(username);
    return result;
  }

  async succeeded(user: string): Promise<void> {
    await this.counters.clear(keyOf({ kind: 'user', value: user }));
  }
}
