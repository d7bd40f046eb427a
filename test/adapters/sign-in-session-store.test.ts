import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import type { SignInSessionRecord, SignInSessionStore } from '../../adapters/contract.js';
import { RedisSignInSessionStore } from '../../adapters/redis/sign-in-sessions-store.js';
import { SqlSignInSessionStore } from '../../adapters/sql/sign-in-sessions-store.js';
import { storeSubjects } from '../support/payload-stores.js';
import { sleep } from '../support/waiting.js';

const subjects = storeSubjects<SignInSessionStore>((db) => new SqlSignInSessionStore(db), (redis, prefix) => new RedisSignInSessionStore(redis, prefix));

/** A session of `accountId` signed in now, expiring in `seconds`. */
function session(accountId: string, seconds = 3600, extra: Partial<SignInSessionRecord> = {}): SignInSessionRecord {
  const now = Date.now();
  return {
    sessionUid: randomUUID(), accountId, signedInAt: new Date(now - 1000), ip: '203.0.113.7', userAgent: 'Test Browser/1.0',
    lastSeenAt: new Date(now - 1000), expiresAt: new Date(now + seconds * 1000), ...extra,
  };
}

for (const subject of subjects) {
  describe(`the sign-in session index (${subject.name})`, () => {
    let store: SignInSessionStore;
    let close: () => Promise<void>;

    beforeEach(async () => {
      ({ store, close } = await subject.open());
    });
    afterEach(() => close());

    it('finds an account’s sessions, most recently seen first, with where and when they signed in', async () => {
      const account = `acct-${randomUUID()}`;
      const older = session(account, 600);
      const newer = session(account, 1200);
      const someoneElse = session(`acct-${randomUUID()}`);
      for (const entry of [older, newer, someoneElse]) await store.record(entry);
      const listed = await store.listByAccount(account);
      expect(listed.map((entry) => entry.sessionUid)).to.deep.equal([newer.sessionUid, older.sessionUid]);
      expect(listed[0]).to.deep.include({ accountId: account, ip: '203.0.113.7', userAgent: 'Test Browser/1.0' });
      expect(listed[0]!.signedInAt.getTime()).to.equal(newer.signedInAt.getTime());
      expect((await store.find(older.sessionUid))?.expiresAt.getTime()).to.equal(older.expiresAt.getTime());
    });

    it('never answers an expired entry, deleted or not (lazy expiry)', async () => {
      const account = `acct-${randomUUID()}`;
      const brief = session(account, 1);
      const lasting = session(account);
      await store.record(brief);
      await store.record(lasting);
      await sleep(1300);
      expect((await store.listByAccount(account)).map((entry) => entry.sessionUid)).to.deep.equal([lasting.sessionUid]);
      expect(await store.find(brief.sessionUid)).to.equal(undefined);
      const { items } = await store.list({ limit: 1000, offset: 0 });
      expect(items.map((entry) => entry.sessionUid)).to.include(lasting.sessionUid).and.not.include(brief.sessionUid);
    });

    it('touch moves the times of a live entry, and does not bring back one removed', async () => {
      const account = `acct-${randomUUID()}`;
      const entry = session(account, 60);
      await store.record(entry);
      const seen = new Date(Date.now());
      const later = new Date(Date.now() + 7200_000);
      await store.touch(entry.sessionUid, account, seen, later);
      const touched = await store.find(entry.sessionUid);
      expect(touched?.lastSeenAt.getTime()).to.equal(seen.getTime());
      expect(touched?.expiresAt.getTime()).to.equal(later.getTime());
      await store.remove(entry.sessionUid);
      await store.touch(entry.sessionUid, account, seen, later);
      expect(await store.find(entry.sessionUid)).to.equal(undefined);
      expect(await store.listByAccount(account)).to.deep.equal([]);
    });

    it('pages every live session with the total', async () => {
      const account = `acct-${randomUUID()}`;
      const entries = [1, 2, 3, 4, 5].map((i) => session(account, 100_000 + i));
      for (const entry of entries) await store.record(entry);
      const first = await store.list({ limit: 2, offset: 0 });
      const second = await store.list({ limit: 2, offset: 2 });
      expect(first.total).to.be.at.least(5);
      expect(first.items).to.have.length(2);
      expect(first.items.map((item) => item.sessionUid)).to.deep.equal([entries[4]!.sessionUid, entries[3]!.sessionUid]);
      expect(second.items.map((item) => item.sessionUid)).to.deep.equal([entries[2]!.sessionUid, entries[1]!.sessionUid]);
    });
  });
}
