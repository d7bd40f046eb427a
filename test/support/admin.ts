import { basicAuth, postForm } from './http.js';
import type { TestServer } from './server.js';

/** Headers carrying an `admin`-scoped client_credentials token, for the admin APIs (Northstar, Lux adjust/ and query/). */
export async function adminApiHeaders(server: TestServer, name: string): Promise<Record<string, string>> {
  const m2m = await server.services.clients.create({ name, grantTypes: ['client_credentials'], scope: ['admin'] });
  const token = await postForm(`${server.url}/token`, { grant_type: 'client_credentials', scope: 'admin' }, { authorization: basicAuth(m2m.client.clientId, m2m.clientSecret!) });
  if (typeof token.json.access_token !== 'string') throw new Error(`no admin token: ${token.text}`);
  return { authorization: `Bearer ${token.json.access_token}` };
}
