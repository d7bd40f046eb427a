/**
 * The names one deployment uses in a Redis server. Keys live in the
 * connection's database, so the prefix alone separates deployments that
 * share a database (REDIS_PREFIX). Pub/sub channels, though, belong to the
 * whole server whatever the database (Redis ignores SELECT for PUBLISH and
 * SUBSCRIBE), so every channel also carries the database number: two
 * deployments on different databases never hear each other's revocations
 * or counter hits, even with the same prefix.
 */
export interface RedisNamespace {
  /** A key's full name: the prefix, then `name`. */
  key(name: string): string;
  /** A channel's full name: the prefix, the database number, then `name`. */
  channel(name: string): string;
}

/**
 * The default prefix: the names keys have always had, so a deployment that
 * upgrades keeps its sessions, codes, tokens and revocations.
 */
export const DEFAULT_REDIS_PREFIX = 'gatehouse:';

export function redisNamespace(prefix: string, database: number): RedisNamespace {
  return {
    key: (name) => `${prefix}${name}`,
    channel: (name) => `${prefix}db${database}:${name}`,
  };
}
