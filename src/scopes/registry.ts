import type { ScopeRecord, ScopesStore } from '../../adapters/contract.js';
import type { Actor, AuditLog } from '../audit/log.js';
import { ConflictError, NotFoundError, ValidationError } from '../errors/app-error.js';

const SCOPE_NAME = /^[\x21\x23-\x5B\x5D-\x7E]{1,64}$/; // RFC 6749 §3.3 scope-token
// Shown on consent pages and at /v2/scopes: a sentence, not a document.
const DESCRIPTION_MAX = 500;

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

  /** Changes a registered scope's description and warning flag (its name is what clients hold: it never changes). */
  async update(name: string, change: Omit<ScopeRecord, 'name'>, by: Actor = { actor: 'cli' }): Promise<ScopeRecord> {
    const before = await this.show(name);
    const saved = this.valid({ ...change, name: before.name });
    await this.store.save(saved);
    await this.audit?.record({ event: 'scope.updated', ...by, detail: { ...saved, previous: { description: before.description, warning: before.warning } } });
    return saved;
  }

  /** Adds or changes a scope without an audit event of its own (an import records its own outcome). */
  async save(scope: ScopeRecord): Promise<void> {
    await this.store.save(this.valid(scope));
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
