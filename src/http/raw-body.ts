import { parse as parseQuery, stringify as stringifyQuery } from 'node:querystring';
import type { Context, Middleware } from 'koa';
import { AppError, PayloadTooLargeError, UnsupportedContentEncodingError } from '../errors/app-error.js';
import { asClientGone, ClientGoneError } from '../errors/client-gone.js';
import { assertPairsParsed, MOST_PAIRS, separatorsIn, TooManyParameters } from './parameter-count.js';
import { replayToProvider } from './provider-endpoint.js';

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
    // A refusal of what the body holds (a check counting it as it is read: TooManyParameters) is the caller's to answer.
    if (error instanceof AppError) {
      stream.resume?.();
      throw error;
    }
    // Otherwise only the request's own stream is read here, so whatever ends it is the client's connection.
    throw asClientGone(error) ?? new ClientGoneError('closed');
  }
  return Buffer.concat(chunks);
}

/** A character encoding Gatehouse reads request bodies in. */
export type BodyCharset = 'utf-8' | 'iso-8859-1' | 'us-ascii';

/**
 * The `charset` labels Gatehouse understands, in any case (RFC 9110 §8.3.2:
 * charset names are case-insensitive), each with the name it goes by.
 * ISO-8859-1 is the real one, byte for byte (what django-oauth-toolkit's
 * Python decodes), not the windows-1252 a browser reads the label as.
 */
const CHARSET_LABELS: Readonly<Record<string, BodyCharset>> = {
  'utf-8': 'utf-8', utf8: 'utf-8',
  'iso-8859-1': 'iso-8859-1', iso8859_1: 'iso-8859-1', 'iso_8859-1': 'iso-8859-1', 'iso8859-1': 'iso-8859-1', latin1: 'iso-8859-1', 'latin-1': 'iso-8859-1', l1: 'iso-8859-1',
  'us-ascii': 'us-ascii', ascii: 'us-ascii',
};

// RFC 9110 §5.6.6: `; charset=value`, the value a token or a quoted string.
const CHARSET_PARAMETERS = /;\s*charset\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]*))/gi;

/** A body in a charset Gatehouse does not read (RFC 9110 §15.5.16), or JSON in anything but UTF-8. */
function unsupportedCharset(message: string): AppError {
  return new AppError(415, 'invalid_request', message);
}

/**
 * The charset a request's Content-Type declares for its body, UTF-8 when it
 * declares none. An unknown one is refused (415) rather than guessed: read as
 * UTF-8 it would be another request than the one sent (a password that does
 * not match, counted against its account). JSON is UTF-8 only (RFC 8259 §8.1).
 */
export function bodyCharset(contentType: string | undefined, json: boolean): BodyCharset {
  const parameters = [...(contentType ?? '').matchAll(CHARSET_PARAMETERS)];
  // Two charsets: one reader in front may take the first, another the last.
  if (parameters.length > 1) throw new AppError(400, 'invalid_request', 'the Content-Type declares charset more than once');
  const parameter = parameters[0];
  if (!parameter) return 'utf-8';
  const label = (parameter[1]?.replace(/\\(.)/g, '$1') ?? parameter[2] ?? '').trim();
  const charset = CHARSET_LABELS[label.toLowerCase()];
  // Echoed in the error: only printable ASCII (a header may carry Latin-1 control characters).
  const shown = `"${label.slice(0, 40).replace(/[^\x20-\x7e]|"/g, '?')}"`;
  if (!charset) throw unsupportedCharset(`charset ${shown} is not supported; send UTF-8${json ? '' : ' (or ISO-8859-1, US-ASCII)'}`);
  if (json && charset !== 'utf-8') throw unsupportedCharset(`charset ${shown} is not supported: a JSON body is UTF-8 (RFC 8259 §8.1)`);
  return charset;
}

/** Bytes as text in `charset`; a byte US-ASCII has no character for is U+FFFD, as an invalid UTF-8 sequence is. */
function decodeBytes(bytes: Buffer, charset: BodyCharset): string {
  if (charset === 'utf-8') return bytes.toString('utf8');
  const text = bytes.toString('latin1');
  return charset === 'us-ascii' ? text.replace(/[^\x00-\x7f]/g, '\ufffd') : text;
}

/** The bytes a part of a form stands for: each character (Latin-1, so one byte) itself, each `%XX` the byte XX. */
function percentDecoded(part: string): Buffer {
  return Buffer.from(part.replace(/%([0-9a-fA-F]{2})/g, (_escape, hex: string) => String.fromCharCode(parseInt(hex, 16))), 'latin1');
}

