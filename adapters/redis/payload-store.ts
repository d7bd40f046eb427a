import type { RedisClient } from './connect.js';
import type { AdapterPayload, PayloadStore } from '../contract.js';

// Sets `consumed` only if the artifact exists and is not yet consumed, in one
// server-side step, so of concurrent redemptions exactly one wins. HSETNX on
// its own would resurrect an expired key without a TTL.
const CONSUME = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
return redis.call('HSETNX', KEYS[1], 'consumed', ARGV[1])
`;

// One round trip and one command per write: the hash with its TTL, each
// index it belongs to, and the lookup keys (uid, user code) that name it.
// An index is a sorted set of artifact keys scored by when each expires
// (epoch ms), so every write first drops the members that have expired: a
// client issuing tokens around the clock keeps an index as large as its live
// tokens, not one that grows for ever. The index itself lives as long as its
// longest-lived member.
// K (keys): the artifact, then A[5] indexes, then lookup keys.
// A (arguments): payload, TTL in seconds (0: none), now (epoch ms), expiry
// (epoch ms or +inf), number of indexes, the artifact's id.
const UPSERT_FUNCTION = `
local function upsert(K, A)
  local ttl = tonumber(A[2])
  redis.call('HSET', K[1], 'payload', A[1])
  if ttl > 0 then redis.call('EXPIRE', K[1], ttl) end
  local indexes = tonumber(A[5])
  for i = 2, 1 + indexes do
    redis.call('ZREMRANGEBYSCORE', K[i], '-inf', '(' .. A[3])
    redis.call('ZADD', K[i], A[4], K[1])
    local last = redis.call('ZRANGE', K[i], -1, -1, 'WITHSCORES')[2]
    if last == 'inf' then redis.call('PERSIST', K[i]) else redis.call('PEXPIREAT', K[i], last) end
  end
  for i = 2 + indexes, #K do
    if ttl > 0 then redis.call('SET', K[i], A[6], 'EX', ttl) else redis.call('SET', K[i], A[6]) end
  end
  return 1
end
`;
const UPSERT = `${UPSERT_FUNCTION}
return upsert(KEYS, ARGV)
`;

// CONSUME, then UPSERT only if it won (single Redis only: one script may not
// span a cluster's slots). KEYS: the consumed artifact, then UPSERT's keys;
// ARGV: the consumption time, then UPSERT's arguments.
const CONSUME_AND_UPSERT = `${UPSERT_FUNCTION}
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if redis.call('HSETNX', KEYS[1], 'consumed', ARGV[1]) == 0 then return 0 end
return upsert({ unpack(KEYS, 2) }, { unpack(ARGV, 2) })
`;

// Redis Cluster: one script call may touch only one slot, and an artifact
// (found by its id alone), its grant's and client's indexes, and its uid
// and user-code lookups belong to different ones. So in a cluster the write
// is one single-key step per key, and the first step is the artifact (see
// upsertInCluster). These scripts are UPSERT's parts.
const WRITE_ARTIFACT = `
redis.call('HSET', KEYS[1], 'payload', ARGV[1])
if tonumber(ARGV[2]) > 0 then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
return 1
`;
const ADD_TO_INDEX = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1])
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')[2]
if last == 'inf' then redis.call('PERSIST', KEYS[1]) else redis.call('PEXPIREAT', KEYS[1], last) end
return 1
`;

// How long a revoked grant's mark stays (cluster only): far longer than any
// write that was under way when the grant was revoked can take (commands
// time out after 2 s).
const REVOKED_GRANT_MARK_SECONDS = 600;

type ScriptedRedis = RedisClient & {
  gatehouseUpsert(numKeys: number, ...args: Array<string | number>): Promise<number>;
  gatehouseWriteArtifact(key: string, ...args: Array<string | number>): Promise<number>;
  gatehouseAddToIndex(key: string, ...args: Array<string | number>): Promise<number>;
  gatehouseConsume(key: string, consumedAt: number): Promise<number>;
  gatehouseConsumeAndUpsert(numKeys: number, ...args: Array<string | number>): Promise<number>;
};

/**
 * Ephemeral oidc-provider artifacts in Redis. Each artifact is a hash
 * (`payload`, `consumed`) whose TTL is the artifact's lifetime; a consumed
 * artifact keeps its TTL, so reuse stays detectable until it would have
 * expired. Secondary keys index artifacts by grant, uid and user code.
 */
