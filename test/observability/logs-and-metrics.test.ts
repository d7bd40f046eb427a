import { Writable } from 'node:stream';
import { expect } from 'chai';
import * as oidc from 'openid-client';
import { basicAuth, postForm, postJson, send } from '../support/http.js';
import { authorize, discover, REDIRECT_URI, redeem } from '../support/oidc.js';
import { startTestServer, type TestServer } from '../support/server.js';

describe('logs and metrics', () => {
  let server: TestServer;
  let captured = '';
  const sink = new Writable({ write(chunk, _enc, done) { captured += String(chunk); done(); } });
  const user = { username: `kim-${Date.now()}`, password: 'never in any log line' };
  let clientId: string;
  let clientSecret: string;

  before(async () => {
    server = await startTestServer({ LOG_LEVEL: 'trace' }, { logTo: sink });
    const created = await server.services.clients.create({
      name: 'Logged RP', grantTypes: ['authorization_code', 'refresh_token', 'client_credentials', 'password'],
      redirectUris: [REDIRECT_URI], scope: ['openid', 'profile', 'read'],
    });
    clientId = created.client.clientId;
    clientSecret = created.clientSecret!;
    await server.services.accounts.create(user);
  });

  after(() => server.stop());

  it('never writes a secret, password, code, token or Authorization header to the log, at trace level', async () => {
    const secrets: string[] = [clientSecret, user.password, basicAuth(clientId, clientSecret).slice(6)];
    const config = await discover(server, clientId, clientSecret);
    const flow = await authorize(config, user, { scope: 'openid profile' });
    secrets.push(flow.callback.searchParams.get('code')!, flow.verifier);
    const tokens = await redeem(config, flow);
    secrets.push(tokens.access_token, tokens.refresh_token!, tokens.id_token!);
    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
    secrets.push(refreshed.access_token, refreshed.refresh_token!);
    const cc = await oidc.clientCredentialsGrant(config, { scope: 'read' });
    secrets.push(cc.access_token);
    const los = await postJson(`${server.url}/api/v1.1/oauth/token`, { grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret, scope: '*' });
    secrets.push(los.json.data!.access_token as string);
    const dot = await postJson(`${server.url}/auth/oauth2/token/`, { grant_type: 'password', ...user }, { authorization: basicAuth(clientId, clientSecret) });
    secrets.push(dot.json.access_token as string, dot.json.refresh_token as string);
    await send(`${server.url}/api/whoami`, { method: 'GET', headers: { authorization: `Bearer ${cc.access_token}` } });
    await postJson(`${server.url}/auth/oauth2/token/`, { grant_type: 'password', username: user.username, password: 'wrong guess here' }, { authorization: basicAuth(clientId, clientSecret) });
    await oidc.tokenRevocation(config, cc.access_token);

    const lines = captured.trim().split('\n');
    expect(lines.length, "one line per request at least").to.be.greaterThan(12);
    for (const secret of secrets) {
      expect(secret, 'a secret the flow used').to.be.a('string').with.length.above(8);
      expect(captured.includes(secret), `log contains ${secret.slice(0, 6)}…`).to.equal(false);
    }
    expect(captured).not.to.match(/authorization":/i);
  });

  it('logs one JSON line per request with request id, route, status, duration, client and grant type', async () => {
    captured = '';
    await postForm(`${server.url}/token`, { grant_type: 'client_credentials', scope: 'read' }, { authorization: basicAuth(clientId, clientSecret), 'x-request-id': 'trace-me-123' });
    const line = captured.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.req_id === 'trace-me-123');
    expect(line).to.include({ method: 'POST', path: '/token', route: 'oidc:token', status: 200, client_id: clientId, grant_type: 'client_credentials' });
    expect(line!.ms).to.be.a('number');
  });

  it('exposes Prometheus metrics: tokens by grant and dialect, errors by code, latency by route, storage per tier, keys', async () => {
    await postForm(`${server.url}/liveexpert/oauth/authorize`, { grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret });
    await postForm(`${server.url}/token`, { grant_type: 'client_credentials', scope: 'admin' }, { authorization: basicAuth(clientId, clientSecret) });
    const response = await fetch(`${server.url}/metrics`);
    expect(response.headers.get('content-type')).to.match(/text\/plain/);
    const text = await response.text();
    expect(text).to.match(/gatehouse_tokens_issued_total\{grant_type="client_credentials",dialect="le"\} [1-9]/);
    expect(text).to.match(/gatehouse_tokens_issued_total\{grant_type="client_credentials",dialect="standard"\} [1-9]/);
    expect(text).to.match(/gatehouse_tokens_issued_total\{grant_type="password",dialect="dot"\} [1-9]/);
    expect(text).to.match(/gatehouse_token_errors_total\{error="invalid_scope"\} [1-9]/);
    expect(text).to.match(/gatehouse_http_request_duration_seconds_count\{route="oidc:token",method="POST",status="2xx"\} [1-9]/);
    expect(text).to.match(/gatehouse_storage_duration_seconds_count\{tier="(durable|ephemeral)",operation="upsert"\} [1-9]/);
    expect(text, 'one active key per algorithm').to.match(/gatehouse_signing_keys\{state="active"\} 3/);
    expect(text).to.include('gatehouse_process_resident_memory_bytes');
  });
});
