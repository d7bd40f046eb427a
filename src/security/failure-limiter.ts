import { createHash } from 'node:crypto';
import type { CounterStore } from '../../adapters/contract.js';
import { AppError } from '../errors/app-error.js';
import { usernameKey } from '../accounts/usernames.js';
import { addressNetwork } from './address-network.js';

/** What failed attempts are counted against: a client address, and what it tried to authenticate as. */
export type SubjectKind = 'client' | 'user' | 'ip';

export interface Subject {
  kind: SubjectKind;
  value: string;
}

export interface FailureLimits {
  /** Failures for one client_id from one address before that address backs off on it. */
  client: number;
  /** Failures for one username from one address before that address backs off on it. */
  user: number;
  /** Failures of any kind from one address before it backs off on everything. */
  ip: number;
  /**
   * Distinct addresses with failures for one client_id or username before
   * that subject backs off for every address. At least 2, so no single
   * source can reach it.
   */
  distributed: number;
  /** Seconds without a failure after which a counter starts again. */
  windowSeconds: number;
  /** The longest back-off, so nobody is locked out for good. */
  maxBackoffSeconds: number;
}

/**
 * Which limit is meant: an address on everything it tries, an address on one
 * subject, or a subject from everywhere (a distributed attack).
 */
export type LimitScope = 'address' | 'address+subject' | 'subject';

/** One limit on one subject; `address` is the client address for the first two scopes. */
export interface Limit {
  scope: LimitScope;
  subject: Subject;
  address: string | undefined;
}

export interface LimiterEvents {
  /** A limit has just been reached and is now backing off; the failure counts once this settles (an audit record, say). */
  engaged(limit: Limit, backoffSeconds: number): void | Promise<void>;
  /** A request was refused; it was not attempted, so it is not counted. */
  refused(limit: Limit, retryAfter: number): void;
}

/**
 * A refused attempt: the caller should come back after `retryAfter` seconds
 * (429 with Retry-After, RFC 6585 §4; `temporarily_unavailable` is the
 * nearest RFC 6749 code).
 */
export class TooManyFailures extends AppError {
  override name = 'TooManyFailures';

  constructor(readonly retryAfter: number, readonly subject: SubjectKind) {
    super(429, 'temporarily_unavailable', `too many failed attempts; retry after ${retryAfter} seconds`, undefined, {
      'Retry-After': String(retryAfter),
    });
  }
}

// Short, printable values only, without spaces: anything else (NUL, spaces, a megabyte) is digested.
const PLAIN_KEY = /^[\x21-\x7e]{1,128}$/;

const digest = (value: string) => `#${createHash('sha256').update(value).digest('base64url')}`;

// Usernames are personal data: their keys carry a digest, of the same key
// the account lookup compares (usernameKey), so every spelling that signs in
// as an account counts against it. Client ids and addresses are not secret
// and are checked on every token request, so they are kept as they are
// (digested only when long, to bound key size).
function valueKey(subject: Subject): string {
  if (subject.kind === 'user') return digest(usernameKey(subject.value));
  return PLAIN_KEY.test(subject.value) ? subject.value : digest(subject.value);
}

/** A counter `check` reads, with the failures it allows before back-off. */
interface Counted {
  key: string;
  allowed: number;
  limit: Limit;
}

/**
 * Brute-force protection for everything that checks a secret: client
 * authentication, the password grant and the login page. Callers name the
 * client address and what it authenticates as (a client_id or a username);
 * three limits follow, each backing off past its threshold (1 s, then 2 s,
 * 4 s, … up to `maxBackoffSeconds`), so that failures slow their own source
 * and cannot lock anyone else out (OWASP Authentication Cheat Sheet, "account
 * lockout"; unlike a per-account lock such as Keycloak's):
 *
 * - address + subject (`client` / `user` failures): guessing one secret from
 *   one place is slowed hard; nobody elsewhere notices.
 * - address (`ip` failures on anything): one place guessing many subjects.
 * - subject, from everywhere: only once `distributed` distinct addresses
 *   have failed on it within the window, so a single source never reaches
 *   it, however long it keeps failing. Then each further failure doubles a
 *   wait that applies to every address, the right secret included: a
 *   botnet's fresh addresses must not each get a free guess (the same reason
 *   a correct credential from a clean address does not pass, SECURITY.md).
 *
 * Addresses are counted by network (addressNetwork: IPv6 by /64). Refused
 * attempts are not counted (so an attacker cannot stretch a wait), waits are
 * capped and counters expire `windowSeconds` after their last failure; a
 * success clears that address's count for that subject.
 */
