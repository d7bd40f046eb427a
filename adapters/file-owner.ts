import type { Stats } from 'node:fs';

/**
 * Whether this process may trust a file or folder it keeps secrets in: it
 * belongs to this process's user, or to root (which no other user can
 * change). Anything else another user owns, and so can widen, swap or has
 * planted in advance (a data folder made in a shared place, a secrets.key
 * chosen beforehand), whatever its modes are now. Where there are no user
 * ids (Windows), everything.
 */
export function ownedByUs(stats: Pick<Stats, 'uid'>): boolean {
  const uid = process.getuid?.();
  return uid === undefined || stats.uid === uid || stats.uid === 0;
}
