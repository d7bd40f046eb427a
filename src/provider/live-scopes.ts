import type Provider from 'oidc-provider';
import instance from 'oidc-provider/lib/helpers/weak_cache.js';

/** At most one read of the registry per this long while a name stays unknown (a client naming a scope the registry lacks). */
const REREAD_MS = 1000;
/** Past this many remembered missing names, the memory starts again: a bound, not a cache. */
const MISSING_KEPT = 1000;

/**
 * The scope names the running provider knows, following the scope registry.
 *
 * oidc-provider copies its `scopes` setting once, at construction, into a
 * Set (`instance(provider).configuration.scopes`) that client validation,
 * the filter on requested scopes and discovery read afresh. A scope added to
 * the registry after start-up (by the CLI, a console, another server) was
 * unknown to a running server: a client an administrator then gave it
 * failed every request with invalid_client_metadata ("scope must only
 * contain Authorization Server supported scope values") until a restart,
 * and JWT access tokens for the API left it out.
 *
 * So before the provider builds or validates a client whose scope names one
 * it lacks (`cover`), and for discovery at most once a second (`refresh`),
 * the registry is read again and the new names added to that Set. Names
 * are only ever added: the registry removes none. A name the registry does
 * not hold either stays unknown, and the client fails as before; the registry is read for that name at most once per REREAD_MS.
 * Each cover with a name not looked for just now reads for itself, rather
 * than joining a read in flight, which may have started before the name was
 * added: reads happen only for unknown names, which are rare.
 */
export class LiveScopeNames {
  private list: readonly string[];
  private known: Set<string>;
  /** Names a read of the registry did not find, and when. */
  private readonly missing = new Map<string, number>();
  private refreshedAt = 0;

  constructor(initial: readonly string[], private readonly readRegistry: () => Promise<string[]>) {
    this.list = [...initial];
    this.known = new Set(initial);
  }

  /** The names known now; the same array until one is added (resource-servers.ts keys a derived string on it). */
  names(): readonly string[] {
    return this.list;
  }

  /**
   * Has `provider` read its scope names from here from now on: the Set it
   * built from its `scopes` setting becomes the one this keeps. Throws at
   * start-up when an oidc-provider upgrade has moved it.
   */
  follow(provider: Provider): void {
    const scopes = instance(provider)?.configuration?.scopes;
    if (!(scopes instanceof Set)) {
      throw new Error('oidc-provider no longer keeps its scope names where Gatehouse updates them (src/provider/live-scopes.ts); check the oidc-provider upgrade');
    }
    // The provider's Set also holds the scopes its claims define; it is the one read from now on.
    for (const name of this.known) scopes.add(name);
    this.known = scopes as Set<string>;
    this.list = [...scopes] as string[];
    this.wrapClientValidation(provider);
  }

  /**
   * Reads the registry again unless that was done in the last REREAD_MS:
   * for discovery, whose `scopes_supported` lists what the provider knows.
   */
  async refresh(): Promise<void> {
    const now = Date.now();
    if (now - this.refreshedAt < REREAD_MS) return;
    this.refreshedAt = now;
    this.learn(await this.readRegistry());
  }

  private learn(registry: readonly string[]): void {
    for (const name of registry) this.known.add(name);
    if (this.list.length !== this.known.size) this.list = [...this.known];
  }

  /** Makes sure every name in `scope` (a space-separated string) is known, if the registry has it. */
  async cover(scope: unknown): Promise<void> {
    if (typeof scope !== 'string') return;
    const unknown = scope.split(' ').filter((name) => name && !this.known.has(name));
    const now = Date.now();
    // A name a read found missing a moment ago is not read for again: a client naming it fails as it did.
    if (unknown.every((name) => now - (this.missing.get(name) ?? -Infinity) < REREAD_MS)) return;
    this.learn(await this.readRegistry());
    if (this.missing.size > MISSING_KEPT) this.missing.clear();
    for (const name of unknown) if (!this.known.has(name)) this.missing.set(name, now);
  }

  // Client.validate is how the client service checks what an administrator
  // asks for (clients/service.ts): a scope just added must pass there too.
  private wrapClientValidation(provider: Provider): void {
    const Client = provider.Client;
    const validate = Client.validate.bind(Client);
    Client.validate = async (metadata) => {
      await this.cover((metadata as { scope?: unknown } | undefined)?.scope);
      return validate(metadata);
    };
  }
}
