import { rm } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { expect } from 'chai';
import type { TokenRevocation } from '../../adapters/contract.js';
import { RelayedRevocationFeed, RevocationRelay } from '../../adapters/embedded/revocation-relay.js';
import { tempDir } from '../support/folders.js';

/** What a raw client of the socket gets back for `text`. */
function exchange(path: string, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(path);
    let answer = '';
    socket.on('data', (chunk: Buffer) => { answer += chunk.toString('utf8'); });
    socket.on('end', () => resolve(answer));
    socket.on('error', reject);
    socket.write(text);
  });
}

describe('the embedded database’s revocation relay (the CLI beside a running server)', () => {
  let dir: string;
  let path: string;
  let relay: RevocationRelay | undefined;
  let delivered: TokenRevocation[][];

  beforeEach(async () => {
    dir = await tempDir('gh-relay-');
    path = join(dir, 'revocations.sock');
    delivered = [];
  });
  afterEach(async () => {
    await relay?.close();
    relay = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  async function listen(deliver = async (revocations: TokenRevocation[]) => { delivered.push(revocations); }) {
    relay = new RevocationRelay(deliver);
    await relay.listen(path);
  }

  it('hands a guest’s revocations to the server’s feed before publish resolves', async () => {
    await listen();
    const revocations: TokenRevocation[] = [
      { kind: 'token', jti: 'a-jti', until: 2_000_000_000 },
      { kind: 'client', clientId: 'a client', issuedUntil: 1_900_000_000, until: 2_000_000_000 },
    ];
    await new RelayedRevocationFeed(path).publish(revocations);
    expect(delivered).to.deep.equal([revocations]);
  });

  it('fails the guest’s publish when no server listens or the server’s feed refuses', async () => {
    const error = await new RelayedRevocationFeed(path).publish([{ kind: 'token', jti: 'x', until: 2_000_000_000 }]).then(() => undefined, (e: Error) => e);
    expect(error?.message).to.match(/did not take the revocations/).and.match(/nothing was revoked/);
    await listen(async () => { throw new Error('feed down'); });
    const refused = await new RelayedRevocationFeed(path).publish([{ kind: 'token', jti: 'x', until: 2_000_000_000 }]).then(() => undefined, (e: Error) => e);
    expect(refused?.message).to.match(/refused/);
  });

  it('refuses what is not a list of revocations, and delivers none of it', async () => {
    await listen();
    for (const text of ['not json\n', '{"kind":"token"}\n', '[{"kind":"token","jti":7,"until":1}]\n', '[{"kind":"client","clientId":"c","until":1}]\n', '[{"kind":"other","until":1}]\n']) {
      expect(await exchange(path, text), text).to.equal('refused\n');
    }
    expect(delivered).to.deep.equal([]);
    expect(await exchange(path, '[]\n')).to.equal('ok\n');
  });

  it('removes its socket when it closes', async () => {
    await listen();
    await relay!.close();
    relay = undefined;
    const error = await exchange(path, '[]\n').then(() => undefined, (e: NodeJS.ErrnoException) => e);
    expect(error?.code).to.equal('ENOENT');
  });
});
