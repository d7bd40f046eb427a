/**
 * The baseline: bare oidc-provider (the same version Gatehouse runs) with its
 * in-memory adapter and static clients, nothing of Gatehouse's. What the
 * benchmark measures Gatehouse against.
 *
 * For the code and refresh scenarios it also has a code-flow client, and
 * oidc-provider's devInteractions pages stand in for a login UI (any
 * username signs in): bench/mint.ts drives them as it drives Gatehouse's.
 * They serve only to mint fixtures and are not measured.
 */
import { generateKeyPairSync, type JsonWebKey } from 'node:crypto';
import Provider, { type Configuration } from 'oidc-provider';
import MemoryAdapter, { createMemoryAdapter } from 'oidc-provider/lib/adapters/memory_adapter.js';

const port = Number(process.env.PORT ?? 0);
const issuer = `http://localhost:${port}`;
const audience = 'urn:bench:api';
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' }) as JsonWebKey;
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' }) as JsonWebKey;
const ed = generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' }) as JsonWebKey;
// The resource a token request names decides the JWS algorithm, as in Gatehouse.
const ALGS: Record<string, 'RS256' | 'ES256' | 'EdDSA'> = { [audience]: 'RS256', 'urn:bench:es256': 'ES256', 'urn:bench:eddsa': 'EdDSA' };

const clients: Configuration['clients'] = [
  { client_id: 'bench-opaque', client_secret: 'bench-opaque-secret-0123456789abcdef', grant_types: ['client_credentials'], response_types: [], redirect_uris: [], scope: 'read write' },
  { client_id: 'bench-jwt', client_secret: 'bench-jwt-secret-0123456789abcdefghij', grant_types: ['client_credentials'], response_types: [], redirect_uris: [], scope: 'read write' },
  {
    client_id: 'bench-code', client_secret: 'bench-code-secret-0123456789abcdefghi', grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'], redirect_uris: ['http://127.0.0.1/cb'], scope: 'openid offline_access',
  },
];

// oidc-provider's default storage, except for what a run must find again:
// its LRU keeps about a thousand entries of all models, so the codes minted
// before a run, waiting while others are redeemed, would be evicted, and so
// would a refresh token whose connection waited while others rotated (seen:
// 713 of 18,796 answers in two 15 s rounds were "refresh token not found",
// each cheaper than a rotation). Codes, refresh tokens and grants share a
// Map, which evicts nothing, as Gatehouse's PostgreSQL evicts nothing before
// expiry. A Map lookup costs what an LRU lookup does; exp is still checked,
// by the model.
const memory = createMemoryAdapter();
const kept = new Map<string, unknown>();
const KEPT_MODELS = new Set(['AuthorizationCode', 'RefreshToken', 'Grant']);

const configuration: Configuration = {
  clients,
  adapter: (model) => (KEPT_MODELS.has(model) ? new MemoryAdapter(model, kept) : memory(model)),
  jwks: { keys: [{ ...rsa, kid: 'rs', alg: 'RS256', use: 'sig' }, { ...ec, kid: 'es', alg: 'ES256', use: 'sig' }, { ...ed, kid: 'ed', alg: 'EdDSA', use: 'sig' }] as never },
  scopes: ['openid', 'offline_access', 'read', 'write'],
  // Gatehouse's refresh policy, so a redeemed code yields the same three
  // tokens on both sides: a refresh token for every client allowed the
  // grant (oidc-provider's default also wants offline_access), rotated on use.
  issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
  rotateRefreshToken: true,
  features: {
    devInteractions: { enabled: true },
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
  // Codes are minted before a run and wait through it; their lifetime costs nothing per request.
  ttl: { ClientCredentials: 3600, AccessToken: 3600, AuthorizationCode: 600 } as Configuration['ttl'],
};

const provider = new Provider(issuer, configuration);
provider.listen(port, () => process.stdout.write('ready\n'));
// Exit through process.exit, so a profiled run (BENCH_PROFILE_DIR) writes its profile.
process.on('SIGTERM', () => process.exit(0));
