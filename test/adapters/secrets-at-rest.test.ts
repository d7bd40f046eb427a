import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { SecretsAtRest, SecretsKeyError } from '../../adapters/secrets-at-rest.js';
import { SqlClientsStore } from '../../adapters/sql/clients-store.js';
import type { SqlDatabase } from '../../adapters/sql/database.js';
import { SqlKeysStore } from '../../adapters/sql/keys-store.js';
import { migrate } from '../../adapters/sql/migrate.js';
import { decodeSecretsKey } from '../../src/config/secrets-key.js';
import { sqlDatabasesUnderTest } from '../support/sql-databases.js';

describe('SecretsAtRest', () => {
  const secrets = new SecretsAtRest(randomBytes(32));
  const other = new SecretsAtRest(randomBytes(32));
  const secret = randomBytes(32).toString('base64url');

  it('verifies a client secret against its keyed hash, and nothing else: not the hash itself, not under another key', () => {
    const stored = secrets.hashClientSecret(secret);
    expect(stored).to.match(/^hmac-sha256\.[0-9a-f]{12}\.[A-Za-z0-9_-]{43}$/).and.not.include(secret);
    expect(secrets.verifyClientSecret(secret, stored)).to.equal(true);
    for (const wrong of [`${secret}x`, secret.slice(1), '', stored]) expect(secrets.verifyClientSecret(wrong, stored), wrong).to.equal(false);
    expect(other.verifyClientSecret(secret, stored), 'another pepper').to.equal(false);
    expect(secrets.verifyClientSecret(secret, 'not a hash'), 'a malformed stored value').to.equal(false);
  });

  it('remembers a secret it has verified only for that hash: not for another client, not after the secret changes', () => {
    const first = randomBytes(32).toString('base64url');
    const second = randomBytes(32).toString('base64url');
    const firstStored = secrets.hashClientSecret(first);
    const secondStored = secrets.hashClientSecret(second);
    for (let i = 0; i < 3; i += 1) expect(secrets.verifyClientSecret(first, firstStored)).to.equal(true);
    expect(secrets.verifyClientSecret(first, secondStored), "one client's secret against another's hash").to.equal(false);
    expect(secrets.verifyClientSecret(second, firstStored), "another client's secret against this hash").to.equal(false);
    expect(secrets.verifyClientSecret(`${first.slice(0, -1)}A` === first ? `${first.slice(0, -1)}B` : `${first.slice(0, -1)}A`, firstStored), 'same length, one character off').to.equal(false);
    const rotated = randomBytes(32).toString('base64url');
    expect(secrets.verifyClientSecret(first, secrets.hashClientSecret(rotated)), 'the old secret after rotation').to.equal(false);
    expect(secrets.verifyClientSecret(first, firstStored), 'still right for its own hash').to.equal(true);
  });

  it('opens a sealed value only with the same key, for the same row, unaltered', () => {
    const sealed = secrets.seal(secret, 'client:a');
    expect(sealed).not.to.include(secret);
    expect(secrets.seal(secret, 'client:a'), 'a fresh nonce each time').not.to.equal(sealed);
    expect(secrets.open(sealed, 'client:a')).to.equal(secret);
    expect(() => secrets.open(sealed, 'client:b')).to.throw(SecretsKeyError, /altered or moved from another row/);
    const parts = sealed.split('.');
    const ciphertext = Buffer.from(parts[3]!, 'base64url');
    ciphertext[0] = ciphertext[0]! ^ 1;
    parts[3] = ciphertext.toString('base64url');
    expect(() => secrets.open(parts.join('.'), 'client:a')).to.throw(SecretsKeyError, /altered/);
    expect(() => other.open(sealed, 'client:a')).to.throw(SecretsKeyError, /^SECRETS_KEY does not match/);
    expect(() => other.assertKeyIds([sealed.split('.')[1]])).to.throw(SecretsKeyError, /^SECRETS_KEY does not match/);
    secrets.assertKeyIds([sealed.split('.')[1], secrets.hashClientSecret(secret).split('.')[1]]);
  });
});

const databases = sqlDatabasesUnderTest();

