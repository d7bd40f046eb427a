import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { decodeProtectedHeader } from 'jose';
import { basicAuth, postForm } from './http.js';
import { authorize, discover, redeem } from './oidc.js';
import type { GatehouseProcess } from './process.js';

const run = promisify(execFile);

/** The built CLI as an operator runs it beside running servers, with `env` over the test environment; its --json output. */
export async function cliJson<T>(env: Record<string, string>, ...args: string[]): Promise<T> {
  const { stdout } = await run(process.execPath, ['dist/src/cli/main.js', ...args, '--json'], { env: { ...process.env, ...env } });
  return JSON.parse(stdout) as T;
}

export interface CreatedClient { client_id: string; client_secret: string }

/** The kids a node publishes at /jwks. */
export async function publishedKids(node: Pick<GatehouseProcess, 'url'>): Promise<string[]> {
  const jwks = await (await fetch(`${node.url}/jwks`)).json() as { keys: Array<{ kid: string }> };
  return jwks.keys.map((key) => key.kid);
}

/** A client_credentials JWT access token from `node`, and the kid it was signed with. */
export async function mintJwt(node: Pick<GatehouseProcess, 'url'>, client: CreatedClient, scope = 'read'): Promise<{ token: string; kid: string }> {
  const reply = await postForm(`${node.url}/token`, { grant_type: 'client_credentials', scope }, { authorization: basicAuth(client.client_id, client.client_secret) });
  if (reply.status !== 200) throw new Error(`token endpoint answered ${reply.status}: ${reply.text}`);
  const token = reply.json.access_token as string;
  return { token, kid: decodeProtectedHeader(token).kid! };
}

/** An ID token from a whole authorization code flow on `node` (sign-in, consent, redemption by openid-client), and its kid. */
export async function idTokenKid(node: Pick<GatehouseProcess, 'issuer'>, client: CreatedClient, user: { username: string; password: string }): Promise<string> {
  const config = await discover(node, client.client_id, client.client_secret);
  const tokens = await redeem(config, await authorize(config, user, { scope: 'openid' }));
  return decodeProtectedHeader(tokens.id_token!).kid!;
}
