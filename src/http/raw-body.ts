import type { Middleware } from 'koa';
import { PayloadTooLargeError, UnsupportedContentEncodingError } from '../errors/app-error.js';
import { asClientGone, ClientGoneError } from '../errors/client-gone.js';

// oidc-provider's own limit for its form-encoded endpoints.
export const PROVIDER_BODY_LIMIT = 56 * 1024;

/** A request body, read by async iteration (an IncomingMessage, or a replayed body). */
export interface BodySource {
  iterator(options?: { destroyOnReturn?: boolean }): AsyncIterable<unknown>;
  headers?: Record<string, unknown>;
  resume?(): unknown;
}

/**
 * Refuses a body whose Content-Encoding is anything but identity (415).
 * Neither Gatehouse nor oidc-provider decodes one, so a gzip body would be
 * parsed as garbage (or, labelled but sent plain, read as it is while a proxy
 * in front decoded it into something else): either way Gatehouse and what
 * stands in front of it would see different requests.
 */
export function refuseEncodedBody(headers: Record<string, unknown> | undefined): void {
  const encoding = headers?.['content-encoding'];
  if (encoding === undefined) return;
  const value = String(encoding).trim();
  if (value !== '' && value.toLowerCase() !== 'identity') throw new UnsupportedContentEncodingError(value);
}

/**
 * The whole request body, or `undefined` once it passes `limit` bytes.
 * Stopping early neither destroys the request nor leaves the rest of its body
 * unread: either would reset the connection before the answer (a 413)
 * reaches the client. The rest is read and discarded. A body with a
 * Content-Encoding is refused (UnsupportedContentEncodingError, 415); a
 * client that hangs up or times out mid-body is a ClientGoneError, not the
 * stream's raw `aborted`, which would pass for a server error.
 */
export async function readRaw(stream: BodySource, limit = PROVIDER_BODY_LIMIT): Promise<Buffer | undefined> {
  refuseEncodedBody(stream.headers);
  // A body announced as too large is not read at all.
  if (Number(stream.headers?.['content-length'] ?? 0) > limit) return undefined;
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of stream.iterator({ destroyOnReturn: false })) {
      size += (chunk as Buffer).length;
      if (size > limit) {
        stream.resume?.();
        return undefined;
      }
      chunks.push(chunk as Buffer);
    }
  } catch (error) {
    // Only the request's own stream is read here, so whatever ends it is the client's connection.
    throw asClientGone(error) ?? new ClientGoneError('closed');
  }
  return Buffer.concat(chunks);
}

/**
 * The checks oidc-provider's own body reader (lib/shared/selective_body.js)
 * does not make, in front of every provider route: a Content-Encoding
 * other than identity is refused (415, see refuseEncodedBody), and a body
 * announced as larger than the provider reads is a 413, where the provider
 * would answer 400 "failed to parse the request body". A chunked body has no
 * announced size; one that the provider stops reading at its limit turns its
 * 400 into the same 413. Errors are thrown for the global handler, which
 * writes them in the provider's RFC 6749 shape. Mounted (main.ts) where the
 * request's provider route has already been resolved.
 */
export function providerBodyChecks(): Middleware {
  return async (ctx, next) => {
    const { headers } = ctx.req;
    const chunked = headers['transfer-encoding'] !== undefined;
    if (headers['content-length'] === undefined && !chunked) return next();
    refuseEncodedBody(headers);
    if (Number(headers['content-length'] ?? 0) > PROVIDER_BODY_LIMIT) throw new PayloadTooLargeError();
    if (!chunked) return next();
    const counted = countBody(ctx.req);
    await next();
    if (counted.bytes > PROVIDER_BODY_LIMIT && ctx.status === 400) {
      // The rest is read and discarded, as readRaw does, so that the 413 reaches the client.
      ctx.req.resume();
      throw new PayloadTooLargeError();
    }
  };
}

/** Counts the bytes read from `req` through its async iterator (how the provider reads). */
function countBody(req: BodySource): { bytes: number } {
  const counted = { bytes: 0 };
  const iterator = req.iterator.bind(req);
  req.iterator = (options) => (async function* count() {
    for await (const chunk of iterator(options)) {
      counted.bytes += (chunk as Buffer).length;
      yield chunk;
    }
  })();
  return counted;
}
