import type { ScopeRecord, ScopesStore, SourceFingerprint } from '../../adapters/contract.js';
import type { Actor, AuditLog } from '../audit/log.js';
import { ConflictError, NotFoundError, StaleWriteError, ValidationError } from '../errors/app-error.js';
import { changedAtSource, type ImportOptions, UNNAMED_SOURCE } from '../import/source-changes.js';

const SCOPE_NAME = /^[\x21\x23-\x5B\x5D-\x7E]{1,64}$/; // RFC 6749 §3.3 scope-token
// Shown on consent pages and at /v2/scopes: a sentence, not a document.
const DESCRIPTION_MAX = 500;

/** The fields of a scope an import sets from its source, each compared on its own between runs. */
const IMPORTED_FIELDS = ['description', 'warning'] as const;
type ImportedField = typeof IMPORTED_FIELDS[number];

/**
 * What an import did to one scope. `fields`: those it wrote, the ones that
 * changed at the source since the last import; a change made in Gatehouse
 * to the other is kept.
 */
export type ScopeImportOutcome =
  | { scope: ScopeRecord; outcome: 'created' | 'updated' | 'unchanged'; fields: ImportedField[] }
  | { scope?: undefined; outcome: 'skipped'; reason: string };

/** Why an import leaves out a scope it brought across before. */
export const SCOPE_DELETED_SINCE_IMPORT = 'deleted in Gatehouse after an earlier import: an import does not bring it back (scope add registers it again)';

/** One scope row of an import, checked, with what the source says of it in fingerprinted form. */
interface SourceRow {
  scope: ScopeRecord;
  fingerprint: SourceFingerprint;
  dryRun: boolean;
  by: Actor;
  /** The import whose fingerprints these are (SourceFingerprintStore). */
  source: string;
}

function sourceFields(scope: ScopeRecord): Record<ImportedField, string> {
  return { description: scope.description, warning: String(scope.warning) };
}

/** The fields whose digest differs from the last import's (one the last import did not fingerprint counts as unchanged: nothing is known of it). */
function fieldsChangedAtSource(previous: SourceFingerprint, current: SourceFingerprint): ImportedField[] {
  return IMPORTED_FIELDS.filter((field) => changedAtSource(previous, current, field));
}

function differingFields(a: ScopeRecord, b: ScopeRecord): ImportedField[] {
  return IMPORTED_FIELDS.filter((field) => a[field] !== b[field]);
}

/** The registry of scopes clients may be given, with their descriptions. */
export class ScopeRegistry {
  constructor(private readonly store: ScopesStore, private readonly audit?: AuditLog) {}

  list(): Promise<ScopeRecord[]> {
    return this.store.list();
  }

  async names(): Promise<string[]> {
    return (await this.store.list()).map((scope) => scope.name);
  }

  /** One registered scope, or a NotFoundError. */
  async show(name: string): Promise<ScopeRecord> {
    const scope = (await this.store.list()).find((known) => known.name === name);
    if (!scope) throw new NotFoundError(`no scope ${name}`);
    return scope;
  }

  /** Throws a ValidationError naming every scope that is not registered. */
  async assertRegistered(scopes: string[], field = 'scope'): Promise<void> {
    const known = new Set(await this.names());
    const unknown = scopes.filter((scope) => !known.has(scope));
    if (unknown.length) {
      throw new ValidationError([{ field, message: `unknown scope${unknown.length > 1 ? 's' : ''}: ${unknown.join(', ')}` }]);
    }
  }

  /** Registers a new scope; one of that name already registered is a ConflictError. */
  async add(scope: ScopeRecord, by: Actor = { actor: 'cli' }): Promise<ScopeRecord> {
    const saved = this.valid(scope);
    if ((await this.store.list()).some((known) => known.name === saved.name)) {
      throw new ConflictError('name', `scope "${saved.name}" exists already`);
    }
    await this.store.save(saved);
    await this.audit?.record({ event: 'scope.added', ...by, detail: { ...saved } });
    return saved;
  }