export class FailureLimiter {
  /** Keys with failures (any process), until when they may still count. */
  private readonly recent = new Map<string, number>();
  /** The latest time any key in `recent` may still count until: before it, no key needs looking at. */
  private recentUntil = 0;
  private view: { live(): boolean } | undefined;
  private watching = false;
  /** Attempts in flight per address+subject, and those waiting for a place (attempt). */
  private readonly places = new Map<string, { active: number; waiting: Array<() => void> }>();

  constructor(
    private readonly counters: CounterStore,
    private readonly limits: FailureLimits,
    private readonly events: LimiterEvents,
  ) {}

  private backoff(allowed: number, count: number): number {
    const over = count - allowed;
    if (over < 0) return 0;
    return Math.min(2 ** Math.min(over, 30), this.limits.maxBackoffSeconds);
  }

  /** A change to `key`'s counter, with the count it left if known (0: nothing to look up). */
  private noted(key: string, count?: number): void {
    if (count === 0) {
      this.recent.delete(key);
      return;
    }
    const now = Date.now();
    if (this.recent.size > 50_000) {
      for (const [k, until] of this.recent) if (until <= now) this.recent.delete(k);
    }
    const until = now + this.limits.windowSeconds * 1000;
    this.recent.set(key, until);
    if (until > this.recentUntil) this.recentUntil = until;
  }

  /** The client address among `subjects`, by network, and the rest. */
  private split(subjects: Subject[]): { network: string | undefined; others: Subject[] } {
    const ip = subjects.find((subject) => subject.kind === 'ip');
    return { network: ip && addressNetwork(ip.value), others: subjects.filter((subject) => subject.kind !== 'ip') };
  }

  /** Every counter that can refuse an attempt by `subjects`. */
  private counted(subjects: Subject[]): Counted[] {
    const { network, others } = this.split(subjects);
    const counted: Counted[] = [];
    const at = network === undefined ? 'none' : valueKey({ kind: 'ip', value: network });
    if (network !== undefined) {
      counted.push({ key: `fail:ip:${at}`, allowed: this.limits.ip, limit: { scope: 'address', subject: { kind: 'ip', value: network }, address: network } });
    }
    for (const subject of others) {
      const kind = subject.kind as Exclude<SubjectKind, 'ip'>;
      // A space never occurs in either part (valueKey), so no two pairs share a key.
      counted.push({ key: `fail:${kind}@ip:${valueKey(subject)} ${at}`, allowed: this.limits[kind], limit: { scope: 'address+subject', subject, address: network } });
      // Hit only once the subject's distinct addresses reach the limit, so its
      // first hit already means a distributed attack: wait from the first.
      // (Not `fail:<kind>:…`, which earlier versions counted from one address.)
      counted.push({ key: `fail:${kind}@all:${valueKey(subject)}`, allowed: 1, limit: { scope: 'subject', subject, address: undefined } });
    }
    return counted;
  }

  /**
   * Throws TooManyFailures when any limit must still wait; answers the
   * counts it read (none where it needed no look). Where the store
   * publishes its hits, counters with no recent failure anywhere are let
   * through without a round trip (almost every request); otherwise, one.
   */
  async check(subjects: Subject[]): Promise<Map<string, number>> {
    const read = new Map<string, number>();
    if (!subjects.length) return read;
    if (!this.watching) {
      this.watching = true;
      this.view = this.counters.watch?.((key, count) => this.noted(key, count));
    }
    const now = Date.now();
    const live = this.view?.live() === true;
    // No failure anywhere within the window: nothing to look up (almost always).
    if (live && this.recentUntil <= now) return read;
    const counted = this.counted(subjects);
    if (live && !counted.some(({ key }) => (this.recent.get(key) ?? 0) > now)) return read;
    const states = await this.counters.peek(counted.map(({ key }) => key));
    let worst: { retryAfter: number; limit: Limit } | undefined;
    states.forEach((state, i) => {
      if (!state) return;
      read.set(counted[i]!.key, state.count);
      const { allowed, limit } = counted[i]!;
      const waitMs = state.lastAt + this.backoff(allowed, state.count) * 1000 - Date.now();
      const retryAfter = Math.ceil(waitMs / 1000);
      if (retryAfter > 0 && (!worst || retryAfter > worst.retryAfter)) worst = { retryAfter, limit };
    });
    if (worst) {
      this.events.refused(worst.limit, worst.retryAfter);
      throw new TooManyFailures(worst.retryAfter, worst.limit.subject.kind);
    }
    return read;
  }

