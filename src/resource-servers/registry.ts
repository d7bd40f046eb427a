import type { ResourceServerRecord, ResourceServersStore } from '../../adapters/contract.js';
import { type FieldProblem, NotFoundError, ValidationError } from '../errors/app-error.js';
import type { ScopeRegistry } from '../scopes/registry.js';
import { DEFAULT_SIGNING_ALG, SIGNING_ALGS } from '../keys/service.js';

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

/**
 * The resource servers (RFC 8707) clients may ask tokens for, besides
 * Gatehouse's own API: each sets its tokens' audience, format and scopes.
 */
export class ResourceServerRegistry {
  private readonly cache = new Map<string, { record: ResourceServerRecord | undefined; until: number }>();

  constructor(
    private readonly store: ResourceServersStore,
    private readonly scopes: ScopeRegistry,
    /** Gatehouse's own API audience: reserved, configured by Gatehouse itself. */
    private readonly reservedUri: string,
  ) {}

  list(): Promise<ResourceServerRecord[]> {
    return this.store.list();
  }

  async find(uri: string): Promise<ResourceServerRecord | undefined> {
    const cached = this.cache.get(uri);
    if (cached && cached.until > Date.now()) return cached.record;
    const record = await this.store.find(uri);
    // Bounded: only registered URIs are kept for long; misses are few and short-lived.
    if (this.cache.size > 10_000) this.cache.clear();
    this.cache.set(uri, { record, until: Date.now() + CACHE_MS });
    return record;
  }

  async save(input: NewResourceServer): Promise<ResourceServerRecord> {
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
    await this.scopes.assertRegistered(scope);
    const record: ResourceServerRecord = {
      uri: input.uri, scope: scope.join(' '), tokenFormat: format, accessTokenTtl: ttl ?? null, signingAlg: alg as ResourceServerRecord['signingAlg'],
    };
    await this.store.save(record);
    this.cache.delete(record.uri);
    return record;
  }

  async remove(uri: string): Promise<void> {
    if (!await this.store.remove(uri)) throw new NotFoundError(`no resource server ${uri}`);
    this.cache.delete(uri);
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
