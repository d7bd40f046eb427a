import { randomUUID } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { expect } from 'chai';
import type { PayloadStore } from '../../adapters/contract.js';
import { Redis } from 'ioredis';
import { openEmbedded } from '../../adapters/embedded/pglite.js';
import { RedisPayloadStore } from '../../adapters/redis/payload-store.js';
import { migrate } from '../../adapters/sql/migrate.js';
import { openPostgres } from '../../adapters/sql/postgres.js';
import { payloadStoreSubjects } from '../support/payload-stores.js';
import { embeddedDataDir } from '../support/embedded-data.js';
import { skipBecause } from '../support/server.js';

const subjects = payloadStoreSubjects();

for (const subject of subjects) {
  describe(`payload store contract: ${subject.name}`, () => {
    let store: PayloadStore;
    let close: () => Promise<void>;

    before(async () => { ({ store, close } = await subject.open()); });
    after(() => close());

    it('stores and finds a payload; an unknown id is undefined', async () => {
      const id = randomUUID();
      await store.upsert('AccessToken', id, { accountId: 'a1', scope: 'read' }, 60);
      expect(await store.find('AccessToken', id)).to.deep.equal({ accountId: 'a1', scope: 'read' });
      expect(await store.find('AccessToken', randomUUID())).to.equal(undefined);
      expect(await store.find('RefreshToken', id), 'models do not share ids').to.equal(undefined);
    });

    it('revokes every artifact of a client but the models it is told to keep', async () => {
      const clientId = randomUUID();
      const [token, code, registration] = [randomUUID(), randomUUID(), randomUUID()];
      await store.upsert('AccessToken', token, { clientId }, 60);
      await store.upsert('AuthorizationCode', code, { clientId }, 60);
      await store.upsert('RegistrationAccessToken', registration, { clientId }, 60);
      await store.revokeByClientId(clientId, { keep: ['RegistrationAccessToken'] });
      expect(await store.find('AccessToken', token)).to.equal(undefined);
      expect(await store.find('AuthorizationCode', code)).to.equal(undefined);
      expect(await store.find('RegistrationAccessToken', registration)).to.deep.equal({ clientId });
      await store.revokeByClientId(clientId);
      expect(await store.find('RegistrationAccessToken', registration), 'and without keep, everything').to.equal(undefined);
    });

    it('forgets a payload once it expires', async () => {
      const id = randomUUID();
      await store.upsert('AuthorizationCode', id, { x: 1 }, 1);
      expect(await store.find('AuthorizationCode', id)).to.not.equal(undefined);
      await new Promise((resolve) => setTimeout(resolve, 1100));
      expect(await store.find('AuthorizationCode', id)).to.equal(undefined);
    });

    it('lets exactly one of ten concurrent consumers consume an artifact, and reports it consumed', async () => {
      const id = randomUUID();
      await store.upsert('AuthorizationCode', id, { grantId: randomUUID() }, 60);
      const results = await Promise.all(Array.from({ length: 10 }, () => store.consume('AuthorizationCode', id)));
      expect(results.filter(Boolean)).to.have.length(1);
      const found = await store.find('AuthorizationCode', id);
      expect(found?.consumed).to.be.a('number');
      // Re-saving does not clear the mark.
      await store.upsert('AuthorizationCode', id, { grantId: 'g' }, 60);
      expect((await store.find('AuthorizationCode', id))?.consumed).to.be.a('number');
    });

    it('bulk import: upsertMany stores each entry as upsert would, findMany answers as find, keeping a consumed mark', async () => {
      const grantId = randomUUID();
      const ids = Array.from({ length: 3 }, () => randomUUID());
      await store.upsertMany!('RefreshToken', ids.map((id, i) => ({ id, payload: { grantId, clientId: 'c1', n: i }, expiresIn: 60 })));
      for (const [i, id] of ids.entries()) expect(await store.find('RefreshToken', id)).to.deep.equal({ grantId, clientId: 'c1', n: i });
      expect(await store.consume('RefreshToken', ids[0]!)).to.equal(true);
      await store.upsertMany!('RefreshToken', [{ id: ids[0]!, payload: { grantId, clientId: 'c1', n: 9 }, expiresIn: 60 }]);
      const found = await store.findMany!('RefreshToken', [...ids, randomUUID()]);
      expect([...found.keys()].sort()).to.deep.equal([...ids].sort());
      expect(found.get(ids[0]!)).to.include({ n: 9 }).and.to.have.property('consumed').that.is.a('number');
      expect(found.get(ids[1]!)).to.deep.equal({ grantId, clientId: 'c1', n: 1 });
      // Indexed like upsert's entries: revoking the grant removes them all.
      await store.revokeByGrantId('RefreshToken', grantId);
      expect((await store.findMany!('RefreshToken', ids)).size).to.equal(0);
    });

    it('does not consume what does not exist', async () => {
      expect(await store.consume('AuthorizationCode', randomUUID())).to.equal(false);
    });

    it('consumeAndUpsert, where offered: of ten concurrent exchanges of one artifact exactly one stores its replacement, indexed as upsert would', async function () {
      if (!store.consumeAndUpsert) skipBecause(this, 'this store consumes and stores in two steps (a Redis Cluster keeps the two keys in different slots)');
      const grantId = randomUUID();
      const code = randomUUID();
      await store.upsert('AuthorizationCode', code, { grantId, clientId: 'c1' }, 60);
      const replacements = Array.from({ length: 10 }, () => randomUUID());
      const won = await Promise.all(replacements.map((id) => store.consumeAndUpsert!({ model: 'AuthorizationCode', id: code }, 'AccessToken', id, { grantId, clientId: 'c1' }, 60)));
      expect(won.filter(Boolean)).to.have.length(1);
      const stored = await Promise.all(replacements.map((id) => store.find('AccessToken', id)));
      expect(stored.map((payload, i) => Boolean(payload) === won[i])).to.deep.equal(won.map(() => true));
      expect((await store.find('AuthorizationCode', code))?.consumed).to.be.a('number');
      // Nothing is stored in exchange for what does not exist.
      const orphan = randomUUID();
      expect(await store.consumeAndUpsert!({ model: 'AuthorizationCode', id: randomUUID() }, 'AccessToken', orphan, { grantId, clientId: 'c1' }, 60)).to.equal(false);
      expect(await store.find('AccessToken', orphan)).to.equal(undefined);
      // The replacement is in its grant's index: revoking the grant removes it.
      await store.revokeByGrantId('AccessToken', grantId);
      expect(await store.find('AccessToken', replacements[won.indexOf(true)]!)).to.equal(undefined);
    });

    it('finds by uid and by user code', async () => {
      const id = randomUUID();
      const uid = randomUUID();
      const userCode = `UC-${randomUUID()}`;
      await store.upsert('Session', id, { uid }, 60);
      await store.upsert('DeviceCode', id, { userCode }, 60);
      expect((await store.findByUid('Session', uid))?.uid).to.equal(uid);
      expect((await store.findByUserCode('DeviceCode', userCode))?.userCode).to.equal(userCode);
      expect(await store.findByUid('Session', randomUUID())).to.equal(undefined);
    });

    it('revokes every artifact of a grant and nothing else', async () => {
      const grantId = randomUUID();
      const [a, b, other] = [randomUUID(), randomUUID(), randomUUID()];
      await store.upsert('AccessToken', a, { grantId }, 60);
      await store.upsert('AccessToken', b, { grantId }, 60);
      await store.upsert('AccessToken', other, { grantId: randomUUID() }, 60);
      await store.revokeByGrantId('AccessToken', grantId);
      expect(await store.find('AccessToken', a)).to.equal(undefined);
      expect(await store.find('AccessToken', b)).to.equal(undefined);
      expect(await store.find('AccessToken', other)).to.not.equal(undefined);
    });

    it('destroys one artifact', async () => {
      const id = randomUUID();
      await store.upsert('Interaction', id, { a: 1 }, 60);
      await store.destroy('Interaction', id);
      expect(await store.find('Interaction', id)).to.equal(undefined);
    });

    it('lists when the live artifacts of one model expire, by id, grant or client', async () => {
      const [grantId, clientId] = [randomUUID(), randomUUID()];
      const [short, long, otherModel, unbounded] = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
      const now = Math.floor(Date.now() / 1000);
      await store.upsert('JwtAccessToken', short, { grantId, clientId }, 60);
      await store.upsert('JwtAccessToken', long, { clientId }, 600);
      await store.upsert('AccessToken', otherModel, { grantId, clientId }, 60);
      await store.upsert('JwtAccessToken', unbounded, { clientId });
      const byGrant = await store.expiries('JwtAccessToken', { grantId });
      expect([...byGrant.keys()]).to.deep.equal([short]);
      expect(byGrant.get(short)).to.be.within(now + 60, now + 62);
      const byClient = await store.expiries('JwtAccessToken', { clientId });
      expect([...byClient.keys()].sort()).to.deep.equal([short, long, unbounded].sort());
      expect(byClient.get(long)).to.be.within(now + 600, now + 602);
      expect(byClient.get(unbounded), 'stored without a lifetime').to.equal(undefined);
      expect([...(await store.expiries('JwtAccessToken', { id: long })).keys()]).to.deep.equal([long]);
      await store.destroy('JwtAccessToken', long);
      expect((await store.expiries('JwtAccessToken', { id: long })).size, 'gone').to.equal(0);
      expect((await store.expiries('JwtAccessToken', { grantId: randomUUID() })).size).to.equal(0);
    });
  });
}

