import type { RedisClient } from './connect.js';

/** A subscription kept whole across reconnections (see followSeeded). */
export interface SeededSubscription {
  /** Subscribed, confirmed and seeded since the last (re)connection. */
  live(): boolean;
  /** Seeds again (news that could not be read may be news missed). */
  reseed(): void;
}

/**
 * Follows `channels` on a connection of its own without missing news.
 * Whatever is published while nothing is subscribed is lost, so after every
 * (re)connection the channels are subscribed again and Redis's confirmation
 * is awaited ('ready' comes before ioredis re-subscribes by itself, and a
 * cluster's subscriber connection opens on its own, later), then `seed`
 * reads what the news would have said, and only then is the subscription
 * live (`onLive` is told what the seed returned). A connection lost meanwhile
 * makes that seed count for nothing; a seed that fails (the command
 * connection may still be down) is tried again while the subscription lasts.
 * Messages go to the subscriber's own 'message' listeners.
 */
export function followSeeded<T>(
  subscriber: RedisClient,
  channels: string[],
  seed: () => Promise<T>,
  onLive: (seeded: T) => void = () => {},
): SeededSubscription {
  // Moves on whenever the subscription drops or a seed starts.
  let epoch = 0;
  let live = false;
  const start = async (current: number) => {
    await subscriber.subscribe(...channels);
    const seeded = await seed();
    if (current !== epoch || subscriber.status !== 'ready') return;
    live = true;
    onLive(seeded);
  };
  const reseed = () => {
    const current = ++epoch;
    live = false;
    start(current).catch(() => {
      setTimeout(() => { if (current === epoch && subscriber.status === 'ready') reseed(); }, 500).unref();
    });
  };
  const lost = () => { epoch += 1; live = false; };
  subscriber.on('error', () => {});
  subscriber.on('ready', reseed);
  subscriber.on('close', lost);
  subscriber.on('reconnecting', lost);
  // Gatehouse's connections wait to be asked (lazyConnect); one already
  // connected or connecting says so, which changes nothing here.
  if (subscriber.status === 'ready') reseed();
  else subscriber.connect().catch(() => {});
  return { live: () => live, reseed };
}