  /**
   * Changes a registered scope's description and warning flag (its name is
   * what clients hold: it never changes). With `asSeen` (an edit form: the
   * scope it judged the change against), written only while the scope is
   * still that: a change racing another is a StaleWriteError, not a lost update.
   */
  async update(name: string, change: Omit<ScopeRecord, 'name'>, by: Actor = { actor: 'cli' }, { asSeen }: { asSeen?: ScopeRecord } = {}): Promise<ScopeRecord> {
    const before = await this.show(name);
    const saved = this.valid({ ...change, name: before.name });
    if (!await this.store.save(saved, asSeen ? { ifStill: asSeen } : {})) throw new StaleWriteError('scope', `scope "${name}" was changed by someone else meanwhile; nothing was saved`);
    await this.audit?.record({ event: 'scope.updated', ...by, detail: { ...saved, previous: { description: before.description, warning: before.warning } } });
    return saved;
  }

  /**
   * Brings scopes across from another system (or an export), answered row
   * by row in order. Every row is checked before any is written. What is
   * written is decided against what the source said at the last import
   * (ScopesStore.sourceFingerprints), never against the scope as it is now,
   * so a change made in Gatehouse since (a scope made restricted with
   * `warning`, a clearer description) is never undone by a re-run:
   *
   * - never imported: `created`;
   * - the source unchanged since the last import: `unchanged`, nothing written;
   * - changed at the source: only the fields that changed there are written (`updated`);
   * - imported before, gone from Gatehouse since: `skipped`, not brought back;
   * - in Gatehouse but never fingerprinted (imported before fingerprints were
   *   kept, registered here, or built in): `unchanged`, nothing written but a
   *   restriction the source has (see adoptImported); the source is recorded
   *   from now on, and `scope.import_adopted` names the fields kept.
   *
   * A dry run answers the same and writes nothing, fingerprints included.
   */
  async importScopes(inputs: ScopeRecord[], options: ImportOptions = {}, by: Actor = { actor: 'import' }): Promise<ScopeImportOutcome[]> {
    const scopes = inputs.map((input) => this.validImported(input));
    if (!scopes.length) return [];
    const sources = this.store.sourceFingerprints;
    const source = options.source ?? UNNAMED_SOURCE;
    const [registered, previous] = await Promise.all([this.store.list(), sources.find(source, [...new Set(scopes.map((scope) => scope.name))])]);
    const current = new Map(registered.map((scope) => [scope.name, scope]));
    const outcomes: ScopeImportOutcome[] = [];
    for (const scope of scopes) {
      const row: SourceRow = { scope, fingerprint: sources.digest(sourceFields(scope)), dryRun: options.dryRun === true, by, source };
      const outcome = await this.importOne(row, current.get(scope.name), previous.get(scope.name));
      // A name the file gives twice: its later row meets what the earlier one made.
      if (outcome.scope) {
        current.set(scope.name, outcome.scope);
        previous.set(scope.name, row.fingerprint);
      }
      outcomes.push(outcome);
    }
    return outcomes;
  }

  private importOne(row: SourceRow, existing: ScopeRecord | undefined, before: SourceFingerprint | undefined): Promise<ScopeImportOutcome> {
    if (!existing) return before ? Promise.resolve({ outcome: 'skipped', reason: SCOPE_DELETED_SINCE_IMPORT }) : this.createImported(row);
    if (!before) return this.adoptImported(existing, row);
    return this.applySourceChanges(existing, fieldsChangedAtSource(before, row.fingerprint), row);
  }

