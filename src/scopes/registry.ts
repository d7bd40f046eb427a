import type { ScopeRecord, ScopesStore } from '../../adapters/contract.js';
import { ValidationError } from '../errors/app-error.js';

const SCOPE_NAME = /^[\x21\x23-\x5B\x5D-\x7E]{1,64}$/; // RFC 6749 §3.3 scope-token

/** The registry of scopes clients may be given, with their descriptions. */
export class ScopeRegistry {
  constructor(private readonly store: ScopesStore) {}

  list(): Promise<ScopeRecord[]> {
    return this.store.list();
  }

  async names(): Promise<string[]> {
    return (await this.store.list()).map((scope) => scope.name);
  }

  /** Throws a ValidationError naming every scope that is not registered. */
  async assertRegistered(scopes: string[], field = 'scope'): Promise<void> {
    const known = new Set(await this.names());
    const unknown = scopes.filter((scope) => !known.has(scope));
    if (unknown.length) {
      throw new ValidationError([{ field, message: `unknown scope${unknown.length > 1 ? 's' : ''}: ${unknown.join(', ')}` }]);
    }
  }

  async save(scope: ScopeRecord): Promise<void> {
    if (!SCOPE_NAME.test(scope.name)) {
      throw new ValidationError([{ field: 'name', message: 'must be 1-64 printable characters without spaces, quotes or backslashes' }]);
    }
    if (!scope.description?.trim()) throw new ValidationError([{ field: 'description', message: 'is required' }]);
    await this.store.save({ ...scope, description: scope.description.trim() });
  }
}
