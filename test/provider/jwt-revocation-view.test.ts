import { expect } from 'chai';
import type { AdapterPayload, PayloadStore, RevocationFeed, RevocationWatch, TokenRevocation } from '../../adapters/contract.js';
import { UNRECORDED_JWT_MAX_LIFETIME } from '../../adapters/contract.js';
import { JwtAccessTokenRegistry } from '../../src/provider/jwt-access-tokens.js';
import { JwtRevocationView } from '../../src/provider/jwt-revocation-view.js';

const nowSeconds = () => Math.floor(Date.now() / 1000);

/** A feed this test drives: what it delivers, and from when it is complete. */
class ScriptedFeed implements RevocationFeed {
  deliver: (revocation: TokenRevocation) => void = () => {};
  complete: number | undefined = 0;
  watches = 0;
  private completed: Array<() => void> = [];

  constructor(readonly persistent = false) {}

  async publish(revocations: TokenRevocation[]): Promise<void> {
    for (const revocation of revocations) this.deliver(revocation);
  }

  /** Makes the feed complete from `from`, as a finished seed does. */
  completeFrom(from: number): void {
    this.complete = from;
    for (const resolve of this.completed.splice(0)) resolve();
  }

  watch(onRevoked: (revocation: TokenRevocation) => void): RevocationWatch {
    this.watches += 1;
    this.deliver = onRevoked;
    return {
      completeFrom: () => this.complete,
      whenComplete: () => (this.complete === undefined ? new Promise((resolve) => { this.completed.push(resolve); }) : Promise.resolve()),
    };
  }
}

/** Only what the registry uses of its store: `find`, `upsert` and `destroy`, counted. */
function recordStore(records: Map<string, AdapterPayload>): PayloadStore & { finds: number; upserts: string[] } {
  const store = {
    finds: 0,
    upserts: [] as string[],
    async find(_model: string, id: string) { store.finds += 1; return records.get(id); },
    async upsert(_model: string, id: string, payload: AdapterPayload) { store.upserts.push(id); records.set(id, payload); },
    async destroy(_model: string, id: string) { records.delete(id); },
  };
  return store as unknown as PayloadStore & { finds: number; upserts: string[] };
}

describe('the JWT revocation view', () => {
  // Taken as each test starts, not as the file loads: in a long suite run the
  // file loads many minutes before its tests, and "live" entries would lapse.
  let iat = nowSeconds();
  beforeEach(() => { iat = nowSeconds(); });
  const claims = (jti: string, clientId = 'client-a', issuedAt = iat) => ({ jti, client_id: clientId, iat: issuedAt });

  it('answers from memory: revoked jtis, and a client’s tokens issued up to its revocation', async () => {
    const feed = new ScriptedFeed();
    const view = new JwtRevocationView(feed);
    expect(view.revoked(claims('j1'))).to.equal(false);
    await feed.publish([
      { kind: 'token', jti: 'j1', until: iat + 60 },
      { kind: 'client', clientId: 'client-b', issuedUntil: iat, until: iat + 60 },
    ]);
    expect(view.revoked(claims('j1'))).to.equal(true);
    expect(view.revoked(claims('j2'))).to.equal(false);
    expect(view.revoked(claims('j3', 'client-b')), 'issued before its client was deleted').to.equal(true);
    expect(view.revoked(claims('j4', 'client-b', iat + 1)), 'a client re-registered under the same id later').to.equal(false);
    expect(feed.watches, 'one subscription').to.equal(1);
  });

  it('cannot tell while the feed is incomplete, nor for tokens older than what it covers', async () => {
    const feed = new ScriptedFeed();
    const view = new JwtRevocationView(feed);
    feed.complete = undefined;
    expect(view.revoked(claims('j1'))).to.equal(undefined);
    feed.complete = iat;
    expect(view.revoked(claims('j1', 'client-a', iat - 1))).to.equal(undefined);
    expect(view.revoked(claims('j1', 'client-a', iat))).to.equal(false);
    expect(view.revoked({ jti: 'j1', client_id: 'client-a' }), 'no iat').to.equal(undefined);
  });

  it('forgets lapsed entries as it grows, and keeps the ones still in force', async () => {
    const feed = new ScriptedFeed();
    const view = new JwtRevocationView(feed);
    view.revoked(claims('start watching'));
    const lapsed = Array.from({ length: 6000 }, (_, i): TokenRevocation => ({ kind: 'token', jti: `old-${i}`, until: iat - 10 }));
    const live = Array.from({ length: 6000 }, (_, i): TokenRevocation => ({ kind: 'token', jti: `new-${i}`, until: iat + 600 }));
    await feed.publish([...lapsed, ...live]);
    const size = (view as unknown as { tokens: Map<string, number> }).tokens.size;
    expect(size).to.be.at.most(6000 + 1);
    expect(view.revoked(claims('new-5999'))).to.equal(true);
    expect(view.revoked(claims('new-0'))).to.equal(true);
  });
});

