// oidc-provider's own limit for its form-encoded endpoints.
export const PROVIDER_BODY_LIMIT = 56 * 1024;

/** The whole request body, or `undefined` once it passes `limit` bytes. */
export async function readRaw(stream: NodeJS.ReadableStream, limit = PROVIDER_BODY_LIMIT): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    size += (chunk as Buffer).length;
    if (size > limit) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}
