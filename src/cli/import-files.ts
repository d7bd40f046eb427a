import type { ImportedAccount } from '../accounts/service.js';
import type { ImportedClient, TokenFormat } from '../clients/service.js';
import type { DialectLifetimes } from '../provider/lifetimes.js';
import { NORTHSTAR_GRANTS } from '../admin/northstar/grants.js';

/**
 * The files `gatehouse import` reads and `gatehouse export` writes, read
 * whole and checked before anything is written: a bad file is one clear
 * error naming its line, never a half-done import. Documented in
 * docs/moving-to-gatehouse/README.md (the column tables there are these).
 */

/** A file that cannot be read as its format (not JSON, a broken CSV record): where, and what. A usage error (exit 2). */
export class ImportFileError extends Error {
  override name = 'ImportFileError';
}

/**
 * A row that was read but is wrong (a missing or ill-typed column, an id or
 * username that appears twice): where, and what. A bad row, refused as the
 * rules' own refusals are (exit 1; docs/moving-to-gatehouse/README.md).
 */
export class ImportRowProblem extends ImportFileError {
  override name = 'ImportRowProblem';
}

/** A scope line of an export. */
export interface ImportedScope { name: string; description: string; warning: boolean }

/** A resource-server line of an export. */
export interface ImportedResourceServer { uri: string; scope: string[]; tokenFormat: 'opaque' | 'jwt'; accessTokenTtl?: number; signingAlg?: string }

/** What one file holds, by kind, each with the line it came from. */
export interface ImportBatch {
  clients: Array<{ line: number; client: ImportedClient }>;
  users: Array<{ line: number; user: ImportedAccount }>;
  scopes: Array<{ line: number; scope: ImportedScope }>;
  resourceServers: Array<{ line: number; resourceServer: ImportedResourceServer }>;
}

type Row = Record<string, unknown>;

function emptyBatch(): ImportBatch {
  return { clients: [], users: [], scopes: [], resourceServers: [] };
}

/** A list field: an array, or one string separated by spaces or commas. */
function listField(row: Row, key: string, where: string): string[] {
  const value = row[key];
  if (value === undefined || value === null || value === '') return [];
  if (Array.isArray(value) && value.every((item) => typeof item === 'string')) return value.flatMap((item) => item.split(/[\s,]+/)).filter(Boolean);
  if (typeof value === 'string') return value.split(/[\s,]+/).filter(Boolean);
  throw new ImportRowProblem(`${where}: ${key} must be a list of strings or one string separated by spaces`);
}

function textField(row: Row, key: string, where: string): string | undefined {
  const value = row[key];
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string') throw new ImportRowProblem(`${where}: ${key} must be a string`);
  return value;
}

function requiredText(row: Row, key: string, where: string): string {
  const value = textField(row, key, where);
  if (value === undefined) throw new ImportRowProblem(`${where}: ${key} is required`);
  return value;
}

function booleanField(row: Row, key: string, where: string, fallback: boolean): boolean {
  const value = row[key];
  if (value === undefined || value === null || value === '') return fallback;
  if (typeof value === 'boolean') return value;
  if (typeof value === 'string' && /^(true|false|1|0|yes|no)$/i.test(value)) return /^(true|1|yes)$/i.test(value);
  throw new ImportRowProblem(`${where}: ${key} must be true or false`);
}

function secondsField(row: Row, key: string, where: string): number | undefined {
  const value = row[key];
  if (value === undefined || value === null || value === '') return undefined;
  const seconds = typeof value === 'number' ? value : typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isInteger(seconds) || seconds < 1) throw new ImportRowProblem(`${where}: ${key} must be a whole number of seconds`);
  return seconds;
}

/** One client row (JSON Lines object or CSV record): the documented columns. */
export function clientFromRow(row: Row, where: string): ImportedClient {
  const lifetimes: DialectLifetimes = {};
  const access = secondsField(row, 'access_token_lifetime', where);
  const refresh = secondsField(row, 'refresh_token_lifetime', where);
  const clientCredentials = secondsField(row, 'client_credentials_lifetime', where);
  if (access) lifetimes.accessToken = access;
  if (refresh) lifetimes.refreshToken = refresh;
  if (clientCredentials) lifetimes.clientCredentials = clientCredentials;
  const format = textField(row, 'token_format', where);
  if (format !== undefined && format !== 'opaque' && format !== 'jwt') throw new ImportRowProblem(`${where}: token_format must be opaque or jwt`);
  return {
    clientId: requiredText(row, 'client_id', where),
    name: textField(row, 'name', where) ?? textField(row, 'client_name', where) ?? requiredText(row, 'name', where),
    clientSecret: textField(row, 'client_secret', where),
    clientSecretHash: textField(row, 'client_secret_hash', where) ?? textField(row, 'secret_hash', where),
    clientSecretSealed: textField(row, 'client_secret_sealed', where),
    public: booleanField(row, 'public', where, false),
    grantTypes: listField(row, 'grant_types', where),
    redirectUris: listField(row, 'redirect_uris', where),
    postLogoutRedirectUris: listField(row, 'post_logout_redirect_uris', where),
    scope: listField(row, 'scope', where),
    tokenFormat: format as TokenFormat | undefined,
    description: textField(row, 'description', where),
    skipConsent: booleanField(row, 'skip_consent', where, false),
    requirePushedAuthorizationRequests: booleanField(row, 'require_par', where, false),
    backchannelLogoutUri: textField(row, 'backchannel_logout_uri', where),
    ...(Object.keys(lifetimes).length ? { dialectLifetimes: lifetimes } : {}),
  };
}