describe('payload store: Redis indexes', function () {
  let redis: Redis;
  let store: RedisPayloadStore;
  const prefix = `gatehouse-test-${randomUUID()}:`;

  before(function () {
    if (!process.env.REDIS_URL) this.skip();
    redis = new Redis(process.env.REDIS_URL);
    store = new RedisPayloadStore(redis, prefix);
  });
  after(() => redis?.disconnect());

  it('keeps a client’s index as large as its live artifacts, however many it was issued, and no longer-lived than the last', async () => {
    const clientId = randomUUID();
    for (let i = 0; i < 50; i += 1) await store.upsert('AccessToken', randomUUID(), { clientId }, 1);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const live = randomUUID();
    await store.upsert('AccessToken', live, { clientId }, 60);
    const index = `${prefix}client-index:${clientId}`;
    expect(await redis.zrange(index, '0', '-1'), 'the 50 expired ones are gone').to.deep.equal([`${prefix}AccessToken:${live}`]);
    expect(await redis.pttl(index)).to.be.within(58_000, 60_000);
    await store.upsert('Session', randomUUID(), { clientId, uid: randomUUID() });
    expect(await redis.pttl(index), 'a member without a lifetime: the index stays').to.equal(-1);
  });

  it('leaves what is written while a revocation runs to the next one: nothing escapes both', async () => {
    const clientId = randomUUID();
    const [before, during] = [randomUUID(), randomUUID()];
    await store.upsert('AccessToken', before, { clientId }, 60);
    // Another process's write lands after this revocation read the client's index and before it acts on it.
    const racing = new Proxy(redis, {
      get(target, property) {
        const value: unknown = Reflect.get(target, property, target);
        if (typeof value !== 'function') return value;
        if (property !== 'zrange') return value.bind(target);
        return async (...args: unknown[]) => {
          const read: unknown = await value.apply(target, args);
          await store.upsert('AccessToken', during, { clientId }, 60);
          return read;
        };
      },
    });
    await new RedisPayloadStore(racing, prefix).revokeByClientId(clientId);
    expect(await store.find('AccessToken', before)).to.equal(undefined);
    expect(await store.find('AccessToken', during), 'written during the revocation').to.not.equal(undefined);
    await store.revokeByClientId(clientId);
    expect(await store.find('AccessToken', during), 'found by the next revocation').to.equal(undefined);
  });

  it('revokes what an earlier version indexed in a plain set, as well as the current index', async () => {
    const clientId = randomUUID();
    const [old, current] = [randomUUID(), randomUUID()];
    await redis.multi().hset(`${prefix}AccessToken:${old}`, 'payload', JSON.stringify({ clientId })).sadd(`${prefix}client:${clientId}`, `${prefix}AccessToken:${old}`).exec();
    await store.upsert('AccessToken', current, { clientId }, 60);
    expect([...(await store.expiries('AccessToken', { clientId })).keys()].sort()).to.deep.equal([old, current].sort());
    await store.revokeByClientId(clientId);
    expect(await store.find('AccessToken', old)).to.equal(undefined);
    expect(await store.find('AccessToken', current)).to.equal(undefined);
    expect(await redis.exists(`${prefix}client:${clientId}`, `${prefix}client-index:${clientId}`)).to.equal(0);
  });
});

