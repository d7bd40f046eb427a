/** The client_id inside an HTTP Basic header (RFC 6749 §2.3.1 encoding), if any. */
export function basicClientId(header: string): string | undefined {
  const [scheme, value] = header.split(' ');
  if (scheme?.toLowerCase() !== 'basic' || !value) return undefined;
  const decoded = Buffer.from(value, 'base64').toString('utf8');
  const id = decoded.slice(0, Math.max(decoded.indexOf(':'), 0));
  // Most ids need no decoding; decodeURIComponent and the replace are the bulk of the cost.
  if (!id.includes('%') && !id.includes('+')) return id || undefined;
  try {
    return decodeURIComponent(id.replace(/\+/g, '%20')) || undefined;
  } catch {
    return undefined;
  }
}