const ACCOUNT_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** One user row: id (from an export), username, email, name (or first_name/last_name), role(s), active, password_hash. */
export function userFromRow(row: Row, where: string): ImportedAccount {
  const id = textField(row, 'id', where);
  // Gatehouse's account ids (an export's): kept, so `sub` does not change.
  if (id !== undefined && !ACCOUNT_ID.test(id)) throw new ImportRowProblem(`${where}: id must be a Gatehouse account id (a UUID), as \`export\` writes it`);
  return {
    ...(id !== undefined ? { id: id.toLowerCase() } : {}),
    username: requiredText(row, 'username', where),
    email: textField(row, 'email', where) ?? null,
    name: textField(row, 'name', where) ?? null,
    firstName: textField(row, 'first_name', where) ?? null,
    lastName: textField(row, 'last_name', where) ?? null,
    roles: [...listField(row, 'role', where), ...listField(row, 'roles', where)],
    active: booleanField(row, 'active', where, true),
    passwordHash: requiredText(row, 'password_hash', where),
  };
}

/** The JSON objects of a JSON Lines file, with line numbers; blank lines skipped. */
export function jsonLines(text: string, file: string): Array<{ line: number; row: Row }> {
  const rows: Array<{ line: number; row: Row }> = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    if (!raw.trim()) return;
    let row: unknown;
    try {
      row = JSON.parse(raw);
    } catch (error) {
      throw new ImportFileError(`${file} line ${index + 1}: not JSON (${(error as Error).message})`);
    }
    if (typeof row !== 'object' || row === null || Array.isArray(row)) throw new ImportFileError(`${file} line ${index + 1}: must be a JSON object`);
    rows.push({ line: index + 1, row: row as Row });
  });
  return rows;
}

/** RFC 4180 CSV: a header row of column names, quoted fields with "" for a quote, CRLF or LF. */
export function csvRows(text: string, file: string): Array<{ line: number; row: Row }> {
  const records: Array<{ line: number; fields: string[] }> = [];
  let fields: string[] = [];
  let field = '';
  let quoted = false;
  let line = 1;
  let start = 1;
  for (let i = 0; i < text.length; i += 1) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { field += '"'; i += 1; } else if (c === '"') quoted = false;
      else { if (c === '\n') line += 1; field += c; }
    } else if (c === '"' && field === '') quoted = true;
    else if (c === ',') { fields.push(field); field = ''; }
    else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i += 1;
      fields.push(field);
      if (fields.some((value) => value !== '')) records.push({ line: start, fields });
      fields = []; field = ''; line += 1; start = line;
    } else field += c;
  }
  if (quoted) throw new ImportFileError(`${file} line ${start}: a quoted field is not closed`);
  fields.push(field);
  if (fields.some((value) => value !== '')) records.push({ line: start, fields });
  const [header, ...body] = records;
  if (!header) return [];
  const names = header.fields.map((name) => name.trim());
  return body.map(({ line: at, fields: values }) => {
    if (values.length !== names.length) throw new ImportFileError(`${file} line ${at}: ${values.length} fields, the header has ${names.length}`);
    return { line: at, row: Object.fromEntries(names.map((name, i) => [name, values[i]])) };
  });
}

function rejectDuplicates<T>(items: Array<{ line: number } & T>, key: (item: T) => string, what: string, file: string): void {
  const seen = new Map<string, number>();
  for (const item of items) {
    const id = key(item).toLowerCase();
    const first = seen.get(id);
    if (first !== undefined) throw new ImportRowProblem(`${file} line ${item.line}: ${what} "${key(item)}" already appears on line ${first}`);
    seen.set(id, item.line);
  }
}

