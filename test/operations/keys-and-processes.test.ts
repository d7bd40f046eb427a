import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { get } from 'node:http';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'chai';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { ValidationError } from '../../src/errors/app-error.js';
import { basicAuth, postForm, send } from '../support/http.js';
import { freePort, restartableEnv, startTestServer, storageMode, type TestServer } from '../support/server.js';
import { embeddedDataDir } from '../support/embedded-data.js';
import { SERVER_ARGUMENTS } from '../support/process.js';

async function ready(url: string, child: ChildProcess): Promise<void> {
  for (let i = 0; i < 150; i += 1) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}`);
    try { if ((await fetch(`${url}/readyz`)).ok) return; } catch { /* not yet */ }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error('server did not become ready');
}

/** One GET on a new TCP connection, so the cluster can hand it to any worker. */
function freshConnectionGet(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    get(url, { agent: false }, (res) => {
      let body = '';
      res.on('data', (chunk) => { body += String(chunk); });
      res.on('end', () => resolve(body));
    }).on('error', reject);
  });
}

function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    else child.once('exit', (code) => resolve(code));
  });
}

describe('key lifecycle', () => {
  it('keeps tokens signed before a rotation valid, serves the active key at /v2/key, and drops a retired key', async () => {
    const { env: restartable, dataDir } = await restartableEnv();
    // A rotated key signs at once here; the activation delay has its own test (key-rotation-live.test.ts).
    const env = { ...restartable, SIGNING_KEY_ACTIVATION_DELAY: '0' };
    let server: TestServer = await startTestServer(env);
    try {
      const jwtClient = await server.services.clients.create({ name: 'key test', grantTypes: ['client_credentials'], scope: ['read', 'admin'], tokenFormat: 'jwt' });
      const auth = { authorization: basicAuth(jwtClient.client.clientId, jwtClient.clientSecret!) };
      const mint = async (s: TestServer) => (await postForm(`${s.url}/token`, { grant_type: 'client_credentials', scope: 'read admin' }, auth)).json.access_token as string;
      const before = await mint(server);
      const oldKid = decodeProtectedHeader(before).kid!;

      const rotated = await server.services.keys.rotate();
      let refused: unknown;
      try { await server.services.keys.retire(oldKid); } catch (error) { refused = error; }
      expect(refused, 'too early to retire: tokens it signed may still be valid').to.be.instanceOf(ValidationError);
      try { await server.services.keys.retire(rotated.kid); } catch (error) { refused = error; }
      expect((refused as ValidationError).message).to.match(/active RS256 signing key/);

      await server.stop();
      server = await startTestServer(env);
      const after = await mint(server);
      expect(decodeProtectedHeader(after).kid).to.equal(rotated.kid);
      const jwks = createRemoteJWKSet(new URL(`${server.url}/jwks`));
      await jwtVerify(before, jwks, { issuer: server.issuer });
      await jwtVerify(after, jwks, { issuer: server.issuer });
      expect((await send(`${server.url}/api/whoami`, { method: 'GET', headers: { authorization: `Bearer ${before}` } })).status).to.equal(200);
      const key = await send(`${server.url}/v2/key`, { method: 'GET', headers: { authorization: `Bearer ${after}` } });
      const { kid: publishedKid } = (await server.services.keys.publicKeyPem(rotated.kid));
      expect(publishedKid).to.equal(rotated.kid);
      expect(key.json.public_key).to.equal((await server.services.keys.publicKeyPem(rotated.kid)).pem);

      await server.services.keys.retire(oldKid, { force: true });
      await server.stop();
      server = await startTestServer(env);
      const published = (await (await fetch(`${server.url}/jwks`)).json()) as { keys: Array<{ kid: string }> };
      expect(published.keys.map((k) => k.kid)).to.include(rotated.kid).and.not.include(oldKid);
      let failed = false;
      try { await jwtVerify(before, createRemoteJWKSet(new URL(`${server.url}/jwks`)), { issuer: server.issuer }); } catch { failed = true; }
      expect(failed, 'a retired key’s token no longer verifies').to.equal(true);
      expect((await send(`${server.url}/api/whoami`, { method: 'GET', headers: { authorization: `Bearer ${before}` } })).status).to.equal(401);
      expect((await server.services.keys.list()).find((k) => k.kid === oldKid)).to.include({ retired: true, active: false });
    } finally {
      await server.stop();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

describe('processes', () => {
  it('shuts down on SIGTERM with exit code 0, releasing the embedded database', async function () {
    if (storageMode.postgres) this.skip(); // the same path is exercised with PostgreSQL by the workers test
    const dataDir = await embeddedDataDir();
    const port = await freePort();
    const child = spawn(process.execPath, SERVER_ARGUMENTS, {
      env: { ...process.env, PORT: String(port), GATEHOUSE_DATA_DIR: dataDir, LOG_LEVEL: 'warn' }, stdio: ['ignore', 'ignore', 'inherit'],
    });
    try {
      await ready(`http://127.0.0.1:${port}`, child);
      expect(existsSync(join(dataDir, 'gatehouse.lock'))).to.equal(true);
      child.kill('SIGTERM');
      expect(await exited(child)).to.equal(0);
      expect(existsSync(join(dataDir, 'gatehouse.lock'))).to.equal(false);
    } finally {
      child.kill('SIGKILL');
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('runs WEB_CONCURRENCY workers over the same PostgreSQL and Redis, and stops them all on SIGTERM', async function () {
    if (!storageMode.postgres) this.skip(); // the embedded database belongs to one process
    this.timeout(60_000);
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const child = spawn(process.execPath, SERVER_ARGUMENTS, {
      env: { ...process.env, PORT: String(port), ISSUER: `http://localhost:${port}`, WEB_CONCURRENCY: '2', LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    const setup = await startTestServer(); // only to create a client in the shared database
    try {
      const created = await setup.services.clients.create({ name: 'cluster', grantTypes: ['client_credentials'], scope: ['read'] });
      await ready(url, child);
      await new Promise((resolve) => setTimeout(resolve, 1500)); // both workers listening
      const pids = new Set<number>();
      const tokens: string[] = [];
      const auth = { authorization: basicAuth(created.client.clientId, created.clientSecret!) };
      for (let i = 0; i < 30; i += 1) {
        pids.add((JSON.parse(await freshConnectionGet(`${url}/healthz`)) as { pid: number }).pid);
        const reply = await postForm(`${url}/token`, { grant_type: 'client_credentials', scope: 'read' }, auth);
        tokens.push(reply.json.access_token as string);
      }
      expect(pids.size, 'requests were served by two workers').to.equal(2);
      // Issue 17: one scrape covers the whole server, whichever worker answers it.
      for (let i = 0; i < 6; i += 1) {
        const text = await freshConnectionGet(`${url}/metrics`);
        const issued = /^gatehouse_tokens_issued_total\{grant_type="client_credentials",dialect="standard"\} (\d+)$/m.exec(text);
        expect(Number(issued?.[1]), `scrape ${i}`).to.equal(30);
        expect(text, 'shared signing keys are counted once, not once per worker').to.match(/^gatehouse_signing_keys\{state="active"\} 3$/m);
      }
      for (const token of tokens) {
        const info = await postForm(`${url}/token/introspection`, { token }, auth);
        expect(info.json.active).to.equal(true);
      }
      child.kill('SIGTERM');
      expect(await exited(child)).to.equal(0);
    } finally {
      child.kill('SIGKILL');
      await setup.stop();
    }
  });
});