  /** Counts one failed attempt by `subjects` (the address, and what it tried to be). */
  async failed(subjects: Subject[]): Promise<void> {
    const own = this.ownCounters(subjects);
    await this.confirmFailure(subjects, own, await this.reserve(own));
  }

  /** The counters of the source itself (the address, and the address with the subject), not the distributed one. */
  private ownCounters(subjects: Subject[]): Counted[] {
    return this.counted(subjects).filter(({ limit }) => limit.scope !== 'subject');
  }

  /** Counts a hit on each counter, before the attempt's outcome is known. */
  private reserve(counters: Counted[]): Promise<number[]> {
    const window = this.limits.windowSeconds;
    return Promise.all(counters.map(async ({ key }) => {
      this.noted(key);
      return (await this.counters.hit(key, window)).count;
    }));
  }

  private async release(counters: Counted[]): Promise<void> {
    await Promise.all(counters.map(({ key }) => this.counters.release(key)));
  }

  /**
   * A failure counted on the source's own counters (`own`, hit to `counts`):
   * engages the limits it reaches, and counts the distributed one.
   */
  private async confirmFailure(subjects: Subject[], own: Counted[], counts: number[]): Promise<void> {
    const { network } = this.split(subjects);
    const window = this.limits.windowSeconds;
    await Promise.all([
      ...own.map(async ({ allowed, limit }, i) => {
        if (counts[i] === allowed) await this.events.engaged(limit, this.backoff(allowed, allowed));
      }),
      ...this.counted(subjects).filter(({ limit }) => limit.scope === 'subject').map(async (counter) => {
        const addresses = await this.counters.addMember(`addresses:${counter.key}`, network ?? 'none', window);
        if (addresses < this.limits.distributed) return;
        const [count] = await this.reserve([counter]);
        if (count === counter.allowed) await this.events.engaged(counter.limit, this.backoff(counter.allowed, count));
      }),
    ]);
  }

  /**
   * One password attempt for `username` from `ip`: refused (TooManyFailures)
   * while a limit is backing off, otherwise `verify` runs and its outcome is
   * counted (see `attempt`). Answers what `verify` answered.
   */
  attemptPassword<T>(username: string, ip: string, verify: () => Promise<T | undefined>): Promise<T | undefined> {
    return this.attempt([{ kind: 'user', value: username }, { kind: 'ip', value: ip }], verify);
  }

  /**
   * One attempt at a secret by `subjects` (a password, a device's user
   * code): refused (TooManyFailures) while a limit is backing off,
   * otherwise `verify` runs, answering undefined for a failure, and its
   * outcome is counted.
   *
   * The attempt is counted as a failure before `verify` runs and taken back
   * if it succeeds: checked first and counted after, every attempt sent at
   * the same moment would pass the check while the others were still being
   * verified, so a burst would get as many guesses as it had requests.
   * Counted first, an attempt past a limit's allowance goes ahead only as
   * the single attempt after a back-off (the count it was checked against,
   * plus itself); one beside it is refused.
   */
  async attempt<T>(subjects: Subject[], verify: () => Promise<T | undefined>): Promise<T | undefined> {
    const own = this.ownCounters(subjects);
    // In this process, no more attempts on one subject from one address are
    // in flight than its limit allows failures: the others wait for a place,
    // and are then judged with the outcomes of those before them. So a client
    // signing one user in many times at once waits a little instead of being
    // refused, and a burst of guesses gets no more than the limit's. Across
    // processes, the counting in attemptNow still bounds what goes ahead.
    const turn = this.turnOf(own);
    return turn ? this.inPlace(turn.key, turn.allowed, () => this.attemptNow(subjects, own, verify)) : this.attemptNow(subjects, own, verify);
  }

  /** The counter whose places attempts wait for: the address with the subject, else the address. */
  private turnOf(own: Counted[]): Counted | undefined {
    return own.find(({ limit }) => limit.scope === 'address+subject') ?? own[0];
  }

