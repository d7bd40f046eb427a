import { rm } from 'node:fs/promises';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import type { RevocationFeed, RevocationWatch, TokenRevocation } from '../contract.js';
import { listenOnSocketFile } from './socket-file.js';

/**
 * The socket, in the data folder beside the database's, through which a
 * guest of the embedded database (the CLI next to a running server) hands
 * its revocations to the server. The server's revocation feed lives in its
 * memory (local-revocation-feed.ts), so without this a user deleted or a
 * grant revoked from the CLI would leave the server accepting their JWT
 * access tokens, from its view, until they expired. The folder is private to
 * its owner (data-folder.ts), as the database's socket is.
 */
export const RELAY_SOCKET = 'revocations.sock';

// One exchange per connection: the guest sends a JSON array of revocations
// and a newline; the server answers "ok\n" once its feed has them, or
// "refused\n". A revocation is a few hundred bytes; a grant's tokens a few
// thousand of them at most.
const MAX_REQUEST_BYTES = 4 * 1024 * 1024;
const ANSWER_WITHIN_MS = 5000;

function isRevocation(value: unknown): value is TokenRevocation {
  const entry = value as Record<string, unknown> | null;
  if (typeof entry !== 'object' || entry === null || typeof entry.until !== 'number') return false;
  if (entry.kind === 'token') return typeof entry.jti === 'string';
  return entry.kind === 'client' && typeof entry.clientId === 'string' && typeof entry.issuedUntil === 'number';
}

/** The server's end: delivers what guests send to its own feed. */
export class RevocationRelay {
  private server: Server | undefined;
  private path: string | undefined;

  constructor(private readonly deliver: (revocations: TokenRevocation[]) => Promise<void>) {}

  async listen(path: string): Promise<void> {
    const server = createServer((socket) => this.serve(socket));
    await listenOnSocketFile(server, path);
    this.server = server;
    this.path = path;
  }

  private serve(socket: Socket): void {
    socket.on('error', () => {});
    socket.setTimeout(ANSWER_WITHIN_MS, () => socket.destroy());
    const chunks: Buffer[] = [];
    let length = 0;
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      length += chunk.length;
      if (length > MAX_REQUEST_BYTES) { socket.end('refused\n'); return; }
      if (chunk.indexOf(0x0a) === -1) return;
      socket.pause();
      let revocations: unknown;
      try {
        revocations = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        revocations = undefined;
      }
      if (!Array.isArray(revocations) || !revocations.every(isRevocation)) { socket.end('refused\n'); return; }
      this.deliver(revocations).then(() => socket.end('ok\n'), () => socket.end('refused\n'));
    });
  }

  async close(): Promise<void> {
    const { server, path } = this;
    this.server = undefined;
    if (!server) return;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    if (path) await rm(path, { force: true });
  }
}

/**
 * The guest's feed: each revocation reaches the server that owns the
 * database before `publish` resolves (and so before the record it stands for
 * is removed: revocation-announcing-store.ts), or `publish` fails and
 * nothing is removed. The guest follows no revocations itself: its view is
 * never complete, so any JWT it checks is judged by its record.
 */
export class RelayedRevocationFeed implements RevocationFeed {
  readonly persistent = false;

  constructor(private readonly path: string) {}

  publish(revocations: TokenRevocation[]): Promise<void> {
    if (!revocations.length) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const socket = createConnection(this.path);
      let answer = '';
      const fail = (reason: string) => {
        socket.destroy();
        reject(new Error(`the server that owns the embedded database did not take the revocations (${reason}); nothing was revoked`));
      };
      socket.setTimeout(ANSWER_WITHIN_MS, () => fail('no answer'));
      socket.on('error', (error) => fail(error.message));
      socket.on('data', (chunk: Buffer) => { answer += chunk.toString('utf8'); });
      socket.on('end', () => (answer === 'ok\n' ? (socket.destroy(), resolve()) : fail(answer.trim() || 'no answer')));
      socket.write(`${JSON.stringify(revocations)}\n`);
    });
  }

  watch(): RevocationWatch {
    return { completeFrom: () => undefined, whenComplete: () => new Promise<void>(() => {}) };
  }
}