/**
 * A form-encoded body as its fields (repeated ones as lists). Percent-escapes
 * stand for bytes, and the bytes, escaped or not, are characters of the
 * body's charset (HTML's application/x-www-form-urlencoded parser): read as
 * Latin-1 first, every character is one byte, so that `%E9` and a raw 0xE9
 * both become é in ISO-8859-1 and both begin a sequence in UTF-8.
 */
export function formFields(raw: Buffer, charset: BodyCharset): Record<string, string | string[]> {
  assertPairsParsed(raw, 'body');
  const decodeURIComponent = (part: string) => decodeBytes(percentDecoded(part), charset);
  return parseQuery(raw.toString('latin1'), '&', '=', { decodeURIComponent }) as Record<string, string | string[]>;
}

/**
 * A form-encoded request body as its fields (formFields), read in the
 * charset its Content-Type declares (bodyCharset: another is a 415) and at
 * most `limit` bytes (a 413 past it): how the dialects and the pages read a
 * posted form.
 */
export async function readFormFields(ctx: Context, limit: number): Promise<Record<string, string | string[]>> {
  const charset = bodyCharset(ctx.get('content-type'), false);
  const raw = await readRaw(ctx.req, limit);
  if (!raw) throw new PayloadTooLargeError();
  return formFields(raw, charset);
}

/**
 * The body of a provider route in the one charset oidc-provider reads
 * right. Its reader (lib/shared/selective_body.js) decodes a body with the
 * declared charset as a WHATWG label (so ISO-8859-1 as windows-1252) but its
 * percent-escapes as UTF-8 whatever the charset, and answers an unknown
 * charset 400 "failed to parse the request body". So a form in another
 * charset than UTF-8 is read here as Gatehouse's own readers read it
 * (formFields) and handed on re-encoded in UTF-8; an unknown charset, or
 * JSON (dynamic registration) in anything but UTF-8, is a 415.
 */
async function inProviderCharset(ctx: Context, next: () => Promise<unknown>): Promise<boolean> {
  // Almost every body names no charset (UTF-8): answered before any media-type parsing.
  if (!/charset/i.test(ctx.req.headers['content-type'] ?? '')) return false;
  const form = ctx.method === 'POST' && Boolean(ctx.is('application/x-www-form-urlencoded'));
  if (!form && !ctx.is('application/json')) return false;
  const charset = bodyCharset(ctx.get('content-type'), !form);
  if (charset === 'utf-8') return false;
  const raw = await readRaw(ctx.req);
  if (!raw) throw new PayloadTooLargeError();
  await replayToProvider(ctx, next, ctx.path, Buffer.from(stringifyQuery(formFields(raw, charset))));
  return true;
}

/**
 * The checks oidc-provider's own body reader (lib/shared/selective_body.js)
 * does not make, in front of every provider route: a Content-Encoding
 * other than identity is refused (415, see refuseEncodedBody), and a body
 * announced as larger than the provider reads is a 413, where the provider
 * would answer 400 "failed to parse the request body". A body in another
 * charset than UTF-8 is read as every Gatehouse reader reads it
 * (inProviderCharset). A chunked body has no
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
    if (await inProviderCharset(ctx, next)) return;
    // A form long enough to hold more pairs than the provider's parser keeps
    // has them counted as the provider reads it (almost none is that long).
    const pairsCounted = (chunked || Number(headers['content-length']) >= MOST_PAIRS) && ctx.method === 'POST' && Boolean(ctx.is('application/x-www-form-urlencoded'));
    if (!chunked && !pairsCounted) return next();
    const counted = countBody(ctx.req, pairsCounted);
    await next();
    if (counted.separators >= MOST_PAIRS) {
      // The provider's read was stopped there and answered 400 "failed to parse": said as it is.
      ctx.req.resume();
      throw new TooManyParameters('body');
    }
    if (counted.bytes > PROVIDER_BODY_LIMIT && ctx.status === 400) {
      // The rest is read and discarded, as readRaw does, so that the 413 reaches the client.
      ctx.req.resume();
      throw new PayloadTooLargeError();
    }
  };
}

/**
 * Counts the bytes read from `req` through its async iterator (how the
 * provider reads), and with `pairs` the `&` separators too, stopping the
 * read (an error to the reader) once there are more pairs than are parsed.
 */
function countBody(req: BodySource, pairs: boolean): { bytes: number; separators: number } {
  const counted = { bytes: 0, separators: 0 };
  const iterator = req.iterator.bind(req);
  req.iterator = (options) => (async function* count() {
    for await (const chunk of iterator(options)) {
      const bytes = chunk as Buffer;
      counted.bytes += bytes.length;
      if (pairs) {
        counted.separators += separatorsIn(bytes, MOST_PAIRS - counted.separators);
        if (counted.separators >= MOST_PAIRS) throw new TooManyParameters('body');
      }
      yield chunk;
    }
  })();
  return counted;
}
