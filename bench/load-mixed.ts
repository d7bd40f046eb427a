/**
 * The load process of `npm run bench:capacity`'s mixed run: autocannon
 * against every node at once (one instance per node, in this process), each
 * connection cycling through the flows of a real deployment —
 * client_credentials, introspection, the LOS and LE dialects, a refresh
 * rotation (its own chain) and a code redemption (pre-minted codes, one
 * each; once they run out, that step asks for client_credentials instead).
 * Reads a MixedLoad as JSON from the file named by its argument and prints
 * the summed result, in the shape of `autocannon -j`, on stdout.
 */
import { readFile } from 'node:fs/promises';
import autocannon, { type RawRequest, type RequestStep, type Result } from 'autocannon';

export interface MixedLoad {
  nodes: string[];
  connectionsPerNode: number;
  duration: number;
  /** client_secret_basic of the client every step uses (client_credentials, refresh, code). */
  authorization: string;
  clientId: string;
  clientSecret: string;
  /** An opaque token to introspect. */
  token: string;
  /** One per connection, across all nodes. */
  refreshTokens: string[];
  /** Bodies of code redemption requests. */
  codeBodies: string[];
}

const spec = JSON.parse(await readFile(process.argv[2]!, 'utf8')) as MixedLoad;
const form = { 'content-type': 'application/x-www-form-urlencoded' };
const basic = { ...form, authorization: spec.authorization };
const clientCredentials = 'grant_type=client_credentials&scope=read';
let refreshSeed = 0;
let nextCode = 0;
let problem: string | undefined;

function steps(): RequestStep[] {
  let token = spec.refreshTokens[refreshSeed++] ?? '';
  const post = (path: string, headers: Record<string, string>, body: string): RequestStep => ({ method: 'POST', path, headers, body });
  return [
    post('/token', basic, clientCredentials),
    post('/token/introspection', basic, `token=${spec.token}`),
    post('/api/v1.1/oauth/token', { 'content-type': 'application/json' },
      JSON.stringify({ grant_type: 'client_credentials', client_id: spec.clientId, client_secret: spec.clientSecret, scope: '*' })),
    post('/liveexpert/oauth/authorize', form, new URLSearchParams({ grant_type: 'client_credentials', client_id: spec.clientId, client_secret: spec.clientSecret }).toString()),
    {
      ...post('/token', basic, ''),
      setupRequest: (request: RawRequest) => ({ ...request, body: `grant_type=refresh_token&refresh_token=${encodeURIComponent(token)}` }),
      onResponse(status: number, body: string) {
        if (status !== 200) return;
        const rotated = (JSON.parse(body) as { refresh_token?: string }).refresh_token;
        if (!rotated) problem ??= 'a refresh response returned no refresh_token';
        else token = rotated;
      },
    },
    { ...post('/token', basic, ''), setupRequest: (request: RawRequest) => ({ ...request, body: spec.codeBodies[nextCode++] ?? clientCredentials }) },
  ];
}

const results = await Promise.all(spec.nodes.map((url) => autocannon({
  url,
  connections: spec.connectionsPerNode,
  duration: spec.duration,
  setupClient(client) { client.setRequests(steps()); },
})));
const sum = (pick: (result: Result) => number) => results.reduce((total, result) => total + pick(result), 0);
process.stdout.write(`${JSON.stringify({
  requests: { average: sum((r) => r.requests.average), total: sum((r) => r.requests.total) },
  latency: { p50: Math.max(...results.map((r) => r.latency.p50)), p99: Math.max(...results.map((r) => r.latency.p99)) },
  errors: sum((r) => r.errors),
  non2xx: sum((r) => r.non2xx),
  codesRedeemed: Math.min(nextCode, spec.codeBodies.length),
})}\n`);
if (problem) {
  process.stderr.write(`load-mixed: ${problem}\n`);
  process.exitCode = 1;
}