/** `import clients`: .jsonl (one client object a line) or .csv (header row). */
export function parseClientsFile(text: string, file: string): ImportBatch {
  const rows = /\.csv$/i.test(file) ? csvRows(text, file) : jsonLines(text, file);
  const batch = emptyBatch();
  for (const { line, row } of rows) {
    if (row.kind !== undefined && row.kind !== 'client') continue;
    batch.clients.push({ line, client: clientFromRow(row, `${file} line ${line}`) });
  }
  rejectDuplicates(batch.clients, (item) => item.client.clientId, 'client_id', file);
  return batch;
}

/** `import users`: .jsonl, one user object a line. */
export function parseUsersFile(text: string, file: string): ImportBatch {
  const batch = emptyBatch();
  for (const { line, row } of jsonLines(text, file)) {
    if (row.kind !== undefined && row.kind !== 'user') continue;
    batch.users.push({ line, user: userFromRow(row, `${file} line ${line}`) });
  }
  rejectDuplicates(batch.users, (item) => item.user.username, 'username', file);
  return batch;
}

/** `import gatehouse`: an `export` file, every kind (`kind` on each line). */
export function parseExportFile(text: string, file: string): ImportBatch {
  const batch = emptyBatch();
  for (const { line, row } of jsonLines(text, file)) {
    const where = `${file} line ${line}`;
    switch (row.kind) {
      case 'client': batch.clients.push({ line, client: clientFromRow(row, where) }); break;
      case 'user': batch.users.push({ line, user: userFromRow(row, where) }); break;
      case 'scope':
        batch.scopes.push({ line, scope: { name: requiredText(row, 'name', where), description: requiredText(row, 'description', where), warning: booleanField(row, 'warning', where, false) } });
        break;
      case 'resource_server': {
        const format = textField(row, 'token_format', where) ?? 'jwt';
        if (format !== 'jwt' && format !== 'opaque') throw new ImportRowProblem(`${where}: token_format must be opaque or jwt`);
        batch.resourceServers.push({ line, resourceServer: {
          uri: requiredText(row, 'uri', where), scope: listField(row, 'scope', where), tokenFormat: format,
          accessTokenTtl: secondsField(row, 'access_token_ttl', where), signingAlg: textField(row, 'signing_alg', where),
        } });
        break;
      }
      default: throw new ImportRowProblem(`${where}: kind must be client, user, scope or resource_server`);
    }
  }
  rejectDuplicates(batch.clients, (item) => item.client.clientId, 'client_id', file);
  rejectDuplicates(batch.users, (item) => item.user.username, 'username', file);
  return batch;
}

/**
 * `import northstar`: the bodies of Northstar's `GET /v2/clients`, as saved
 * from its API: one page (`{"data": [...], "meta": …}`), a JSON array of
 * pages, or one page a line. Each client keeps its client_id and secret;
 * title, description, scope and redirect_uri map as the Northstar admin API
 * here maps them (src/admin/northstar/router.ts): the Northstar grants, plus
 * the code flow when it has a redirect URI, and JWT access tokens.
 */
export function parseNorthstarFile(text: string, file: string): ImportBatch {
  let pages: unknown[];
  try {
    const whole = JSON.parse(text) as unknown;
    pages = Array.isArray(whole) ? whole : [whole];
  } catch {
    pages = jsonLines(text, file).map(({ row }) => row);
  }
  const batch = emptyBatch();
  pages.forEach((page, pageIndex) => {
    const data = (page as { data?: unknown })?.data;
    if (!Array.isArray(data)) throw new ImportFileError(`${file} page ${pageIndex + 1}: not a Northstar GET /v2/clients body (no "data" array)`);
    data.forEach((entry, index) => {
      const where = `${file} page ${pageIndex + 1} client ${index + 1}`;
      if (typeof entry !== 'object' || entry === null) throw new ImportRowProblem(`${where}: must be an object`);
      const row = entry as Row;
      const redirectUris = listField(row, 'redirect_uri', where);
      batch.clients.push({
        line: pageIndex * 1000 + index + 1,
        client: {
          clientId: requiredText(row, 'client_id', where),
          name: textField(row, 'title', where) ?? requiredText(row, 'client_id', where),
          description: textField(row, 'description', where),
          clientSecret: requiredText(row, 'client_secret', where),
          public: false,
          scope: listField(row, 'scope', where),
          redirectUris,
          grantTypes: redirectUris.length ? [...NORTHSTAR_GRANTS, 'authorization_code'] : NORTHSTAR_GRANTS,
          tokenFormat: 'jwt',
        },
      });
    });
  });
  rejectDuplicates(batch.clients, (item) => item.client.clientId, 'client_id', file);
  return batch;
}
