import { expect } from 'chai';
import * as oidc from 'openid-client';
import { discover } from '../support/oidc.js';
import { send } from '../support/http.js';
import { startTestServer, type TestServer } from '../support/server.js';

describe('DPoP (RFC 9449): sender-constrained tokens at the resource check', () => {
  let server: TestServer;
  const configs: Record<string, oidc.Configuration> = {};

  before(async () => {
    server = await startTestServer();
    for (const format of ['opaque', 'jwt'] as const) {
      const { client, clientSecret } = await server.services.clients.create({ name: `dpop ${format}`, grantTypes: ['client_credentials'], scope: ['read'], tokenFormat: format });
      configs[format] = await discover(server, client.clientId, clientSecret);
    }
  });

  after(() => server.stop());

  for (const format of ['opaque', 'jwt'] as const) {
    it(`accepts a DPoP-bound ${format} token only with a fresh proof from the bound key`, async () => {
      const config = configs[format]!;
      expect(config.serverMetadata().dpop_signing_alg_values_supported).to.include('ES256');
      const DPoP = oidc.getDPoPHandle(config, await oidc.randomDPoPKeyPair());
      const tokens = await oidc.clientCredentialsGrant(config, { scope: 'read' }, { DPoP });
      expect(tokens.token_type.toLowerCase()).to.equal('dpop');
      // htu names the issuer's URL, whatever address the request reached (RFC 9449 §4.3).
      const whoami = new URL(`${server.issuer}/api/whoami`);

      const ok = await oidc.fetchProtectedResource(config, tokens.access_token, whoami, 'GET', undefined, undefined, { DPoP });
      expect(ok.status).to.equal(200);
      expect(await ok.json()).to.include({ token_type: 'DPoP', scope: 'read' });

      // As a plain bearer token: refused.
      const bearer = await send(whoami.href, { method: 'GET', headers: { authorization: `Bearer ${tokens.access_token}` } });
      expect(bearer.status).to.equal(401);
      expect(bearer.headers.get('www-authenticate')).to.match(/^DPoP /);

      // A proof from another key, and a replayed proof: refused.
      const stranger = oidc.getDPoPHandle(config, await oidc.randomDPoPKeyPair());
      const refused = await oidc.fetchProtectedResource(config, tokens.access_token, whoami, 'GET', undefined, undefined, { DPoP: stranger })
        .then((r) => r.status, (error: { response?: Response }) => error.response?.status);
      expect(refused).to.equal(401);
      let proof = '';
      const capture: oidc.CustomFetch = async (url, options) => {
        proof = new Headers(options.headers as HeadersInit).get('dpop') ?? '';
        return fetch(url, options as RequestInit);
      };
      config[oidc.customFetch] = capture;
      expect((await oidc.fetchProtectedResource(config, tokens.access_token, whoami, 'GET', undefined, undefined, { DPoP })).status).to.equal(200);
      delete config[oidc.customFetch];
      const replay = await send(whoami.href, { method: 'GET', headers: { authorization: `DPoP ${tokens.access_token}`, dpop: proof } });
      expect(replay.status).to.equal(401);
      expect(replay.json.error_description).to.match(/already used/);
    });
  }
});
