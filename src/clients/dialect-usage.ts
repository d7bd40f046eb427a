import type { ClientDialectStore, ClientDialectUse } from '../../adapters/contract.js';

/** How often one process writes a (client, dialect) pair's use: a token endpoint answering thousands a second writes once a minute. */
const NOTE_EVERY_MS = 60_000;

/**
 * Which dialects each client obtains tokens through, noted when a token is
 * issued. Tokens themselves do not carry it, so what is known is the
 * dialects used since this was first recorded, and when each was last used
 * (to within a minute), not which live token came through which.
 */
export class DialectUsage {
  private readonly noted = new Map<string, number>();

  constructor(private readonly store: ClientDialectStore, private readonly now: () => number = Date.now) {}

  /**
   * Notes a token issued to `clientId` through `dialect`: the write, or
   * undefined when this process wrote the pair within the last minute
   * (almost every token; no promise is made for those).
   */
  note(clientId: string, dialect: string): Promise<void> | undefined {
    const key = `${clientId}\u0000${dialect}`;
    const at = this.now();
    if ((this.noted.get(key) ?? -Infinity) > at - NOTE_EVERY_MS) return undefined;
    this.noted.set(key, at);
    // Bounded: a process that served very many clients starts afresh (at worst one more write each).
    if (this.noted.size > 10_000) this.noted.clear();
    return this.store.noteUse(clientId, dialect, new Date(at));
  }

  of(clientId: string): Promise<ClientDialectUse[]> {
    return this.store.usesOf(clientId);
  }
}

/** Each dialect as the pages name it. */
export const DIALECT_NAMES: Readonly<Record<string, string>> = {
  standard: 'the standard endpoints (OAuth 2.0 / OpenID Connect)',
  lux: 'Lux',
  los: 'LOS API',
  le: 'LE Enterprise',
  dot: 'django-oauth-toolkit',
};