describe('migrations', () => {
  it('are idempotent and safe when several processes run them at once', async function () {
    if (!process.env.DATABASE_URL) this.skip(); // PGlite is single-process; this is about a shared server
    const dbs = Array.from({ length: 4 }, () => openPostgres(process.env.DATABASE_URL!, { max: 1 }));
    try {
      const results = await Promise.all(dbs.map((db) => migrate(db)));
      expect(results.flat(), 'already migrated by the suite, or applied exactly once').to.satisfy(
        (ids: string[]) => new Set(ids).size === ids.length,
      );
      expect(await migrate(dbs[0]!)).to.deep.equal([]);
    } finally {
      await Promise.all(dbs.map((db) => db.close()));
    }
  });
});

describe('embedded database ownership', () => {
  it('refuses a second owner with a message that says what to do, and lets a guest in through the socket', async () => {
    const dir = await embeddedDataDir();
    const owner = await openEmbedded(dir, 'owner');
    try {
      await migrate(owner);
      let message = '';
      try { await openEmbedded(dir, 'owner'); } catch (error) { message = (error as Error).message; }
      expect(message).to.match(/in use by process \d+/).and.match(/DATABASE_URL/);

      await (owner as { share(): Promise<boolean> }).share();
      const guest = await openEmbedded(dir, 'guest');
      expect(guest.kind).to.equal('embedded-shared');
      const { rows } = await guest.query<{ n: number }>('SELECT count(*)::int AS n FROM scopes');
      expect(rows[0]?.n).to.be.greaterThan(0);
      await guest.close();
    } finally {
      await owner.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
