import type Provider from 'oidc-provider';

type ProviderClient = NonNullable<Awaited<ReturnType<Provider['Client']['find']>>>;

/**
 * oidc-provider's Client.find reads a client's metadata through the adapter,
 * then digests them (JSON, then SHA-256) to find the Client it built for the
 * same metadata before — on every token request, and again for each lookup a
 * dialect makes. Gatehouse's client store hands out one metadata object per
 * client until it reloads the row (at most every second), so the Client built
 * for that object is kept with it: the digest is paid once per reload, not
 * once per lookup. A reload is a new object, so a changed client is rebuilt.
 * `beforeBuild` runs before each (re)build, with the metadata it reads.
 */
export function keepClientsWithTheirMetadata(
  provider: Provider,
  findMetadata: (clientId: string) => Promise<object | undefined>,
  beforeBuild: (metadata: object) => Promise<void> = async () => {},
): void {
  const Client = provider.Client;
  const find = Client.find.bind(Client);
  const built = new WeakMap<object, ProviderClient>();
  Client.find = async (clientId: string) => {
    const metadata = typeof clientId === 'string' && clientId ? await findMetadata(clientId) : undefined;
    const known = metadata && built.get(metadata);
    if (known) return known;
    if (metadata) await beforeBuild(metadata);
    const client = await find(clientId);
    if (metadata && client) built.set(metadata, client);
    return client;
  };
}