  /** A scope the source has and Gatehouse never had: registered whole. */
  private async createImported({ scope, fingerprint, dryRun, by, source }: SourceRow): Promise<ScopeImportOutcome> {
    const fields = [...IMPORTED_FIELDS];
    if (dryRun) return { scope, outcome: 'created', fields };
    await this.store.save(scope);
    await this.store.sourceFingerprints.record(source, [{ key: scope.name, fingerprint }]);
    await this.audit?.record({ event: 'scope.imported', ...by, detail: { ...scope, outcome: 'created', fields } });
    return { scope, outcome: 'created', fields };
  }

  /**
   * A scope in Gatehouse that no import fingerprinted: kept as it is, the
   * source recorded from now on, save one thing: a scope the source restricts
   * is restricted here too, and one restricted here stays so. A move into a
   * fresh deployment meets Gatehouse's built-in scopes unfingerprinted, and
   * a scope restricted at the source must not arrive unflagged on consent.
   */
  private async adoptImported(existing: ScopeRecord, { scope, fingerprint, dryRun, by, source }: SourceRow): Promise<ScopeImportOutcome> {
    const next: ScopeRecord = { ...existing, warning: existing.warning || scope.warning };
    const fields = differingFields(existing, next);
    if (dryRun) return { scope: next, outcome: fields.length ? 'updated' : 'unchanged', fields };
    await this.writeImported(existing, next, fields, by);
    await this.store.sourceFingerprints.record(source, [{ key: scope.name, fingerprint }]);
    const kept = differingFields(next, scope);
    if (kept.length) await this.audit?.record({ event: 'scope.import_adopted', ...by, detail: { name: scope.name, kept } });
    return { scope: next, outcome: fields.length ? 'updated' : 'unchanged', fields };
  }

  /** The source's values of the fields that `changed` there, written onto the scope as Gatehouse has it now. */
  private async applySourceChanges(existing: ScopeRecord, changed: ImportedField[], { scope, fingerprint, dryRun, by, source }: SourceRow): Promise<ScopeImportOutcome> {
    if (!changed.length) return { scope: existing, outcome: 'unchanged', fields: [] };
    const next: ScopeRecord = { ...existing, ...Object.fromEntries(changed.map((field) => [field, scope[field]])) };
    const fields = differingFields(existing, next);
    if (dryRun) return { scope: next, outcome: fields.length ? 'updated' : 'unchanged', fields };
    await this.writeImported(existing, next, fields, by);
    await this.store.sourceFingerprints.record(source, [{ key: scope.name, fingerprint }]);
    return { scope: next, outcome: fields.length ? 'updated' : 'unchanged', fields };
  }

  /** `next` stored and audited with what changed, when anything did. */
  private async writeImported(existing: ScopeRecord, next: ScopeRecord, fields: ImportedField[], by: Actor): Promise<void> {
    if (!fields.length) return;
    await this.store.save(next);
    const changes = Object.fromEntries(fields.map((field) => [field, { from: existing[field], to: next[field] }]));
    await this.audit?.record({ event: 'scope.imported', ...by, detail: { name: next.name, outcome: 'updated', fields, changes } });
  }

  /** `valid`, its problems naming the scope (an import's rows are many). */
  private validImported(scope: ScopeRecord): ScopeRecord {
    try {
      return this.valid(scope);
    } catch (error) {
      if (!(error instanceof ValidationError)) throw error;
      throw new ValidationError(error.fields.map((problem) => ({ ...problem, message: `${problem.message} (scope "${scope.name}")` })));
    }
  }

  private valid(scope: ScopeRecord): ScopeRecord {
    if (!SCOPE_NAME.test(scope.name)) {
      throw new ValidationError([{ field: 'name', message: 'must be 1-64 printable characters without spaces, quotes or backslashes' }]);
    }
    const description = scope.description?.trim() ?? '';
    if (!description) throw new ValidationError([{ field: 'description', message: 'is required' }]);
    if (description.length > DESCRIPTION_MAX) throw new ValidationError([{ field: 'description', message: `must be at most ${DESCRIPTION_MAX} characters` }]);
    return { name: scope.name, description, warning: scope.warning === true };
  }
}