export class RedisPayloadStore implements PayloadStore {
  private readonly redis: ScriptedRedis;

  constructor(redis: RedisClient, private readonly prefix = 'gatehouse:') {
    // defineCommand sends EVALSHA, loading the script on first use.
    if (!('gatehouseUpsert' in redis)) {
      redis.defineCommand('gatehouseUpsert', { lua: UPSERT });
      redis.defineCommand('gatehouseWriteArtifact', { lua: WRITE_ARTIFACT, numberOfKeys: 1 });
      redis.defineCommand('gatehouseAddToIndex', { lua: ADD_TO_INDEX, numberOfKeys: 1 });
      // A code or device code is consumed on every redemption: EVAL would send the script's text each time.
      redis.defineCommand('gatehouseConsume', { lua: CONSUME, numberOfKeys: 1 });
      redis.defineCommand('gatehouseConsumeAndUpsert', { lua: CONSUME_AND_UPSERT });
    }
    this.redis = redis as ScriptedRedis;
    // A code redemption spends the code and stores its access token in one
    // command (the token exists only if this request spent the code). A
    // cluster keeps them in different slots: there the adapter consumes and
    // then upserts, as without this method.
    if (this.inCluster) this.consumeAndUpsert = undefined;
  }

  consumeAndUpsert?: (consumed: { model: string; id: string }, model: string, id: string, payload: AdapterPayload, expiresIn?: number) => Promise<boolean> =
    async (consumed, model, id, payload, expiresIn) => {
      const [numKeys, ...rest] = this.upsertArguments(model, id, payload, expiresIn, Date.now());
      const keys = rest.slice(0, numKeys);
      const args = rest.slice(numKeys);
      const won = await this.redis.gatehouseConsumeAndUpsert(1 + numKeys, this.key(consumed.model, consumed.id), ...keys, Math.floor(Date.now() / 1000), ...args);
      return won === 1;
    };

  private get inCluster(): boolean {
    return this.redis.isCluster;
  }

  /** Cluster only: set when a grant is revoked, so that a write racing the revocation undoes itself. */
  private revokedGrantKey(grantId: string): string {
    return `${this.prefix}revoked-grant:${grantId}`;
  }

  /**
   * Deletes keys: in one command on a single Redis (atomic), one command per
   * key in a cluster, where they live in different slots.
   */
  private async deleteKeys(keys: string[]): Promise<void> {
    if (!keys.length) return;
    if (this.inCluster) await Promise.all(keys.map((key) => this.redis.del(key)));
    else await this.redis.del(...keys);
  }

  private key(model: string, id: string): string {
    return `${this.prefix}${model}:${id}`;
  }

  /** The index of a grant's or a client's artifacts (a sorted set, see UPSERT). */
  private indexKey(owner: 'grant' | 'client', id: string): string {
    return `${this.prefix}${owner}-index:${id}`;
  }

  /**
   * Earlier versions kept each index as a plain set under this name; it goes
   * once its members have expired, and until then revocation reads it too.
   */
  private legacyIndexKey(owner: 'grant' | 'client', id: string): string {
    return `${this.prefix}${owner}:${id}`;
  }

  /** Every artifact key indexed under a grant or a client, and the index keys themselves. */
  private async indexed(owner: 'grant' | 'client', id: string): Promise<{ members: string[]; indexKeys: string[] }> {
    const indexKeys = [this.indexKey(owner, id), this.legacyIndexKey(owner, id)];
    // Two commands sent together (auto-pipelining), each on its own key, so a cluster may hold them apart.
    const [current, legacy] = await Promise.all([this.redis.zrange(indexKeys[0]!, '0', '-1'), this.redis.smembers(indexKeys[1]!)]);
    return { members: [...new Set([...current, ...legacy])], indexKeys };
  }

  async upsert(model: string, id: string, payload: AdapterPayload, expiresIn?: number): Promise<void> {
    if (this.inCluster) {
      const { key, indexKeys, lookupKeys } = this.keysOf(model, id, payload);
      await this.upsertInCluster(key, indexKeys, lookupKeys, JSON.stringify(payload), expiresIn ?? 0, Date.now(), id, payload.grantId);
      return;
    }
    await this.redis.gatehouseUpsert(...this.upsertArguments(model, id, payload, expiresIn, Date.now()));
  }

