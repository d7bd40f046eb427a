import type { ResourceServerRecord, ResourceServersStore, SourceFingerprint } from '../../adapters/contract.js';
import type { Actor, AuditLog } from '../audit/log.js';
import { ConflictError, type FieldProblem, NotFoundError, StaleWriteError, ValidationError } from '../errors/app-error.js';
import type { ScopeRegistry } from '../scopes/registry.js';
import { DEFAULT_SIGNING_ALG, SIGNING_ALGS } from '../keys/service.js';
import { changedAtSource, type ImportOptions, UNNAMED_SOURCE } from '../import/source-changes.js';

export type { ResourceServerRecord };

export interface NewResourceServer {
  uri: string;
  scope: string[];
  tokenFormat?: 'opaque' | 'jwt';
  accessTokenTtl?: number;
  signingAlg?: string;
}

// Token requests look resource servers up; an admin change is honoured
// everywhere within this long without a query per request.
const CACHE_MS = 1000;

/** The settings an import sets from its source, by record field, with the name each has in files, fingerprints and the audit trail. */
const IMPORTED_FIELDS = { scope: 'scope', tokenFormat: 'token_format', accessTokenTtl: 'access_token_ttl', signingAlg: 'signing_alg' } as const;
type ImportedField = keyof typeof IMPORTED_FIELDS;
type ImportedFieldName = typeof IMPORTED_FIELDS[ImportedField];
const IMPORTED = Object.keys(IMPORTED_FIELDS) as ImportedField[];

/**
 * What an import did to one resource server. `fields`: the settings it
 * wrote, those that changed at the source since the last import; a change
 * made in Gatehouse to any other is kept.
 */
export type ResourceServerImportOutcome =
  | { resourceServer: ResourceServerRecord; outcome: 'created' | 'updated' | 'unchanged'; fields: ImportedFieldName[] }
  | { resourceServer?: undefined; outcome: 'skipped'; reason: string };

/** Why an import leaves out a resource server it brought across before. */
export const RESOURCE_SERVER_DELETED_SINCE_IMPORT = 'deleted in Gatehouse after an earlier import: an import does not bring it back (resource add registers it again)';

/** One resource-server row of an import, checked, with what the source says of it in fingerprinted form. */
interface SourceRow {
  record: ResourceServerRecord;
  fingerprint: SourceFingerprint;
  dryRun: boolean;
  by: Actor;
  /** The import whose fingerprints these are (SourceFingerprintStore). */
  source: string;
}

/** A setting in one form for comparison: the scope list as a sorted set (its order means nothing). */
function canonical(field: ImportedField, record: ResourceServerRecord): string {
  if (field === 'scope') return [...new Set(record.scope.split(' ').filter(Boolean))].sort().join(' ');
  return String(record[field] ?? '-');
}

function sourceFields(record: ResourceServerRecord): Record<ImportedFieldName, string> {
  return Object.fromEntries(IMPORTED.map((field) => [IMPORTED_FIELDS[field], canonical(field, record)])) as Record<ImportedFieldName, string>;
}

/** The settings whose digest differs from the last import's (one the last import did not fingerprint counts as unchanged: nothing is known of it). */
function fieldsChangedAtSource(previous: SourceFingerprint, current: SourceFingerprint): ImportedField[] {
  return IMPORTED.filter((field) => changedAtSource(previous, current, IMPORTED_FIELDS[field]));
}

function differingFields(a: ResourceServerRecord, b: ResourceServerRecord): ImportedField[] {
  return IMPORTED.filter((field) => canonical(field, a) !== canonical(field, b));
}

const named = (fields: ImportedField[]): ImportedFieldName[] => fields.map((field) => IMPORTED_FIELDS[field]);

/**
 * The resource servers (RFC 8707) clients may ask tokens for, besides
 * Gatehouse's own API: each sets its tokens' audience, format and scopes.
 */
export class ResourceServerRegistry {
  private readonly cache = new Map<string, { record: ResourceServerRecord; until: number }>();

  constructor(
    private readonly store: ResourceServersStore,
    private readonly scopes: ScopeRegistry,
    /** Gatehouse's own API audience: reserved, configured by Gatehouse itself. */
    private readonly reservedUri: string,
    private readonly audit?: AuditLog,
  ) {}

  list(): Promise<ResourceServerRecord[]> {
    return this.store.list();
  }

  async find(uri: string): Promise<ResourceServerRecord | undefined> {
    const cached = this.cache.get(uri);
    if (cached && cached.until > Date.now()) return cached.record;
    const record = await this.store.find(uri);
    // Only registered URIs are kept: one registered by another process (the
    // CLI, another node) is honoured at once, and URIs made up by callers
    // cannot fill the cache.
    if (!record) return undefined;
    if (this.cache.size > 10_000) this.cache.clear();
    this.cache.set(uri, { record, until: Date.now() + CACHE_MS });
    return record;
  }

