import { pbkdf2Sync, randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { expect } from 'chai';
import { usernameKey } from '../../src/accounts/usernames.js';
import { startTestServer, type TestServer } from '../support/server.js';

/**
 * Django's pbkdf2_sha256 format, at a work factor well above Gatehouse's own
 * argon2id (about 20 ms) so the two costs cannot be confused on a busy machine.
 */
function djangoPbkdf2(password: string, iterations: number): string {
  const salt = randomBytes(12).toString('hex');
  return `pbkdf2_sha256$${iterations}$${salt}$${pbkdf2Sync(password, salt, iterations, 32, 'sha256').toString('base64')}`;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

describe('A sign-in with an unknown username takes as long as one with a real account', function () {
  this.timeout(120_000);
  let server: TestServer;

  // Embedded and new, so the store holds only the accounts these tests make.
  before(async () => { server = await startTestServer({ DATABASE_URL: '', REDIS_URL: '' }); });
  after(() => server?.stop());

  async function timeWrongPassword(username: string, tries = 3): Promise<number> {
    const times: number[] = [];
    for (let i = 0; i < tries; i += 1) {
      const started = performance.now();
      expect(await server.services.accounts.authenticate(username, 'not the password at all')).to.equal(undefined);
      times.push(performance.now() - started);
    }
    return median(times);
  }

  it('where every account has an imported hash slower than Gatehouse’s own, an unknown username costs that too', async () => {
    const stamp = Date.now();
    await server.services.accounts.importAccount({ username: `imported-${stamp}`, active: true, roles: [], passwordHash: djangoPbkdf2('the imported password', 1_500_000) });
    const imported = await timeWrongPassword(`imported-${stamp}`);

    // What a check against Gatehouse's own hash costs, measured here for the comparison
    // (the account is deleted again so the store holds only the imported one).
    await server.services.accounts.create({ username: `own-${stamp}`, password: 'an own password of some length', roles: [] });
    const own = await timeWrongPassword(`own-${stamp}`);
    await server.services.accounts.delete(`own-${stamp}`);
    expect(own, `own ${own.toFixed(0)} ms against imported ${imported.toFixed(0)} ms`).to.be.below(imported / 2.5);

    for (const unknown of ['nobody', 'admin', `someone-${stamp}`, 'root@example.com', 'ВасяПупкин']) {
      // Measured beside the real account again, as the machine's load drifts.
      const [took, real] = [await timeWrongPassword(unknown), await timeWrongPassword(`imported-${stamp}`)];
      // Before: an unknown username was checked against Gatehouse's own hash, at `own`'s cost.
      expect(took, `${unknown}: ${took.toFixed(0)} ms, the real account ${real.toFixed(0)} ms, an own hash ${own.toFixed(0)} ms`).to.be.above(real * 0.5);
    }
  });

  it('an unknown username’s decoy is a real account’s hash, the same one every time, and unknown usernames spread over the accounts', async () => {
    const stamp = Date.now();
    for (let i = 0; i < 4; i += 1) {
      await server.services.accounts.create({ username: `spread-${stamp}-${i}`, password: `password number ${i} of four`, roles: [] });
    }
    const { accounts } = await server.services.accounts.list({ perPage: 1000 });
    const stored = new Set<string>();
    for (const account of accounts) stored.add((await server.services.storage.accounts.findById(account.id))!.passwordHash);

    const chosen = new Set<string>();
    for (let i = 0; i < 60; i += 1) {
      const key = usernameKey(`unknown-${stamp}-${i}`);
      const lookups = await Promise.all([0, 1].map(() => server.services.storage.accounts.findForSignIn(key, pointFor(i))));
      expect(lookups[0]!.record).to.equal(undefined);
      expect(lookups[0]!.decoyHash, 'a hash some account has').to.be.oneOf([...stored]);
      expect(lookups[1]!.decoyHash, 'the same for the same point').to.equal(lookups[0]!.decoyHash);
      chosen.add(lookups[0]!.decoyHash!);
    }
    expect(chosen.size, `${chosen.size} of ${stored.size} accounts' hashes chosen by 60 points`).to.be.at.least(Math.min(stored.size, 3));

    const known = accounts[0]!;
    const found = await server.services.storage.accounts.findForSignIn(usernameKey(known.username), pointFor(0));
    expect(found.record?.id, 'a known username answers its account').to.equal(known.id);
    expect(found.decoyHash).to.equal(undefined);
  });
});

/** Points spread evenly over the id space (ids are random UUIDs). */
function pointFor(i: number): string {
  const hex = (Math.floor((i / 60) * 0xffffffff)).toString(16).padStart(8, '0');
  return `${hex}-0000-4000-8000-000000000000`;
}
