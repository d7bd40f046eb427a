/**
 * The baseline: bare oidc-provider (the same version Gatehouse runs) with its
 * in-memory adapter and static clients, nothing of Gatehouse's. What the
 * benchmark measures Gatehouse against.
 */
import { generateKeyPairSync, type JsonWebKey } from 'node:crypto';
import Provider, { type Configuration } from 'oidc-provider';

const port = Number(process.env.PORT ?? 0);
const issuer = `http://localhost:${port}`;
const audience = 'urn:bench:api';
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' }) as JsonWebKey;
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' }) as JsonWebKey;
const ed = generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' }) as JsonWebKey;
// The resource a token request names decides the JWS algorithm, as in Gatehouse.
const ALGS: Record<string, 'RS256' | 'ES256' | 'EdDSA'> = { [audience]: 'RS256', 'urn:bench:es256': 'ES256', 'urn:bench:eddsa': 'EdDSA' };

const clients = [
  { client_id: 'bench-opaque', client_secret: 'bench-opaque-secret-0123456789abcdef', grant_types: ['client_credentials'], response_types: [], redirect_uris: [], scope: 'read write' },
  { client_id: 'bench-jwt', client_secret: 'bench-jwt-secret-0123456789abcdefghij', grant_types: ['client_credentials'], response_types: [], redirect_uris: [], scope: 'read write' },
];

const configuration: Configuration = {
  clients,
  jwks: { keys: [{ ...rsa, kid: 'rs', alg: 'RS256', use: 'sig' }, { ...ec, kid: 'es', alg: 'ES256', use: 'sig' }, { ...ed, kid: 'ed', alg: 'EdDSA', use: 'sig' }] as never },
  scopes: ['read', 'write'],
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: { enabled: true, allowedPolicy: async () => true },
    resourceIndicators: {
      enabled: true,
      defaultResource: async (_ctx, client) => (client.clientId === 'bench-jwt' ? audience : undefined),
      useGrantedResource: async () => true,
      getResourceServerInfo: async (_ctx, indicator) => ({
        scope: 'read write', audience: indicator, accessTokenTTL: 3600, accessTokenFormat: 'jwt', jwt: { sign: { alg: ALGS[indicator] ?? 'RS256' } },
      }),
    },
  } as Configuration['features'],
  ttl: { ClientCredentials: 3600, AccessToken: 3600 } as Configuration['ttl'],
};

const provider = new Provider(issuer, configuration);
provider.listen(port, () => process.stdout.write('ready\n'));
