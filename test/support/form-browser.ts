/**
 * A browser without JavaScript: it keeps cookies, follows redirects one hop
 * at a time (so a test can stop at the client's redirect_uri), reads forms
 * out of HTML and submits them as application/x-www-form-urlencoded.
 */
export interface Page {
  url: string;
  status: number;
  html: string;
  headers: Headers;
}

export interface FormData {
  action: string;
  method: string;
  fields: Record<string, string>;
}

function decodeEntities(value: string): string {
  return value
    .replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>')
    .replace(/&#x([0-9a-f]+);/gi, (_m, hex: string) => String.fromCodePoint(Number.parseInt(hex, 16)))
    .replace(/&amp;/g, '&');
}

function attribute(tag: string, name: string): string | undefined {
  const match = new RegExp(`\\s${name}="([^"]*)"`, 'i').exec(tag);
  return match?.[1] === undefined ? undefined : decodeEntities(match[1]);
}

/** One response the browser received, for tests about redirects and cookies. */
export interface Exchange {
  method: string;
  url: string;
  status: number;
  /** The answer's Strict-Transport-Security header, if any. */
  hsts: string | null;
  location: string | null;
  setCookies: string[];
}

export interface FormBrowserOptions {
  /** Headers sent with every request (for example a proxy's X-Forwarded-*). */
  headers?: Record<string, string>;
  /** Where a URL is actually fetched (for example https behind a proxy → the plain listener). */
  route?: (url: URL) => URL;
}

/** What a request sends: a form a browser would encode (URLSearchParams, UTF-8), or exact bytes in a declared Content-Type. */
interface RequestInit {
  method?: string;
  body?: URLSearchParams | Buffer;
  /** The body's Content-Type (a form by default). */
  contentType?: string;
}

export class FormBrowser {
  private readonly cookies = new Map<string, string>();
  /** Every response received, in order. */
  readonly history: Exchange[] = [];

  constructor(private readonly stopAt: (url: URL) => boolean = () => false, private readonly options: FormBrowserOptions = {}) {}

  private remember(headers: Headers): void {
    for (const cookie of headers.getSetCookie()) {
      const [pair] = cookie.split(';');
      const index = pair?.indexOf('=') ?? -1;
      if (!pair || index < 1) continue;
      const name = pair.slice(0, index).trim();
      const value = pair.slice(index + 1).trim();
      if (/max-age=0|expires=thu, 01 jan 1970/i.test(cookie) || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  /** The Cookie header this browser sends, for a test that writes a request by hand. */
  cookieHeader(): string {
    return [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  }

  /** One request, no redirect following. */
  async request(url: string, init: RequestInit = {}): Promise<Page> {
    const method = init.method ?? 'GET';
    const target = this.options.route ? this.options.route(new URL(url)).href : url;
    const response = await fetch(target, {
      method,
      redirect: 'manual',
      headers: {
        ...this.options.headers,
        cookie: this.cookieHeader(),
        accept: 'text/html',
        ...(init.body ? { 'content-type': init.contentType ?? 'application/x-www-form-urlencoded' } : {}),
      },
      body: Buffer.isBuffer(init.body) ? new Uint8Array(init.body) : init.body,
    });
    this.history.push({ method, url, status: response.status, hsts: response.headers.get('strict-transport-security'), location: response.headers.get('location'), setCookies: response.headers.getSetCookie() });
    this.remember(response.headers);
    return { url, status: response.status, html: await response.text(), headers: response.headers };
  }

  /**
   * Requests `url` and follows redirects until a page renders, or until a
   * redirect points where `stopAt` says (the client's callback); then
   * `page.url` is that final location and `page.status` the redirect status.
   */
  async navigate(url: string, init: RequestInit = {}): Promise<Page> {
    let page = await this.request(url, init);
    for (let hops = 0; hops < 20; hops += 1) {
      const location = page.headers.get('location');
      if (page.status < 300 || page.status >= 400 || !location) return page;
      const next = new URL(location, page.url);
      if (this.stopAt(next)) return { ...page, url: next.href };
      page = await this.request(next.href);
    }
    throw new Error(`too many redirects from ${url}`);
  }

  /** The forms of a page, with their hidden and pre-filled fields. */
  static forms(page: Page): FormData[] {
    const forms: FormData[] = [];
    for (const match of page.html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/gi)) {
      const [, attributes = '', inner = ''] = match;
      const fields: Record<string, string> = {};
      for (const input of inner.matchAll(/<input\b[^>]*>/gi)) {
        const name = attribute(input[0], 'name');
        if (name) fields[name] = attribute(input[0], 'value') ?? '';
      }
      forms.push({
        action: new URL(attribute(` ${attributes}`, 'action') ?? page.url, page.url).href,
        method: (attribute(` ${attributes}`, 'method') ?? 'get').toLowerCase(),
        fields,
      });
    }
    return forms;
  }

  /** Fills and submits the form whose action ends with `actionSuffix`. */
  async submit(page: Page, actionSuffix: string, values: Record<string, string> = {}): Promise<Page> {
    const form = FormBrowser.forms(page).find((f) => f.action.endsWith(actionSuffix));
    if (!form) throw new Error(`no form posting to …${actionSuffix} on ${page.url}: ${page.html.slice(0, 500)}`);
    return this.navigate(form.action, { method: form.method.toUpperCase(), body: new URLSearchParams({ ...form.fields, ...values }) });
  }
}

/**
 * What a browser sends back from a form besides what the user typed: its
 * CSRF token and, on an edit form, the version of the record it was loaded
 * with (src/web/form-version.ts).
 */
export function hiddenFields(form: FormData): Array<[string, string]> {
  const hidden: Array<[string, string]> = [['csrf', form.fields.csrf ?? '']];
  if (form.fields.form_version !== undefined) hidden.push(['form_version', form.fields.form_version]);
  return hidden;
}