  /** The same script as upsert, once per entry, in one pipeline (one round trip); in a cluster, entry by entry. */
  async upsertMany(model: string, entries: Array<{ id: string; payload: AdapterPayload; expiresIn?: number }>): Promise<void> {
    if (!entries.length) return;
    if (this.inCluster) {
      await Promise.all(entries.map((entry) => this.upsert(model, entry.id, entry.payload, entry.expiresIn)));
      return;
    }
    const now = Date.now();
    const pipeline = this.redis.pipeline() as unknown as { gatehouseUpsert(...args: Array<string | number>): void; exec(): Promise<Array<[Error | null, unknown]> | null> };
    for (const entry of entries) pipeline.gatehouseUpsert(...this.upsertArguments(model, entry.id, entry.payload, entry.expiresIn, now));
    for (const [error] of (await pipeline.exec()) ?? []) if (error) throw error;
  }

  async findMany(model: string, ids: string[]): Promise<Map<string, AdapterPayload>> {
    const found = new Map<string, AdapterPayload>();
    if (!ids.length) return found;
    if (this.inCluster) {
      // Keys in different slots: one command each (ioredis sends them together).
      const payloads = await Promise.all(ids.map((id) => this.find(model, id)));
      payloads.forEach((payload, i) => { if (payload) found.set(ids[i]!, payload); });
      return found;
    }
    const pipeline = this.redis.pipeline();
    for (const id of ids) pipeline.hgetall(this.key(model, id));
    const replies = (await pipeline.exec()) ?? [];
    replies.forEach(([error, hash], i) => {
      if (error) throw error;
      const payload = this.parse(hash as Record<string, string>);
      if (payload) found.set(ids[i]!, payload);
    });
    return found;
  }

  /** The keys an artifact is written under: itself, its grant's and client's indexes, its uid or user-code lookups. */
  private keysOf(model: string, id: string, payload: AdapterPayload): { key: string; indexKeys: string[]; lookupKeys: string[] } {
    const indexKeys = [payload.grantId && this.indexKey('grant', payload.grantId), payload.clientId && this.indexKey('client', payload.clientId)]
      .filter((k): k is string => Boolean(k));
    // Sessions, interactions and device codes are also looked up by uid or user code.
    const lookupKeys = ([['uid', payload.uid], ['userCode', payload.userCode]] as const)
      .filter(([, value]) => value)
      .map(([index, value]) => `${this.prefix}${model}:${index}:${value}`);
    return { key: this.key(model, id), indexKeys, lookupKeys };
  }

  private upsertArguments(model: string, id: string, payload: AdapterPayload, expiresIn: number | undefined, now: number): [number, ...Array<string | number>] {
    const { key, indexKeys, lookupKeys } = this.keysOf(model, id, payload);
    const ttl = expiresIn ?? 0;
    return [
      1 + indexKeys.length + lookupKeys.length, key, ...indexKeys, ...lookupKeys,
      JSON.stringify(payload), ttl, now, ttl > 0 ? now + ttl * 1000 : '+inf', indexKeys.length, id,
    ];
  }

  /**
   * UPSERT, one key at a time: the artifact, its indexes, its lookups. A
   * grant revoked meanwhile could miss an artifact indexed after it read the
   * index; so revocation marks the grant first (revokeByGrantId), and a
   * write that sees the mark afterwards deletes what it wrote. Either the
   * write's check follows the mark (and it undoes itself), or its index
   * entry preceded the revocation's read of the index (and the revocation
   * deletes it): the artifact never outlives the revocation.
   */
  private async upsertInCluster(
    key: string, indexKeys: string[], lookupKeys: string[], payload: string, ttl: number, now: number, id: string, grantId?: string,
  ): Promise<void> {
    await this.redis.gatehouseWriteArtifact(key, payload, ttl);
    await Promise.all([
      ...indexKeys.map((index) => this.redis.gatehouseAddToIndex(index, now, ttl > 0 ? now + ttl * 1000 : '+inf', key)),
      ...lookupKeys.map((lookup) => (ttl > 0 ? this.redis.set(lookup, id, 'EX', ttl) : this.redis.set(lookup, id))),
    ]);
    if (grantId && await this.redis.exists(this.revokedGrantKey(grantId))) await this.deleteKeys([key, ...lookupKeys]);
  }

