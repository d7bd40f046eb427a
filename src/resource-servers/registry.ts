import type { ResourceServerRecord, ResourceServersStore } from '../../adapters/contract.js';
import type { Actor, AuditLog } from '../audit/log.js';
import { ConflictError, type FieldProblem, NotFoundError, ValidationError } from '../errors/app-error.js';
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
   * audited under that actor (an import records its own outcome instead).
   */
  async save(input: NewResourceServer, by?: Actor, expect: 'new' | 'existing' | 'either' = 'either'): Promise<ResourceServerRecord> {
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
    const existing = await this.store.find(input.uri);
    if (expect === 'new' && existing) throw new ConflictError('uri', `${input.uri} is registered already`);
    if (expect === 'existing' && !existing) throw new NotFoundError(`no resource server ${input.uri}`);
    const record: ResourceServerRecord = {
      uri: input.uri, scope: scope.join(' '), tokenFormat: format, accessTokenTtl: ttl ?? null, signingAlg: alg as ResourceServerRecord['signingAlg'],
    };
    await this.store.save(record);
    this.cache.delete(record.uri);
    if (by) await this.audit?.record({ event: 'resource_server.saved', ...by, detail: { ...record, outcome: existing ? 'updated' : 'created' } });
    return record;
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
