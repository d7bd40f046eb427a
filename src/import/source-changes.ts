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

/**
 * What every import of a record takes: `dryRun` works the outcome out and
 * writes nothing; `source` names the import (`django-oauth-toolkit`,
 * `clients`, `gatehouse`, …) whose fingerprints the outcome is decided
 * against and recorded as (SourceFingerprintStore: each source's are its own).
 */
export interface ImportOptions {
  dryRun?: boolean;
  source?: string;
}

/** The source of an import that names none (a service called directly). */
export const UNNAMED_SOURCE = 'import';
