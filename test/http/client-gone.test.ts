import { connect } from 'node:net';
import { Writable } from 'node:stream';
import { expect } from 'chai';
import { basicAuth } from '../support/http.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { sleep } from '../support/waiting.js';

type Line = Record<string, unknown>;

/**
 * Sends the headers of a POST announcing a 1000-byte body, then a few bytes
 * of it, and hangs up 0.3 s later, as a client that gives up (or loses its
 * network) mid-request does.
 */
async function hangUpMidBody(url: string, path: string, headers: Record<string, string>, partialBody: string): Promise<void> {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  socket.on('error', () => { /* the server may reset its side: either way the request is abandoned */ });
  const head = Object.entries({ host: `${hostname}:${port}`, 'content-length': '1000', ...headers }).map(([name, value]) => `${name}: ${value}\r\n`).join('');
  socket.write(`POST ${path} HTTP/1.1\r\n${head}\r\n${partialBody}`);
  await sleep(300);
  socket.destroy();
}

/** The security review's finding 2: a client that goes away is its own outcome, not a server error. */
describe('a client that hangs up mid-request', () => {
  let server: TestServer;
  let captured = '';
  const sink = new Writable({ write(chunk, _enc, done) { captured += String(chunk); done(); } });
  const lines = (): Line[] => captured.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Line);
  let clientId: string;
  let clientSecret: string;
  let stderr = '';
  const writeStderr = process.stderr.write.bind(process.stderr);

  before(async () => {
    server = await startTestServer({ LOG_LEVEL: 'trace' }, { logTo: sink });
    const created = await server.services.clients.create({ name: 'Hang-up RP', grantTypes: ['client_credentials', 'password'], scope: ['read'] });
    clientId = created.client.clientId;
    clientSecret = created.clientSecret!;
    // What Koa's default error listener would print lands here (it writes with console.error).
    process.stderr.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      stderr += String(chunk);
      return (writeStderr as (...args: unknown[]) => boolean)(chunk, ...rest);
    }) as typeof process.stderr.write;
  });

  after(async () => {
    process.stderr.write = writeStderr;
    await server.stop();
  });

  const form = { 'content-type': 'application/x-www-form-urlencoded' };
  // `id`: the request id sent; the throttle reads the body before oidc-provider names the route, so that line has none.
  const cases: Array<{ title: string; id: string; path: string; headers: () => Record<string, string>; body: () => string }> = [
    { title: 'POST /token, client credentials in the body (read by the client-auth throttle)', id: 'throttle', path: '/token', headers: () => form, body: () => `grant_type=client_credentials&client_id=${clientId}&cli` },
    { title: 'POST /token with HTTP Basic (read by oidc-provider)', id: 'provider', path: '/token', headers: () => ({ ...form, authorization: basicAuth(clientId, clientSecret) }), body: () => 'grant_type=client_cre' },
    { title: 'POST /token/introspection with HTTP Basic', id: 'introspection', path: '/token/introspection', headers: () => ({ ...form, authorization: basicAuth(clientId, clientSecret) }), body: () => 'token=abc' },
    { title: 'POST /auth/oauth2/token/ (the DOT dialect reads it)', id: 'dot', path: '/auth/oauth2/token/', headers: () => ({ 'content-type': 'application/json', authorization: basicAuth(clientId, clientSecret) }), body: () => '{"grant_type": "pass' },
  ];

  for (const { title, id, path, headers, body } of cases) {
    it(`${title}: logged at info as gone (499), with no error line, no stack, nothing on stderr`, async () => {
      captured = '';
      stderr = '';
      await hangUpMidBody(server.url, path, { ...headers(), 'x-request-id': `gone-${id}` }, body());
      let line: Line | undefined;
      for (let i = 0; i < 50 && !line; i++) {
        await sleep(20);
        line = lines().find((l) => l.msg === 'request' && l.req_id === `gone-${id}`);
      }
      // Koa's connection-level error (the parser's, when the socket closes short of the body) comes just after.
      await sleep(200);
      expect(line, 'a request line').to.include({ status: 499, path });
      const errors = lines().filter((l) => Number(l.level) >= 40);
      expect(errors, JSON.stringify(errors)).to.have.length(0);
      const gone = lines().filter((l) => l.req_id === `gone-${id}` && String(l.msg).includes('went away'));
      expect(gone, 'an info line saying the client went away').to.not.have.length(0);
      for (const l of gone) {
        expect(l.level).to.equal(30);
        expect(l).to.not.have.property('err');
        expect(l).to.not.have.property('stack');
      }
      expect(stderr, 'Koa’s default error listener printed a stack').to.equal('');
    });
  }

  it('none of them counts as a server error in /metrics', async () => {
    const text = await (await fetch(`${server.url}/metrics`)).text();
    expect(text).to.not.match(/gatehouse_http_request_duration_seconds_count\{[^}]*status="5xx"\}/);
    expect(text).to.match(/gatehouse_http_request_duration_seconds_count\{route="oidc:introspection",method="POST",status="4xx"\} [1-9]/);
  });
});