describe('the JWT access-token registry’s revocation check', () => {
  const iat = nowSeconds();

  it('asks no store while the view can tell', async () => {
    const feed = new ScriptedFeed();
    const store = recordStore(new Map());
    const registry = new JwtAccessTokenRegistry(store, feed);
    expect(await registry.isRevoked({ jti: 'j1', client_id: 'c', iat })).to.equal(false);
    await feed.publish([{ kind: 'token', jti: 'j1', until: iat + 60 }]);
    expect(await registry.isRevoked({ jti: 'j1', client_id: 'c', iat })).to.equal(true);
    expect(store.finds).to.equal(0);
  });

  it('falls back to the token’s record while the view is not complete: a record removed is a token refused', async () => {
    const feed = new ScriptedFeed();
    feed.complete = undefined;
    const records = new Map<string, AdapterPayload>([['kept', { clientId: 'c' }]]);
    const store = recordStore(records);
    const registry = new JwtAccessTokenRegistry(store, feed);
    expect(await registry.isRevoked({ jti: 'kept', client_id: 'c', iat })).to.equal(false);
    // Revoked while this process was not listening: no entry, but no record either.
    expect(await registry.isRevoked({ jti: 'removed', client_id: 'c', iat })).to.equal(true);
    expect(store.finds).to.equal(2);
  });

  it('falls back to the record without a view (PostgreSQL without Redis)', async () => {
    const store = recordStore(new Map([['kept', { clientId: 'c' }]]));
    const registry = new JwtAccessTokenRegistry(store);
    expect(await registry.isRevoked({ jti: 'kept', client_id: 'c', iat })).to.equal(false);
    expect(await registry.isRevoked({ jti: 'gone', client_id: 'c', iat })).to.equal(true);
    expect(await registry.isRevoked({ client_id: 'c', iat }), 'no jti').to.equal(true);
  });

  it('records no client_credentials token once a persistent feed covers it, and records every other', async () => {
    const feed = new ScriptedFeed(true);
    feed.complete = undefined;
    const store = recordStore(new Map());
    const registry = new JwtAccessTokenRegistry(store, feed);
    const exp = iat + 3600;
    await registry.record('early', { clientId: 'c' }, iat, exp);
    feed.completeFrom(iat);
    await registry.record('unrecorded', { clientId: 'c' }, iat, exp);
    await registry.record('of a grant', { clientId: 'c', grantId: 'g' }, iat, exp);
    await registry.record('long-lived', { clientId: 'c' }, iat, iat + UNRECORDED_JWT_MAX_LIFETIME + 1);
    await registry.record('older than the feed', { clientId: 'c' }, iat - 1, exp);
    expect(store.upserts).to.deep.equal(['early', 'of a grant', 'long-lived', 'older than the feed']);

    // The embedded database's feed is this process's alone: a restart forgets it.
    const local = recordStore(new Map());
    await new JwtAccessTokenRegistry(local, new ScriptedFeed(false)).record('kept', { clientId: 'c' }, iat, exp);
    expect(local.upserts).to.deep.equal(['kept']);
  });

  it('revokes an unrecorded token through the feed (RFC 7009)', async () => {
    const feed = new ScriptedFeed(true);
    const registry = new JwtAccessTokenRegistry(recordStore(new Map()), feed);
    const claims = { jti: 'unrecorded', client_id: 'c', iat };
    await registry.record('unrecorded', { clientId: 'c' }, iat, iat + 60);
    expect(await registry.isRevoked(claims)).to.equal(false);
    await registry.revoke('unrecorded', iat + 60);
    expect(await registry.isRevoked(claims)).to.equal(true);
  });

  it('waits for a starting persistent view before it refuses a token without a record', async () => {
    const feed = new ScriptedFeed(true);
    feed.complete = undefined;
    const registry = new JwtAccessTokenRegistry(recordStore(new Map()), feed);
    const live = registry.isRevoked({ jti: 'live', client_id: 'c', iat });
    const revoked = registry.isRevoked({ jti: 'revoked', client_id: 'c', iat });
    await new Promise((resolve) => setTimeout(resolve, 20));
    await feed.publish([{ kind: 'token', jti: 'revoked', until: iat + 60 }]);
    feed.completeFrom(iat - 60);
    expect(await live).to.equal(false);
    expect(await revoked).to.equal(true);
    expect(await registry.isRevoked({ jti: 'issued before the feed began', client_id: 'c', iat: iat - 61 })).to.equal(true);
  });
});