  async find(model: string, id: string): Promise<AdapterPayload | undefined> {
    return this.parse(await this.redis.hgetall(this.key(model, id)));
  }


  private parse(hash: Record<string, string>): AdapterPayload | undefined {
    if (!hash.payload) return undefined;
    const payload = JSON.parse(hash.payload) as AdapterPayload;
    if (hash.consumed) payload.consumed = Number(hash.consumed);
    return payload;
  }

  private async findVia(model: string, index: string, value: string): Promise<AdapterPayload | undefined> {
    const id = await this.redis.get(`${this.prefix}${model}:${index}:${value}`);
    return id ? this.find(model, id) : undefined;
  }

  findByUid(model: string, uid: string): Promise<AdapterPayload | undefined> {
    return this.findVia(model, 'uid', uid);
  }

  findByUserCode(model: string, userCode: string): Promise<AdapterPayload | undefined> {
    return this.findVia(model, 'userCode', userCode);
  }

  async consume(model: string, id: string): Promise<boolean> {
    const won = await this.redis.gatehouseConsume(this.key(model, id), Math.floor(Date.now() / 1000));
    return won === 1;
  }

  async destroy(model: string, id: string): Promise<void> {
    await this.redis.del(this.key(model, id));
  }

  async expiries(model: string, owner: { id: string } | { grantId: string } | { clientId: string }): Promise<Map<string, number | undefined>> {
    const modelPrefix = this.key(model, '');
    const keys = 'id' in owner
      ? [this.key(model, owner.id)]
      : (await this.indexed('grantId' in owner ? 'grant' : 'client', 'grantId' in owner ? owner.grantId : owner.clientId)).members
        .filter((key) => key.startsWith(modelPrefix));
    if (!keys.length) return new Map();
    // Sent together by auto-pipelining; in a cluster each goes to its key's node.
    const ttls = await Promise.all(keys.map((key) => this.redis.pttl(key)));
    const now = Date.now();
    const expiries = new Map<string, number | undefined>();
    ttls.forEach((ttl, i) => {
      // PTTL: -2 for a key that is gone (expired or removed), -1 for one without a TTL.
      if (ttl === -2) return;
      expiries.set(keys[i]!.slice(modelPrefix.length), ttl === -1 ? undefined : Math.ceil((now + Number(ttl)) / 1000));
    });
    return expiries;
  }

  async revokeByGrantId(_model: string, grantId: string): Promise<void> {
    // One grant index covers every ephemeral model, so the first call for a
    // grant removes all of its artifacts at once.
    if (this.inCluster) await this.redis.set(this.revokedGrantKey(grantId), '1', 'EX', REVOKED_GRANT_MARK_SECONDS);
    await this.removeIndexed('grant', grantId);
  }

  async revokeByClientId(clientId: string, options: { keep?: readonly string[] } = {}): Promise<void> {
    // No mark here: the client lives on and gets new tokens (a write racing
    // this call, in a cluster, may survive it; see scaling-out.md).
    await this.removeIndexed('client', clientId, (options.keep ?? []).map((model) => this.key(model, '')));
  }

  /**
   * Deletes the artifacts an index lists, and only those entries of the
   * index: an artifact written while this runs keeps its entry, so a later
   * revocation still finds it. (Deleting the whole index took such an
   * artifact's entry with it, and the artifact outlived every revocation.)
   */
  private async removeIndexed(owner: 'grant' | 'client', id: string, keptPrefixes: readonly string[] = []): Promise<void> {
    const indexed = await this.indexed(owner, id);
    const [current, legacy] = indexed.indexKeys;
    const members = indexed.members.filter((key) => !keptPrefixes.some((prefix) => key.startsWith(prefix)));
    if (!members.length) return;
    await this.deleteKeys(members);
    await Promise.all([this.redis.zrem(current!, ...members), this.redis.srem(legacy!, ...members)]);
  }

  async ping(): Promise<void> {
    await this.redis.ping();
  }

  reachable(): boolean {
    return this.redis.status === 'ready';
  }
}