  /**
   * One attempt whose secret is verified elsewhere and whose outcome is read
   * from its answer (client authentication, which the provider performs):
   * `run` answers whether it failed, and calls `proven` as soon as the secret
   * is known to be right. Refused (TooManyFailures) while a limit is backing
   * off; a failure is counted.
   *
   * Checked first and counted after, requests sent at the same moment would
   * all pass the check while the first were still being verified: a burst
   * got as many guesses as it had requests. So, in this process, no more
   * attempts per address and subject are unsettled at once than the limit
   * allows failures, and only one at a time once a failure is recent; each is
   * checked when it gets its place, and holds it until its secret is proven
   * or its failure counted. A burst gets no more verifications than the
   * limit (each process its share), while a client's right secrets give
   * their places up as soon as they are proven. Unlike `attempt`, an attempt
   * that succeeds writes nothing: this runs on every token request.
   */
  async guard(subjects: Subject[], run: (proven: () => void) => Promise<boolean>): Promise<void> {
    const own = this.ownCounters(subjects);
    const turn = this.turnOf(own);
    // Judged again each time a place comes free: once a failure is counted,
    // the attempts still waiting go one at a time, each seeing the outcomes
    // of all before it.
    const free = turn ? await this.takePlace(turn.key, () => ((this.recent.get(turn.key) ?? 0) > Date.now() ? 1 : turn.allowed)) : () => {};
    try {
      await this.check(subjects);
      if (await run(free)) await this.confirmFailure(subjects, own, await this.reserve(own));
    } finally {
      free();
    }
  }

  /**
   * An attempt with nothing to guess (a client without a shared secret, or
   * one whose secret only the server itself knows): no turns, since a burst
   * has nothing to try, and a failure still counts against `subjects` (the
   * sender's address), slowing that sender everywhere else. Refused while
   * one of `subjects` backs off, unless `refusable` is false: a limit there
   * would stop no attack and only let others lock out whoever depends on it.
   */
  async unguessable(subjects: Subject[], run: (proven: () => void) => Promise<boolean>, refusable = true): Promise<void> {
    if (refusable) await this.check(subjects);
    if (await run(() => {})) await this.failed(subjects);
  }

  private async inPlace<T>(key: string, capacity: number, run: () => Promise<T>): Promise<T> {
    const free = await this.takePlace(key, () => capacity);
    try {
      return await run();
    } finally {
      free();
    }
  }

  /**
   * Waits for one of `key`'s places (`capacity()` of them, at least one);
   * answers the function that gives it up (once; later calls do nothing).
   */
  private async takePlace(key: string, capacity: () => number): Promise<() => void> {
    const places = () => Math.max(1, capacity());
    let place = this.places.get(key);
    if (!place) this.places.set(key, place = { active: 0, waiting: [] });
    if (place.active >= places()) await new Promise<void>((resolve) => place!.waiting.push(resolve));
    else place.active += 1;
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      // A place is handed straight to the next waiting attempt while there
      // are places for it (the last one always is), or given up.
      const next = place.active - 1 < places() ? place.waiting.shift() : undefined;
      if (next) next();
      else if ((place.active -= 1) === 0) this.places.delete(key);
    };
  }

  private async attemptNow<T>(subjects: Subject[], own: Counted[], verify: () => Promise<T | undefined>): Promise<T | undefined> {
    const checked = await this.check(subjects);
    const counts = await this.reserve(own);
    const beside = own.findIndex(({ key, allowed }, i) => counts[i]! > allowed && counts[i] !== (checked.get(key) ?? 0) + 1);
    if (beside >= 0) {
      await this.release(own);
      const { allowed, limit } = own[beside]!;
      const retryAfter = Math.max(1, this.backoff(allowed, counts[beside]! - 1));
      this.events.refused(limit, retryAfter);
      throw new TooManyFailures(retryAfter, limit.subject.kind);
    }
    let result: T | undefined;
    try {
      result = await verify();
    } catch (error) {
      await this.release(own);
      throw error;
    }
    if (result === undefined) {
      await this.confirmFailure(subjects, own, counts);
    } else {
      // The address+subject count is cleared by the success; the address's own is only given back.
      await this.release(own.filter(({ limit }) => limit.scope === 'address'));
      await this.succeeded(subjects);
    }
    return result;
  }

  /**
   * A success clears the address's count on that subject, and only that: the
   * address's own count stays (others may share it), and so does a
   * distributed attack's, which one success does not end.
   */
  async succeeded(subjects: Subject[]): Promise<void> {
    await Promise.all(this.counted(subjects)
      .filter(({ limit }) => limit.scope === 'address+subject')
      .map(({ key }) => this.counters.clear(key)));
  }
}
