import type { RevocationFeed, RevocationWatch, TokenRevocation } from './contract.js';

/**
 * The revocation feed of storage that one process owns (the embedded
 * database): every revocation is made in this process, or handed to it by a
 * guest (the CLI, through embedded/revocation-relay.ts), so delivering it
 * here is delivering it everywhere. Nothing is kept across a restart; tokens
 * issued before this process started are judged by their records instead.
 */
export class LocalRevocationFeed implements RevocationFeed {
  readonly persistent = false;
  private readonly startedAt = Math.ceil(Date.now() / 1000);
  private onRevoked: ((revocation: TokenRevocation) => void) | undefined;
  /** Revocations made before anyone watched (a tool's view starts with its first check), until they lapse. */
  private early: TokenRevocation[] = [];

  async publish(revocations: TokenRevocation[]): Promise<void> {
    if (this.onRevoked) {
      for (const revocation of revocations) this.onRevoked(revocation);
      return;
    }
    const now = Math.floor(Date.now() / 1000);
    this.early = [...this.early.filter((revocation) => revocation.until >= now), ...revocations];
  }

  watch(onRevoked: (revocation: TokenRevocation) => void): RevocationWatch {
    this.onRevoked = onRevoked;
    for (const revocation of this.early) onRevoked(revocation);
    this.early = [];
    return { completeFrom: () => this.startedAt, whenComplete: () => Promise.resolve() };
  }
}
