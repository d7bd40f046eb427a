import { Cluster, type Redis } from 'ioredis';
import type { RedisClient } from './connect.js';

/** A subscription kept whole across reconnections (see followSeeded). */
export interface SeededSubscription {
  /** Subscribed, confirmed and seeded since the last (re)connection. */
  live(): boolean;
  /** Seeds again (news that could not be read may be news missed). */
  reseed(): void;
}

/**
 * The connection `client`'s subscriptions are held on now: the client
 * itself, or for a Cluster the one connection ioredis subscribes through, to
 * a node of its choosing (ioredis 6's ClusterSubscriber, reached through
 * `subscriber.getInstance()`, which its types keep private). When that node
 * fails or leaves, ioredis opens another and subscribes it again on its own,
 * and the Cluster says nothing: only this connection's own 'close' tells.
 * test/adapters/seeded-subscription.test.ts fails if an ioredis release
 * moves it.
 */
function subscriptionConnection(client: RedisClient): Redis | null {
  if (!(client instanceof Cluster)) return client;
  const inner = (client as unknown as { subscriber?: { getInstance?(): Redis | null } }).subscriber;
  return inner?.getInstance?.() ?? null;
}

/** How often a live subscription asks its connection for an answer, and how long any answer may take. */
const HEARTBEAT_MS = 2000;
/** A timer this late says the event loop stalled (an answer may be waiting unread): no verdict. */
const STALL_MS = 500;

/**
 * Calls `silent` unless `request` is answered within HEARTBEAT_MS (a refusal,
 * such as a command timeout, is no answer); a timer that fires late gives
 * no verdict, and `after` is called either way once it is over.
 */
function unlessAnswered(request: Promise<unknown>, silent: () => void, after: () => void = () => {}): void {
  const sentAt = Date.now();
  let answered = false;
  request.then(() => { answered = true; after(); }, () => {});
  setTimeout(() => {
    after();
    if (!answered && Date.now() - sentAt <= HEARTBEAT_MS + STALL_MS) silent();
  }, HEARTBEAT_MS).unref();
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
 * In a Cluster the connection that holds the subscription is followed too
 * (subscriptionConnection): ioredis replaces it without a 'close' of the
 * Cluster's, so its loss is what starts the next seed, and the subscription
 * is not live from the moment another connection has taken its place.
 * A subscription that hears nothing cannot tell quiet from a connection that
 * stopped answering (a network partition, a frozen node: TCP keepalive takes
 * minutes to notice), so a live one sends a PING every HEARTBEAT_MS on the
 * connection that holds it; one not answered within HEARTBEAT_MS makes it
 * not live and drops that connection, for ioredis to open another (in a
 * Cluster, to some node, possibly the same), where it is subscribed and
 * seeded again; a SUBSCRIBE left unanswered as long drops its connection too.
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
  // The connection the live subscription is held on (a Cluster's changes under it).
  let holding: Redis | null = null;
  // A Cluster's subscription connections already followed (each is used once: ioredis opens a new one rather than reconnect it).
  const followed = new WeakSet<Redis>();
  const start = async (current: number) => {
    // The connection this SUBSCRIBE goes to (a Cluster routes it to the one of the moment).
    const target = subscriptionConnection(subscriber);
    const subscribed = subscriber.subscribe(...channels);
    // A connection that takes the SUBSCRIBE and never answers (a Cluster's has no command
    // timeout; a frozen node still accepts connections) is dropped, for another.
    // A refusal is an answer here: the attempt fails and is tried again.
    unlessAnswered(subscribed.catch(() => {}), () => { if (current === epoch) target?.disconnect(target === subscriber); });
    await subscribed;
    // Replaced while the confirmation was on its way: the new one may not hold the channels.
    if (subscriptionConnection(subscriber) !== target || !target) throw new Error('the subscription connection changed');
    if (target !== subscriber && !followed.has(target)) {
      followed.add(target);
      target.once('close', lost);
      // ioredis chooses the next connection on 'end' (its listener comes first); this seed subscribes on it.
      target.once('end', () => { if (subscriber.status === 'ready') reseed(); });
    }
    const seeded = await seed();
    if (current !== epoch || subscriber.status !== 'ready' || target.status !== 'ready') return;
    holding = target;
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
  let pinging = false;
  const heartbeat = setInterval(() => {
    const connection = holding;
    if (!live || !connection || pinging) return;
    const session = epoch;
    pinging = true;
    unlessAnswered(connection.ping(), () => {
      if (epoch !== session || holding !== connection || !live) return;
      lost();
      // A single server's connection reconnects; a Cluster's is replaced by ioredis ('end' above).
      connection.disconnect(connection === subscriber);
    }, () => { pinging = false; });
  }, HEARTBEAT_MS).unref();
  subscriber.once('end', () => clearInterval(heartbeat));
  subscriber.on('error', () => {});
  subscriber.on('ready', reseed);
  subscriber.on('close', lost);
  subscriber.on('reconnecting', lost);
  // Gatehouse's connections wait to be asked (lazyConnect); one already
  // connected or connecting says so, which changes nothing here.
  if (subscriber.status === 'ready') reseed();
  else subscriber.connect().catch(() => {});
  return {
    // A Cluster may replace the connection before the old one's 'close' (a node that left): not live from that moment.
    live: () => live && holding !== null && subscriptionConnection(subscriber) === holding && holding.status === 'ready',
    reseed,
  };
}
