import type { IncomingMessage } from 'node:http';
import { AppError } from './app-error.js';

/** Why nobody is left to answer: the client closed the connection, or it sent too slowly and the server's timeout ended it. */
export type GoneReason = 'closed' | 'timed out';

// The errors Node gives a request whose connection ended under it: the
// stream's own (`aborted` is ECONNRESET), the socket's, and the server's
// request timeout (server.requestTimeout, which answers 408 itself).
const CLOSED = new Set(['ECONNRESET', 'ECONNABORTED', 'EPIPE', 'ERR_STREAM_PREMATURE_CLOSE', 'ERR_STREAM_DESTROYED']);
const TIMED_OUT = new Set(['ERR_HTTP_REQUEST_TIMEOUT']);

/**
 * The client went away (or timed out) before its request was answered: the
 * client's doing, not a server error. Its status is what the request log and
 * the metrics record, since no answer reaches anyone: 499 (nginx's "client
 * closed request") or 408 for a timeout. `expose` is false so that every
 * surface's error mapping passes it on to the global handler, which logs it
 * once, without a stack.
 */
export class ClientGoneError extends AppError {
  override name = 'ClientGoneError';
  override readonly expose = false;

  constructor(readonly reason: GoneReason, readonly errorCode?: string) {
    super(reason === 'timed out' ? 408 : 499, 'client_gone', reason === 'timed out' ? 'the request timed out' : 'the client closed the connection');
  }
}

function codeOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * An error raised by reading the request, or by the connection under it
 * (the listener on Koa's app `error` event sees the socket's), as a
 * ClientGoneError when it is the connection ending; undefined otherwise.
 * HTTP parse errors (`HPE_*`: a body shorter than its Content-Length when
 * the socket closes) are the client's too.
 */
export function asClientGone(error: unknown): ClientGoneError | undefined {
  if (error instanceof ClientGoneError) return error;
  const code = codeOf(error);
  if (code === undefined) return (error as Error | null)?.message === 'aborted' ? new ClientGoneError('closed') : undefined;
  if (TIMED_OUT.has(code)) return new ClientGoneError('timed out', code);
  if (CLOSED.has(code) || code.startsWith('HPE_')) return new ClientGoneError('closed', code);
  return undefined;
}

/**
 * Whether the request's connection ended before its whole request arrived.
 * A storage connection reset has the same error code as a client's, so an
 * error is put down to the client only when its request really is gone.
 */
export function requestCutShort(req: IncomingMessage): boolean {
  return !req.complete && (req.destroyed || req.socket?.destroyed !== false);
}