  /**
   * The longest access-token lifetime a registered resource server sets; 0
   * when none sets one. Every resource server counts, whatever its token
   * format: a format changed later does not change the JWTs already signed.
   */
  async longestAccessTokenTtl(): Promise<number> {
    return Math.max(0, ...(await this.store.list()).map((server) => server.accessTokenTtl ?? 0));
  }

  /** One registered resource server, or a NotFoundError. */
  async show(uri: string): Promise<ResourceServerRecord> {
    const record = await this.store.find(uri);
    if (!record) throw new NotFoundError(`no resource server ${uri}`);
    return record;
  }

  /**
   * Registers a resource server or changes one. `expect` says which the
   * caller means: a `new` one already registered is a ConflictError, an
   * `existing` one that is not is a NotFoundError. With `by`, the change is
   * audited under that actor.
   */
  async save(input: NewResourceServer, by?: Actor, expect: 'new' | 'existing' | 'either' = 'either', { asSeen }: { asSeen?: ResourceServerRecord } = {}): Promise<ResourceServerRecord> {
    const record = this.checked(input);
    await this.scopes.assertRegistered(record.scope.split(' '));
    const existing = await this.store.find(input.uri);
    if (expect === 'new' && existing) throw new ConflictError('uri', `${input.uri} is registered already`);
    if (expect === 'existing' && !existing) throw new NotFoundError(`no resource server ${input.uri}`);
    // With asSeen (an edit form), written only while the stored one is still what the form judged against.
    if (!await this.write(record, asSeen)) throw new StaleWriteError('uri', `${input.uri} was changed by someone else meanwhile; nothing was saved`);
    if (by) await this.audit?.record({ event: 'resource_server.saved', ...by, detail: { ...record, outcome: existing ? 'updated' : 'created' } });
    return record;
  }

  /**
   * Brings resource servers across from another system (or an export),
   * answered row by row in order. Every row is checked before any is
   * written. What is written is decided against what the source said at the
   * last import (ResourceServersStore.sourceFingerprints), never against the
   * resource server as it is now, so a change made in Gatehouse since (a
   * shorter token lifetime, another format or algorithm, fewer scopes) is
   * never undone by a re-run:
   *
   * - never imported: `created`;
   * - the source unchanged since the last import: `unchanged`, nothing written;
   * - changed at the source: only the settings that changed there are written (`updated`);
   * - imported before, removed in Gatehouse since: `skipped`, not brought back;
   * - in Gatehouse but never fingerprinted (imported before fingerprints were
   *   kept, or registered here): `unchanged`, nothing written; the source is
   *   recorded from now on, and `resource_server.import_adopted` names the
   *   settings kept.
   *
   * A dry run answers the same and writes nothing, fingerprints included; it
   * does not check that the scopes are registered (those of the same import
   * are not, in a dry run).
   */
  async importServers(inputs: NewResourceServer[], options: ImportOptions = {}, by: Actor = { actor: 'import' }): Promise<ResourceServerImportOutcome[]> {
    const records = inputs.map((input) => this.checkedImported(input));
    const sources = this.store.sourceFingerprints;
    const source = options.source ?? UNNAMED_SOURCE;
    const outcomes: ResourceServerImportOutcome[] = [];
    for (const record of records) {
      const row: SourceRow = { record, fingerprint: sources.digest(sourceFields(record)), dryRun: options.dryRun === true, by, source };
      // One at a time: a URI the file gives twice meets what its earlier row made.
      const [existing, previous] = await Promise.all([this.store.find(record.uri), sources.find(source, [record.uri])]);
      const before = previous.get(record.uri);
      if (!existing) outcomes.push(before ? { outcome: 'skipped', reason: RESOURCE_SERVER_DELETED_SINCE_IMPORT } : await this.createImported(row));
      else if (!before) outcomes.push(await this.adoptImported(existing, row));
      else outcomes.push(await this.applySourceChanges(existing, fieldsChangedAtSource(before, row.fingerprint), row));
    }
    return outcomes;
  }

  /** A resource server the source has and Gatehouse never had: registered whole. */
  private async createImported({ record, fingerprint, dryRun, by, source }: SourceRow): Promise<ResourceServerImportOutcome> {
    const fields = named(IMPORTED);
    if (dryRun) return { resourceServer: record, outcome: 'created', fields };
    await this.writeImported(record);
    await this.store.sourceFingerprints.record(source, [{ key: record.uri, fingerprint }]);
    await this.audit?.record({ event: 'resource_server.imported', ...by, detail: { ...record, outcome: 'created', fields } });
    return { resourceServer: record, outcome: 'created', fields };
  }

  /** A resource server in Gatehouse that no import fingerprinted: kept as it is, the source recorded from now on. */
  private async adoptImported(existing: ResourceServerRecord, { record, fingerprint, dryRun, by, source }: SourceRow): Promise<ResourceServerImportOutcome> {
    if (dryRun) return { resourceServer: existing, outcome: 'unchanged', fields: [] };
    await this.store.sourceFingerprints.record(source, [{ key: record.uri, fingerprint }]);
    const kept = named(differingFields(existing, record));
    if (kept.length) await this.audit?.record({ event: 'resource_server.import_adopted', ...by, detail: { uri: record.uri, kept } });
    return { resourceServer: existing, outcome: 'unchanged', fields: [] };
  }

