import type { SourceFingerprint } from '../../adapters/contract.js';

/**
 * Whether an import's source changed `field` since the last import: it did
 * when the last import fingerprinted the field and the digest now differs.
 * A field the last import did not fingerprint counts as unchanged: nothing
 * is known of it, so nothing made in Gatehouse is undone.
 */
export function changedAtSource(previous: SourceFingerprint, current: SourceFingerprint, field: string): boolean {
  return field in previous && previous[field] !== current[field];
}
