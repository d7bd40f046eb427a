import { Redis } from 'ioredis';
import type { AdapterPayload, PayloadStore } from '../contract.js';

// Sets `consumed` only if the artifact exists and is not yet consumed, in one
// server-side step, so of concurrent redemptions exactly one wins. HSETNX on
// its own would resurrect an expired key without a TTL.
const CONSUME = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
return redis.call('HSETNX', KEYS[1], 'consumed', ARGV[1])
`;

// One round trip and one command for the common write (an access token, a
// code): the hash with its TTL, and each index set it belongs to, which
// lives as long as its longest-lived member. KEYS[1] is the artifact,
// KEYS[2..] its index sets; ARGV[1] the payload, ARGV[2] the TTL (0: none).
const UPSERT = `
redis.call('HSET', KEYS[1], 'payload', ARGV[1])
local ttl = tonumber(ARGV[2])
if ttl > 0 then redis.call('EXPIRE', KEYS[1], ttl) end
for i = 2, #KEYS do
  redis.call('SADD', KEYS[i], KEYS[1])
  if ttl > 0 then
    local current = redis.call('TTL', KEYS[i])
    if current == -1 or current < ttl then redis.call('EXPIRE', KEYS[i], ttl) end
  end
end
return 1
`;

type UpsertingRedis = Redis & { gatehouseUpsert(numKeys: number, ...args: Array<string | number>): Promise<number> };

/**
 * Ephemeral oidc-provider artifacts in Redis. Each artifact is a hash
 * (`payload`, `consumed`) whose TTL is the artifact's lifetime; a consumed
 * artifact keeps its TTL, so reuse stays detectable until it would have
 * expired. Secondary keys index artifacts by grant, uid and user code.
 */
export class RedisPayloadStore implements PayloadStore {
  private readonly redis: UpsertingRedis;

  constructor(redis: Redis, private readonly prefix = 'gatehouse:') {
    // defineCommand sends EVALSHA, loading the script on first use.
    if (!('gatehouseUpsert' in redis)) redis.defineCommand('gatehouseUpsert', { lua: UPSERT });
    this.redis = redis as UpsertingRedis;
  }

  private key(model: string, id: string): string {
    return `${this.prefix}${model}:${id}`;
  }

  private grantKey(grantId: string): string {
    return `${this.prefix}grant:${grantId}`;
  }

  private clientKey(clientId: string): string {
    return `${this.prefix}client:${clientId}`;
  }

  async upsert(model: string, id: string, payload: AdapterPayload, expiresIn?: number): Promise<void> {
    const key = this.key(model, id);
    if (!payload.uid && !payload.userCode) {
      const indexKeys = [payload.grantId && this.grantKey(payload.grantId), payload.clientId && this.clientKey(payload.clientId)]
        .filter((k): k is string => Boolean(k));
      await this.redis.gatehouseUpsert(1 + indexKeys.length, key, ...indexKeys, JSON.stringify(payload), expiresIn ?? 0);
      return;
    }
    // Sessions, interactions and device codes also need their lookup keys.
    const multi = this.redis.multi().hset(key, 'payload', JSON.stringify(payload));
    if (expiresIn) multi.expire(key, expiresIn);
    // Grant and client indexes live as long as their longest-lived member.
    for (const indexKey of [payload.grantId && this.grantKey(payload.grantId), payload.clientId && this.clientKey(payload.clientId)]) {
      if (!indexKey) continue;
      multi.sadd(indexKey, key);
      if (expiresIn) multi.expire(indexKey, expiresIn, 'NX').expire(indexKey, expiresIn, 'GT');
    }
    const indexes = [['uid', payload.uid], ['userCode', payload.userCode]] as const;
    for (const [index, value] of indexes) {
      if (!value) continue;
      const indexKey = `${this.prefix}${model}:${index}:${value}`;
      if (expiresIn) multi.set(indexKey, id, 'EX', expiresIn);
      else multi.set(indexKey, id);
    }
    await multi.exec();
  }

  async find(model: string, id: string): Promise<AdapterPayload | undefined> {
    const hash = await this.redis.hgetall(this.key(model, id));
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
    const won = await this.redis.eval(CONSUME, 1, this.key(model, id), Math.floor(Date.now() / 1000));
    return won === 1;
  }

  async destroy(model: string, id: string): Promise<void> {
    await this.redis.del(this.key(model, id));
  }

  async expiries(model: string, owner: { id: string } | { grantId: string } | { clientId: string }): Promise<Map<string, number | undefined>> {
    const modelPrefix = this.key(model, '');
    const keys = 'id' in owner
      ? [this.key(model, owner.id)]
      : (await this.redis.smembers('grantId' in owner ? this.grantKey(owner.grantId) : this.clientKey(owner.clientId)))
        .filter((key) => key.startsWith(modelPrefix));
    if (!keys.length) return new Map();
    const pipeline = this.redis.pipeline();
    for (const key of keys) pipeline.pttl(key);
    const replies = (await pipeline.exec()) ?? [];
    const now = Date.now();
    const expiries = new Map<string, number | undefined>();
    replies.forEach(([error, ttl], i) => {
      if (error) throw error;
      // PTTL: -2 for a key that is gone (expired or removed), -1 for one without a TTL.
      if (ttl === -2) return;
      expiries.set(keys[i]!.slice(modelPrefix.length), ttl === -1 ? undefined : Math.ceil((now + Number(ttl)) / 1000));
    });
    return expiries;
  }

  async revokeByGrantId(_model: string, grantId: string): Promise<void> {
    // One grant index covers every ephemeral model, so the first call for a
    // grant removes all of its artifacts at once.
    const grantKey = this.grantKey(grantId);
    const keys = await this.redis.smembers(grantKey);
    await this.redis.del(grantKey, ...keys);
  }

  async revokeByClientId(clientId: string): Promise<void> {
    const clientKey = this.clientKey(clientId);
    const keys = await this.redis.smembers(clientKey);
    await this.redis.del(clientKey, ...keys);
  }

  async ping(): Promise<void> {
    await this.redis.ping();
  }

  reachable(): boolean {
    return this.redis.status === 'ready';
  }
}