for (const database of databases) {
  describe(`client and key stores at rest: ${database.name}`, () => {
    // A shared PostgreSQL already holds rows sealed under the suite's key.
    const secrets = new SecretsAtRest(process.env.SECRETS_KEY ? decodeSecretsKey(process.env.SECRETS_KEY) : randomBytes(32));
    let db: SqlDatabase;
    let close: () => Promise<void>;
    let clients: SqlClientsStore;

    before(async () => {
      ({ db, close } = await database.open());
      await migrate(db);
      clients = new SqlClientsStore(db, secrets);
    });
    after(() => close());

    const row = async (clientId: string) => (await db.query<{ metadata: Record<string, unknown>; secret_hash: string | null; secret_sealed: string | null }>(
      'SELECT metadata, secret_hash, secret_sealed FROM clients WHERE client_id = $1', [clientId],
    )).rows[0]!;

    it('stores a client secret only as a hash and a sealed copy; a write carrying the hash back keeps the secret', async () => {
      const clientId = `at-rest-${randomUUID()}`;
      const secret = randomBytes(32).toString('base64url');
      const inserted = await clients.insert({ client_id: clientId, client_name: 'one', client_secret: secret });
      const stored = await row(clientId);
      expect(stored.metadata).not.to.have.property('client_secret');
      expect(JSON.stringify(stored)).not.to.include(secret);
      expect(inserted.metadata.client_secret, 'oidc-provider is given the hash').to.equal(stored.secret_hash);
      expect(await clients.revealSecret(clientId)).to.equal(secret);

      // What ClientService.update and RFC 7592 updates do: the metadata as read, changed.
      await clients.replace({ ...inserted.metadata, client_name: 'renamed' });
      await clients.replace({ ...inserted.metadata, client_name: 'renamed again' });
      expect(await row(clientId)).to.include({ secret_hash: stored.secret_hash, secret_sealed: stored.secret_sealed });
      expect(await clients.revealSecret(clientId)).to.equal(secret);
      expect((await clients.find(clientId))!.metadata).to.include({ client_name: 'renamed again', client_secret: stored.secret_hash });
      await clients.delete(clientId);
    });

    it('refuses a sealed secret copied onto another client’s row', async () => {
      const [a, b] = [`at-rest-a-${randomUUID()}`, `at-rest-b-${randomUUID()}`];
      await clients.insert({ client_id: a, client_secret: randomBytes(32).toString('base64url') });
      await clients.insert({ client_id: b, client_secret: randomBytes(32).toString('base64url') });
      await db.query('UPDATE clients SET secret_sealed = (SELECT secret_sealed FROM clients WHERE client_id = $1) WHERE client_id = $2', [a, b]);
      await clients.replace((await clients.find(b))!.metadata); // drops b from the cache
      let failure: unknown;
      await clients.revealSecret(b).catch((error: unknown) => { failure = error; });
      expect(failure).to.be.instanceOf(SecretsKeyError);
      // Damage is found where it is read; the start-up check (key ids only) still passes.
      await clients.checkKey();
      await db.query('DELETE FROM clients WHERE client_id = ANY($1)', [[a, b]]);
    });

    it('keeps only the public JWK of a signing key readable, and opens the private one only when asked', async () => {
      const keys = new SqlKeysStore(db, secrets);
      const jwk = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' }) as Record<string, string>;
      const kid = `at-rest-${randomUUID()}`;
      await keys.insert({ kid, use: 'sig', alg: 'RS256', material: { ...jwk, kid } });
      const stored = (await db.query<{ material: Record<string, unknown>; sealed: string }>('SELECT material, sealed FROM keys WHERE kid = $1', [kid])).rows[0]!;
      expect(stored.material).to.deep.equal({ kty: 'RSA', n: jwk.n, e: jwk.e, kid });
      expect(stored.sealed).not.to.include(jwk.d);
      expect((await keys.list('sig')).find((key) => key.kid === kid)!.material).not.to.have.property('d');
      expect((await keys.list('sig', { withSecrets: true })).find((key) => key.kid === kid)!.material).to.include({ d: jwk.d, p: jwk.p });
      await db.query('DELETE FROM keys WHERE kid = $1', [kid]);
    });
  });
}
