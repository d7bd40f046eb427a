import { createServer, type Server, type Socket } from 'node:net';
import type { PGlite } from '@electric-sql/pglite';
import { listenOnSocketFile } from './socket-file.js';

const SSL_REQUEST = 80877103;
const CANCEL_REQUEST = 80877102;

// Extended-query messages (Parse, Bind, Describe, Execute, Close): the client
// sends them in a row and waits for nothing until its Sync (or Flush).
const HELD = new Set([...'PBDEC'].map((letter) => letter.charCodeAt(0)));

/** A simple-protocol Query message. */
function simpleQuery(sql: string): Uint8Array {
  const text = Buffer.from(`${sql}\0`);
  const message = Buffer.alloc(5 + text.length);
  message.write('Q', 0);
  message.writeInt32BE(4 + text.length, 1);
  text.copy(message, 5);
  return message;
}

/**
 * The embedded database's socket (`share()` in pglite.ts), so the CLI can use
 * a running server's PGlite. PGlite is one PostgreSQL session, shared by
 * this process's own queries and every socket client, so what a client says
 * must run without anything of anyone else's in between:
 *
 * - an exchange (its messages up to a Sync, a Flush or a simple Query) runs
 *   as one exclusive step: between a client's Parse and its Bind nothing
 *   else may take the unnamed statement or portal it is using (pglite-socket
 *   ran each message as a step of its own, and a poll of this process's
 *   could land between them: "bind message supplies 8 parameters, but
 *   prepared statement "" requires 1");
 * - a transaction a client opens keeps the session to that client until it
 *   ends, so no query of this process's joins it (or is rolled back with
 *   it); a client that goes away inside one is rolled back.
 *
 * PGlite's own locks are used for both: a step holds its transaction lock,
 * then its query lock, in the order PGlite's own `transaction()` takes them.
 */
export class PGliteSocketBridge {
  private readonly server: Server;
  private readonly connections = new Set<Socket>();

  constructor(private readonly pglite: PGlite, private readonly maxConnections = 4) {
    this.server = createServer((socket) => this.serve(socket));
  }

  listen(path: string): Promise<void> {
    return listenOnSocketFile(this.server, path);
  }

  async close(): Promise<void> {
    for (const socket of this.connections) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private serve(socket: Socket): void {
    if (this.connections.size >= this.maxConnections) {
      socket.destroy();
      return;
    }
    this.connections.add(socket);
    const session = new ClientSession(this.pglite, socket);
    let work = Promise.resolve();
    socket.on('data', (chunk) => {
      work = work.then(() => session.receive(chunk)).catch(() => { socket.destroy(); });
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      this.connections.delete(socket);
      // `work` never rejects (a failed exchange destroys the socket instead).
      work = work.then(() => session.end());
    });
  }
}

/** One socket client: its bytes cut into messages, its messages into exchanges. */
class ClientSession {
  private buffered = Buffer.alloc(0);
  private exchange: Buffer[] = [];
  private started = false;
  /** Set while this client's transaction keeps the session: ends the lock. */
  private release: (() => void) | undefined;

  constructor(private readonly pglite: PGlite, private readonly socket: Socket) {}

  async receive(chunk: Buffer): Promise<void> {
    this.buffered = Buffer.concat([this.buffered, chunk]);
    for (;;) {
      const message = this.nextMessage();
      if (!message) return;
      this.exchange.push(message);
      if (this.started && HELD.has(message[0]!)) continue;
      this.started = true;
      const exchange = Buffer.concat(this.exchange);
      this.exchange = [];
      await this.run(exchange);
    }
  }

  /** The next whole message, or undefined until more bytes arrive; answers SSL and cancel requests itself. */
  private nextMessage(): Buffer | undefined {
    for (;;) {
      let length: number;
      if (!this.started) {
        // Before start-up: length-first messages (start-up, SSL request, cancel request).
        if (this.buffered.length < 8) return undefined;
        const code = this.buffered.readInt32BE(4);
        if (code === SSL_REQUEST) {
          this.buffered = this.buffered.subarray(8);
          this.socket.write('N');
          continue;
        }
        if (code === CANCEL_REQUEST) {
          this.buffered = Buffer.alloc(0);
          this.socket.end();
          return undefined;
        }
        length = this.buffered.readInt32BE(0);
      } else {
        if (this.buffered.length < 5) return undefined;
        length = 1 + this.buffered.readInt32BE(1);
      }
      if (this.buffered.length < length) return undefined;
      const message = this.buffered.subarray(0, length);
      this.buffered = this.buffered.subarray(length);
      return message;
    }
  }

  private async execute(bytes: Uint8Array): Promise<void> {
    await this.pglite.execProtocolRawStream(bytes, {
      onRawData: (data) => {
        if (this.socket.writable) this.socket.write(Buffer.from(data));
      },
    });
  }

  private async run(exchange: Buffer): Promise<void> {
    if (this.release) {
      // Inside this client's own transaction: the session is already its.
      await this.execute(exchange);
      if (!this.pglite.isInTransaction()) this.endTransaction();
      return;
    }
    let ran!: () => void;
    let failed!: (error: unknown) => void;
    const done = new Promise<void>((resolve, reject) => { ran = resolve; failed = reject; });
    void this.pglite._runExclusiveTransaction(() => this.pglite._runExclusiveQuery(async () => {
      try {
        await this.execute(exchange);
      } catch (error) {
        failed(error);
        return;
      }
      // Keep both locks until the transaction this exchange opened ends.
      const held = this.pglite.isInTransaction() ? new Promise<void>((resolve) => { this.release = resolve; }) : undefined;
      ran();
      await held;
    }));
    await done;
  }

  private endTransaction(): void {
    const release = this.release;
    this.release = undefined;
    release?.();
  }

  /** The client has gone: a transaction it left open is rolled back, and the session given back. */
  async end(): Promise<void> {
    if (!this.release) return;
    // Its answer goes nowhere: execute writes only while the socket is writable.
    await this.execute(simpleQuery('ROLLBACK')).catch(() => {});
    this.endTransaction();
  }
}
