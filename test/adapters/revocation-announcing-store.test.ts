import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { type PayloadStore, type RevocationFeed, type RevocationWatch, type TokenRevocation, UNRECORDED_JWT_MAX_LIFETIME } from '../../adapters/contract.js';
import { announcingRevocations } from '../../adapters/revocation-announcing-store.js';
import { JWT_ACCESS_TOKEN_MODEL } from '../../adapters/tiers.js';
import { payloadStoreSubjects } from '../support/payload-stores.js';

const subjects = payloadStoreSubjects();

/** A feed that records what is published (and can be made to fail). */
class RecordingFeed implements RevocationFeed {
  published: TokenRevocation[] = [];
  failing = false;

  constructor(readonly persistent = false) {}

  async publish(revocations: TokenRevocation[]): Promise<void> {
    if (this.failing) throw new Error('feed unreachable');
    this.published.push(...revocations);
  }

  watch(): RevocationWatch {
    return { completeFrom: () => undefined, whenComplete: () => new Promise(() => {}) };
  }
}

const JWT = JWT_ACCESS_TOKEN_MODEL;
const nowSeconds = () => Math.floor(Date.now() / 1000);

for (const subject of subjects) {
  describe(`the ephemeral tier announces every JWT record a revocation removes: ${subject.name}`, () => {
    let plain: PayloadStore;
    let close: () => Promise<void>;
    let feed: RecordingFeed;
    let store: PayloadStore;

    before(async () => { ({ store: plain, close } = await subject.open()); });
    after(() => close());
    beforeEach(() => {
      feed = new RecordingFeed();
      store = announcingRevocations(plain, feed);
    });

    it('announces one token destroyed by its jti (RFC 7009), until it would have expired', async () => {
      const jti = randomUUID();
      await store.upsert(JWT, jti, { clientId: 'c' }, 300);
      await store.destroy(JWT, jti);
      expect(feed.published).to.have.length(1);
      expect(feed.published[0]).to.include({ kind: 'token', jti });
      expect(feed.published[0]!.until).to.be.within(nowSeconds() + 299, nowSeconds() + 302);
      expect(await store.find(JWT, jti)).to.equal(undefined);
    });

    it('expands a grant’s revocation to its tokens, whichever model the revocation is for', async () => {
      const grantId = randomUUID();
      const [a, b, bystander] = [randomUUID(), randomUUID(), randomUUID()];
      await store.upsert(JWT, a, { clientId: 'c', grantId }, 60);
      await store.upsert(JWT, b, { clientId: 'c', grantId }, 600);
      await store.upsert(JWT, bystander, { clientId: 'c', grantId: randomUUID() }, 60);
      // oidc-provider revokes a grant model by model; the first may be any of them.
      await store.revokeByGrantId('AuthorizationCode', grantId);
      await store.revokeByGrantId(JWT, grantId);
      const jtis = new Set(feed.published.map((revocation) => revocation.kind === 'token' && revocation.jti));
      expect([...jtis].sort()).to.deep.equal([a, b].sort());
      expect(await store.find(JWT, a)).to.equal(undefined);
      expect(await store.find(JWT, bystander)).to.not.equal(undefined);
    });

    it('announces a client’s revocation once, lasting until its last token expires', async () => {
      const clientId = randomUUID();
      await store.upsert(JWT, randomUUID(), { clientId }, 60);
      await store.upsert(JWT, randomUUID(), { clientId }, 900);
      await store.revokeByClientId(clientId);
      expect(feed.published).to.have.length(1);
      const [revocation] = feed.published as Array<Extract<TokenRevocation, { kind: 'client' }>>;
      expect(revocation).to.include({ kind: 'client', clientId });
      expect(revocation!.issuedUntil).to.be.within(nowSeconds() - 1, nowSeconds());
      expect(revocation!.until).to.be.within(nowSeconds() + 899, nowSeconds() + 902);
    });

    it('with a persistent feed, announces a client’s revocation even without records, lasting as long as an unrecorded token may', async () => {
      store = announcingRevocations(plain, feed = new RecordingFeed(true));
      const clientId = randomUUID();
      await store.revokeByClientId(clientId);
      expect(feed.published).to.have.length(1);
      expect(feed.published[0]).to.include({ kind: 'client', clientId });
      expect(feed.published[0]!.until).to.be.within(nowSeconds() + UNRECORDED_JWT_MAX_LIFETIME - 1, nowSeconds() + UNRECORDED_JWT_MAX_LIFETIME + 1);
    });

    it('announces nothing when there is nothing to remove, and nothing for other models', async () => {
      await store.revokeByClientId(randomUUID());
      await store.revokeByGrantId('AccessToken', randomUUID());
      await store.destroy(JWT, randomUUID());
      const id = randomUUID();
      await store.upsert('AccessToken', id, { clientId: 'c' }, 60);
      await store.destroy('AccessToken', id);
      expect(feed.published).to.deep.equal([]);
    });

    it('keeps the records when the announcement fails, so the revocation fails and can be retried', async () => {
      const grantId = randomUUID();
      const jti = randomUUID();
      await store.upsert(JWT, jti, { clientId: 'c', grantId }, 60);
      feed.failing = true;
      let failed = false;
      try { await store.revokeByGrantId(JWT, grantId); } catch { failed = true; }
      expect(failed).to.equal(true);
      expect(await store.find(JWT, jti), 'still recorded: the lookup still says live, consistently').to.not.equal(undefined);
      feed.failing = false;
      await store.revokeByGrantId(JWT, grantId);
      expect(await store.find(JWT, jti)).to.equal(undefined);
      expect(feed.published).to.have.length(1);
    });
  });
}
