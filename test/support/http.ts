/** Plain HTTP, exactly as a legacy client sends it. */
export interface Reply {
  status: number;
  headers: Headers;
  text: string;
  json: Record<string, unknown> & { meta?: Record<string, unknown>; data?: Record<string, unknown> };
}

export async function send(url: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Reply> {
  const response = await fetch(url, { method: init.method ?? 'POST', headers: init.headers, body: init.body });
  const text = await response.text();
  let json = {} as Reply['json'];
  try { json = JSON.parse(text) as Reply['json']; } catch { /* not JSON: the test asserts on text */ }
  return { status: response.status, headers: response.headers, text, json };
}

export function postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<Reply> {
  return send(url, { headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });
}

export function postForm(url: string, body: Record<string, string>, headers: Record<string, string> = {}): Promise<Reply> {
  return send(url, { headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: new URLSearchParams(body).toString() });
}

export function basicAuth(id: string, secret: string): string {
  return `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
}
