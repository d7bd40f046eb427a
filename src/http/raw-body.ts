// oidc-provider's own limit for its form-encoded endpoints.
export const PROVIDER_BODY_LIMIT = 56 * 1024;

/** A request body, read by async iteration (an IncomingMessage, or a replayed body). */
export interface BodySource {
  iterator(options?: { destroyOnReturn?: boolean }): AsyncIterable<unknown>;
  headers?: Record<string, unknown>;
  resume?(): unknown;
}

/**
 * The whole request body, or `undefined` once it passes `limit` bytes.
 * Stopping early neither destroys the request nor leaves the rest of its body
 * unread: either would reset the connection before the answer (a 413)
 * reaches the client. The rest is read and discarded.
 */
export async function readRaw(stream: BodySource, limit = PROVIDER_BODY_LIMIT): Promise<Buffer | undefined> {
  // A body announced as too large is not read at all.
  if (Number(stream.headers?.['content-length'] ?? 0) > limit) return undefined;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream.iterator({ destroyOnReturn: false })) {
    size += (chunk as Buffer).length;
    if (size > limit) {
      stream.resume?.();
      return undefined;
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}