  /** The source's values of the settings that `changed` there, written onto the resource server as Gatehouse has it now. */
  private async applySourceChanges(existing: ResourceServerRecord, changed: ImportedField[], { record, fingerprint, dryRun, by, source }: SourceRow): Promise<ResourceServerImportOutcome> {
    if (!changed.length) return { resourceServer: existing, outcome: 'unchanged', fields: [] };
    const next: ResourceServerRecord = { ...existing, ...Object.fromEntries(changed.map((field) => [field, record[field]])) };
    const written = differingFields(existing, next);
    const fields = named(written);
    if (dryRun) return { resourceServer: next, outcome: fields.length ? 'updated' : 'unchanged', fields };
    if (fields.length) await this.writeImported(next);
    await this.store.sourceFingerprints.record(source, [{ key: record.uri, fingerprint }]);
    if (!fields.length) return { resourceServer: existing, outcome: 'unchanged', fields };
    const changes = Object.fromEntries(written.map((field) => [IMPORTED_FIELDS[field], { from: existing[field], to: next[field] }]));
    await this.audit?.record({ event: 'resource_server.imported', ...by, detail: { uri: record.uri, outcome: 'updated', fields, changes } });
    return { resourceServer: next, outcome: 'updated', fields };
  }

  /** An imported record written, once its scopes are known to be registered (an import registers them first). */
  private async writeImported(record: ResourceServerRecord): Promise<void> {
    try {
      await this.scopes.assertRegistered(record.scope.split(' '));
    } catch (error) {
      throw this.namingServer(error, record.uri);
    }
    await this.write(record);
  }

  private async write(record: ResourceServerRecord, ifStill?: ResourceServerRecord): Promise<boolean> {
    const written = await this.store.save(record, ifStill ? { ifStill } : {});
    this.cache.delete(record.uri);
    return written;
  }

  /** `checked`, its problems naming the resource server (an import's rows are many). */
  private checkedImported(input: NewResourceServer): ResourceServerRecord {
    try {
      return this.checked(input);
    } catch (error) {
      throw this.namingServer(error, input.uri);
    }
  }

  private namingServer(error: unknown, uri: string): unknown {
    if (!(error instanceof ValidationError)) return error;
    return new ValidationError(error.fields.map((problem) => ({ ...problem, message: `${problem.message} (resource server "${uri}")` })));
  }

  /** The record `input` describes, defaults applied, or the ValidationError naming every problem (nothing is looked up). */
  private checked(input: NewResourceServer): ResourceServerRecord {
    const problems: FieldProblem[] = [];
    const uriProblem = this.uriProblem(input.uri);
    if (uriProblem) problems.push({ field: 'uri', message: uriProblem });
    const scope = [...new Set(input.scope)];
    if (!scope.length) problems.push({ field: 'scope', message: 'at least one is required' });
    const format = input.tokenFormat ?? 'jwt';
    if (format !== 'jwt' && format !== 'opaque') problems.push({ field: 'token_format', message: 'must be opaque or jwt' });
    const ttl = input.accessTokenTtl;
    if (ttl !== undefined && (!Number.isInteger(ttl) || ttl < 1 || ttl > 86_400)) {
      problems.push({ field: 'access_token_ttl', message: 'must be 1 to 86400 seconds' });
    }
    const alg = input.signingAlg ?? DEFAULT_SIGNING_ALG;
    if (!(SIGNING_ALGS as readonly string[]).includes(alg)) problems.push({ field: 'signing_alg', message: `must be one of ${SIGNING_ALGS.join(', ')}` });
    if (problems.length) throw new ValidationError(problems);
    return { uri: input.uri, scope: scope.join(' '), tokenFormat: format, accessTokenTtl: ttl ?? null, signingAlg: alg as ResourceServerRecord['signingAlg'] };
  }

  async remove(uri: string, by?: Actor): Promise<void> {
    if (!await this.store.remove(uri)) throw new NotFoundError(`no resource server ${uri}`);
    this.cache.delete(uri);
    if (by) await this.audit?.record({ event: 'resource_server.removed', ...by, detail: { uri } });
  }

  private uriProblem(uri: string): string | undefined {
    let parsed: URL;
    try {
      parsed = new URL(uri);
    } catch {
      return 'must be an absolute URI';
    }
    // RFC 8707 §2: no fragment; a query is discouraged, and it would make
    // audience comparison ambiguous.
    if (uri.includes('#') || parsed.search) return 'must not contain a query or fragment';
    if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') return 'must be an http(s) URI';
    if (parsed.href !== uri && `${parsed.href}` !== `${uri}/`) return `must be written in normal form (${parsed.href})`;
    if (uri === this.reservedUri) return 'is Gatehouse\'s own API, which needs no registration';
    return undefined;
  }
}
