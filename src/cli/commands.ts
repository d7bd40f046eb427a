import { readFile } from 'node:fs/promises';
import { pathProblem } from '../../config/setting-errors.js';
import { writeOwnerOnly } from './owner-only-file.js';
import type { Services } from '../main.js';
import { CLIENT_SECRET_MIN_LENGTH } from '../clients/given-secrets.js';
import { AppError } from '../errors/app-error.js';
import { CLIENT_DIALECT_LIFETIMES, type DialectLifetimes } from '../provider/lifetimes.js';
import { SKIP_CONSENT } from '../clients/metadata-rules.js';
import { oneOf, optional, optionalList, positional, required, type Values, UsageError } from './arguments.js';
import { type ImportBatch, ImportFileError, ImportRowProblem, parseClientsFile, parseExportFile, parseNorthstarFile, parseUsersFile } from './import-files.js';
import { snakeClient, snakeUser } from './views.js';
import { terminalSafe } from './plain-text.js';
import { importDjangoOAuthToolkitCommand } from './import-dot-command.js';
import { CORE_COMMANDS } from './core-commands.js';
import { SESSION_COMMANDS } from './session-commands.js';

/**
 * The CLI's commands, one entry each: name, usage line, flags with what they
 * mean, and what it does. main.ts builds its option list, its usage text and
 * each command's `--help` from this table. The commands for moving to
 * Gatehouse (issue 16) are below; the others are in core-commands.ts.
 *
 * Every start of the CLI loads this table, `--help` and a mistyped flag
 * included, so the table and what it imports stay light: a `run` gets the
 * application as its `services` argument (composed only when a command runs,
 * execute.ts), and whatever else of the application only a `run` needs (the
 * engine, a storage driver) it imports inside itself with `import()`.
 * test/cli/lazy-loading.test.ts checks that `--help` loads none of it.
 */
export interface CliFlag {
  type: 'string' | 'boolean';
  multiple?: boolean;
  description: string;
  /**
   * A secret (a password, a client secret): given as `-`, its value is read
   * from standard input, because a command line is visible to every local
   * user (/proc/PID/cmdline, ps) while the command runs.
   */
  secret?: boolean;
}

export interface CliCommand {
  /** The words that select it: `client rotate-secret`. */
  name: string;
  /** What follows the name: `ID [--grace SECONDS]`. */
  usage: string;
  summary: string;
  flags: Record<string, CliFlag>;
  /** `args`: the positional words after the name. */
  run(services: Services, args: string[], values: Values): Promise<unknown>;
}

const FILE: CliFlag = { type: 'string', description: 'the file to read' };
const DRY_RUN: CliFlag = { type: 'boolean', description: 'report what would change, write nothing' };

function optionalBoolean(values: Values, name: string): boolean | undefined {
  const value = optional(values, name);
  if (value === undefined) return undefined;
  if (!/^(true|false)$/.test(value)) throw new UsageError(`--${name} must be true or false`);
  return value === 'true';
}

type Outcome = 'created' | 'updated' | 'unchanged' | 'skipped';

interface KindSummary {
  created: number;
  updated: number;
  unchanged: number;
  skipped: number;
  skips: Array<{ id: string; reason: string }>;
}

function tally(): KindSummary {
  return { created: 0, updated: 0, unchanged: 0, skipped: 0, skips: [] };
}

/**
 * Bad rows: each the file and line, then what the rule said. A problem
 * quotes the file (a username, a client id), so each is made safe for a
 * terminal before they are put a line each.
 */
class ImportRowError extends AppError {
  constructor(readonly problems: string[]) {
    super(422, 'invalid_import', `nothing was imported: ${problems.length} problem${problems.length > 1 ? 's' : ''}:\n  ${problems.map(terminalSafe).join('\n  ')}`);
  }
}

/**
 * Imports a batch the same way whatever file it came from: scopes and
 * resource servers first (registry entries that clients may name), then
 * every client and user checked (a dry run of each) before any is written,
 * so a bad row stops the import with nothing written; then written. Re-runs
 * change nothing that has not changed at the source (created / updated /
 * unchanged counts): the domain services decide each record's outcome
 * against what the source said at the last import, so a change made in
 * Gatehouse since is kept.
 */
async function importBatch(services: Services, batch: ImportBatch, values: Values, source: string): Promise<Record<string, unknown>> {
  const dryRun = values['dry-run'] === true;
  const skipUnverifiable = values['skip-unverifiable'] === true;
  const summary: Record<string, KindSummary> = {};
  const count = (kind: string, outcome: Outcome, id: string, reason?: string) => {
    const entry = (summary[kind] ??= tally());
    entry[outcome] += 1;
    if (reason) entry.skips.push({ id, reason });
  };

  const scopes = await services.scopes.importScopes(batch.scopes.map((row) => row.scope), { dryRun, source }, { actor: 'cli' });
  scopes.forEach((result, i) => count('scopes', result.outcome, batch.scopes[i]!.scope.name, result.outcome === 'skipped' ? result.reason : undefined));
  const servers = await services.resourceServers.importServers(batch.resourceServers.map((row) => row.resourceServer), { dryRun, source }, { actor: 'cli' });
  servers.forEach((result, i) => count('resource_servers', result.outcome, batch.resourceServers[i]!.resourceServer.uri, result.outcome === 'skipped' ? result.reason : undefined));

  // Every client and user checked before the first is written.
  const problems: string[] = [];
  const where = (file: string, line: number) => `${file}:${line}`;
  const file = String(values.file);
  for (const { line, client } of batch.clients) {
    try {
      await services.clients.importClient(client, { dryRun: true, source });
    } catch (error) {
      if (!(error instanceof AppError)) throw error;
      problems.push(`${where(file, line)}: ${error.message}`);
    }
  }
  for (const rows of pagesOf(batch.users)) {
    const results = await services.accounts.importAccounts(rows.map((row) => row.user), { dryRun: true, skipUnverifiable, source });
    results.forEach((result, i) => {
      if (result.outcome !== 'refused') return;
      const { error } = result;
      problems.push(`${where(file, rows[i]!.line)}: ${error.message}${error.code === 'unverifiable_hash' ? ' (--skip-unverifiable imports the others)' : ''}`);
    });
  }
  if (problems.length) throw new ImportRowError(problems);

  for (const { client } of batch.clients) {
    const result = await services.clients.importClient(client, { dryRun, source }, { actor: 'cli' });
    count('clients', result.outcome, client.clientId, result.outcome === 'skipped' ? result.reason : undefined);
  }
  for (const rows of pagesOf(batch.users)) {
    const results = await services.accounts.importAccounts(rows.map((row) => row.user), { dryRun, skipUnverifiable, source }, { actor: 'cli' });
    results.forEach((result, i) => {
      // Checked above; refused now only if another writer took a username meanwhile.
      if (result.outcome === 'refused') count('users', 'skipped', rows[i]!.user.username, result.error.message);
      else count('users', result.outcome, rows[i]!.user.username, result.outcome === 'skipped' ? result.reason : undefined);
    });
  }
  // An empty file is not an error (an export of an empty deployment), but says so rather than nothing.
  const empty = !batch.scopes.length && !batch.resourceServers.length && !batch.clients.length && !batch.users.length;
  return { dry_run: dryRun, ...(empty ? { note: `${file} holds no rows: nothing to import` } : {}), ...summary };
}

/** Rows in pages, so that accounts are imported a page per round trip. */
function* pagesOf<T>(rows: T[], size = 1000): Generator<T[]> {
  for (let start = 0; start < rows.length; start += size) yield rows.slice(start, start + size);
}

/**
 * A --file the filesystem refuses (a folder that does not exist, a folder
 * where the file should be, no permission): a value on the command line to
 * correct, as `import` has always said (exit 2, docs/cli.md), never a fault.
 * Undefined when the error is not about the path.
 */
function fileFlagError(verb: 'read' | 'write', file: string, error: unknown): UsageError | undefined {
  const problem = pathProblem(error, file);
  const code = (error as NodeJS.ErrnoException).code;
  return problem === undefined ? undefined : new UsageError(`cannot ${verb} --file ${file}: ${problem}${code ? ` (${code})` : ''}`, false);
}

async function readImportFile(values: Values, parse: (text: string, file: string) => ImportBatch): Promise<ImportBatch> {
  const file = required(values, 'file');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw fileFlagError('read', file, error)
      ?? new UsageError(`cannot read --file ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, false);
  }
  try {
    return parse(text, file);
  } catch (error) {
    if (error instanceof ImportRowProblem) throw new ImportRowError([error.message]);
    if (error instanceof ImportFileError) throw new UsageError(`nothing was imported: ${error.message}`, false);
    throw error;
  }
}

/** One `import …` entry: every import reads its file whole, then goes through importBatch. */
function importCommand(name: string, usage: string, summary: string, parse: (text: string, file: string) => ImportBatch, hasUsers = false): CliCommand {
  return {
    name,
    usage,
    summary,
    flags: {
      file: FILE,
      'dry-run': DRY_RUN,
      ...(hasUsers ? { 'skip-unverifiable': { type: 'boolean', description: 'import the others when some password hashes cannot be verified (each is listed)' } as CliFlag } : {}),
    },
    async run(services, _args, values) {
      // The import's name is its source: what each import said is kept apart (SourceFingerprintStore).
      return importBatch(services, await readImportFile(values, parse), values, name.replace(/^import /, ''));
    },
  };
}

/** `export`: one JSON object a line, each with its `kind`, in the columns `import` reads. */
async function exportAll(services: Services, values: Values): Promise<Record<string, unknown>> {
  const file = required(values, 'file');
  const includeSecrets = values['include-secrets'] === true;
  const lines: string[] = [];
  const counts = { scopes: 0, resource_servers: 0, clients: 0, users: 0 };
  for (const scope of await services.scopes.list()) {
    lines.push(JSON.stringify({ kind: 'scope', name: scope.name, description: scope.description, warning: scope.warning }));
    counts.scopes += 1;
  }
  for (const server of await services.resourceServers.list()) {
    lines.push(JSON.stringify({ kind: 'resource_server', uri: server.uri, scope: server.scope, token_format: server.tokenFormat, access_token_ttl: server.accessTokenTtl, signing_alg: server.signingAlg }));
    counts.resource_servers += 1;
  }
  for await (const { record, secret } of services.clients.exportAll()) {
    const m = record.metadata;
    const lifetimes = (m[CLIENT_DIALECT_LIFETIMES] ?? {}) as DialectLifetimes;
    const plain = includeSecrets ? await services.clients.secretOf(record.clientId) : undefined;
    lines.push(JSON.stringify({
      kind: 'client',
      client_id: record.clientId,
      // A client registered dynamically may have no name; its id stands in, as import needs one.
      name: m.client_name || record.clientId,
      description: m.description,
      public: m.token_endpoint_auth_method === 'none',
      grant_types: m.grant_types,
      redirect_uris: m.redirect_uris,
      post_logout_redirect_uris: m.post_logout_redirect_uris,
      scope: m.scope,
      token_format: m.access_token_format,
      skip_consent: m[SKIP_CONSENT] === true,
      require_par: m.require_pushed_authorization_requests === true,
      backchannel_logout_uri: m.backchannel_logout_uri,
      access_token_lifetime: lifetimes.accessToken,
      refresh_token_lifetime: lifetimes.refreshToken,
      client_credentials_lifetime: lifetimes.clientCredentials,
      // The secret in the clear only when asked; otherwise sealed (opens only
      // with this deployment's SECRETS_KEY), or the hash when that is all there is.
      ...(plain ? { client_secret: plain } : secret.sealed ? { client_secret_sealed: secret.sealed } : secret.hash ? { client_secret_hash: secret.hash } : {}),
    }));
    counts.clients += 1;
  }
  for await (const account of services.accounts.exportAll()) {
    lines.push(JSON.stringify({
      kind: 'user', id: account.id, username: account.username, email: account.email, name: account.name, roles: account.roles, active: account.active, password_hash: account.passwordHash,
    }));
    counts.users += 1;
  }
  // Owner-only: the file holds password hashes, and secrets when asked.
  await writeOwnerOnly(file, lines.length ? `${lines.join('\n')}\n` : '').catch((error: unknown) => {
    throw fileFlagError('write', file, error) ?? error;
  });
  await services.audit.record({ event: 'export.written', actor: 'cli', detail: { ...counts, include_secrets: includeSecrets } });
  return { file, include_secrets: includeSecrets, ...counts };
}

const CUT_OVER_COMMANDS: CliCommand[] = [
  {
    name: 'client update',
    usage: 'ID [--name N] [--description D] [--scope "s1 s2"] [--redirect-uris u1,u2] [--grant-types a,b] [--token-format opaque|jwt] [--post-logout-redirect-uris u1,u2]',
    summary: 'change a client (the same rules as client create)',
    flags: {
      name: { type: 'string', description: 'display name' },
      description: { type: 'string', description: 'description ("" removes it)' },
      scope: { type: 'string', multiple: true, description: 'the scopes it may ask for (replaces the list)' },
      'redirect-uris': { type: 'string', multiple: true, description: 'redirect URIs (replaces the list)' },
      'grant-types': { type: 'string', multiple: true, description: 'grant types (replaces the list)' },
      'token-format': { type: 'string', description: 'access token format: opaque or jwt' },
      'post-logout-redirect-uris': { type: 'string', multiple: true, description: 'post-logout redirect URIs (replaces the list)' },
    },
    async run(services, args, values) {
      const id = positional(args, 'a client id', 'client update');
      const format = oneOf(values, 'token-format', ['opaque', 'jwt'] as const);
      const client = await services.clients.update(id, {
        name: optional(values, 'name'),
        description: optional(values, 'description'),
        scope: optionalList(values, 'scope'),
        redirectUris: optionalList(values, 'redirect-uris'),
        grantTypes: optionalList(values, 'grant-types'),
        tokenFormat: format,
        postLogoutRedirectUris: optionalList(values, 'post-logout-redirect-uris'),
      }, { actor: 'cli' });
      return snakeClient(client);
    },
  },
  {
    name: 'client delete',
    usage: 'ID',
    summary: 'delete a client with every grant, code and token it holds',
    flags: {},
    async run(services, args) {
      const id = positional(args, 'a client id', 'client delete');
      await services.clients.delete(id, { actor: 'cli' });
      return { deleted: id };
    },
  },
  {
    name: 'client rotate-secret',
    usage: 'ID [--grace SECONDS] [--client-secret S]',
    summary: 'a new secret (shown once); the old one keeps working for --grace seconds, then stops',
    flags: {
      grace: { type: 'string', description: 'seconds the old secret keeps working (0 to 2592000; default 0: stops at once)' },
      'client-secret': { type: 'string', secret: true, description: `the new secret, when it already exists elsewhere (at least ${CLIENT_SECRET_MIN_LENGTH} characters; - reads it from standard input)` },
    },
    async run(services, args, values) {
      const id = positional(args, 'a client id', 'client rotate-secret');
      const graceText = optional(values, 'grace') ?? '0';
      if (!/^\d{1,8}$/.test(graceText)) throw new UsageError('--grace must be a whole number of seconds');
      const rotated = await services.clients.rotateSecret(id, Number(graceText), { actor: 'cli' }, optional(values, 'client-secret'));
      return { ...snakeClient(rotated.client, rotated.clientSecret), ...(rotated.previousValidUntil ? { previous_secret_valid_until: rotated.previousValidUntil } : {}) };
    },
  },
  {
    name: 'user list',
    usage: '[--search TEXT]',
    summary: 'list users (search matches username, email or name)',
    flags: { search: { type: 'string', description: 'text to look for in username, email or name' } },
    async run(services, _args, values) {
      const { accounts } = await services.accounts.list({ search: optional(values, 'search'), perPage: 1000 });
      return accounts.map(snakeUser);
    },
  },
  {
    name: 'user show',
    usage: 'ID|USERNAME',
    summary: 'show one user',
    flags: {},
    async run(services, args) {
      return snakeUser(await services.accounts.named(positional(args, 'a user id or username', 'user show')));
    },
  },
  {
    name: 'user update',
    usage: 'ID|USERNAME [--email E] [--name N] [--role R …] [--active true|false]',
    summary: 'change a user; --active false signs them out everywhere',
    flags: {
      email: { type: 'string', description: 'email address ("" removes it)' },
      name: { type: 'string', description: 'display name ("" removes it)' },
      role: { type: 'string', multiple: true, description: 'roles (replaces the list; --role "" removes all)' },
      active: { type: 'string', description: 'true or false; an inactive user cannot sign in' },
    },
    async run(services, args, values) {
      const account = await services.accounts.update((await services.accounts.named(positional(args, 'a user id or username', 'user update'))).id, {
        email: optional(values, 'email'),
        name: optional(values, 'name'),
        roles: optionalList(values, 'role'),
        active: optionalBoolean(values, 'active'),
      }, { actor: 'cli' });
      return snakeUser(account);
    },
  },
  {
    name: 'user set-password',
    usage: 'ID|USERNAME --password P',
    summary: 'set a user\'s password (hashed with argon2id)',
    flags: { password: { type: 'string', secret: true, description: 'the new password, 8 to 1024 characters (- reads it from standard input)' } },
    async run(services, args, values) {
      const account = await services.accounts.setPassword((await services.accounts.named(positional(args, 'a user id or username', 'user set-password'))).id, required(values, 'password'), { actor: 'cli' });
      return { ...snakeUser(account), password: 'set' };
    },
  },
  {
    name: 'user delete',
    usage: 'ID|USERNAME',
    summary: 'delete a user with their grants and every token issued under them',
    flags: {},
    async run(services, args) {
      const { account, revokedGrants } = await services.accounts.delete((await services.accounts.named(positional(args, 'a user id or username', 'user delete'))).id, { actor: 'cli' });
      return { deleted: account.id, username: account.username, revoked_grants: revokedGrants };
    },
  },
  importCommand('import northstar', '--file clients.json [--dry-run]',
    'clients from Northstar GET /v2/clients response bodies (one page, an array of pages, or a page a line)', parseNorthstarFile),
  importCommand('import clients', '--file F.jsonl|F.csv [--dry-run]',
    'clients with their secrets (columns: docs/moving-to-gatehouse/README.md)', parseClientsFile),
  importCommand('import users', '--file F.jsonl [--dry-run] [--skip-unverifiable]',
    'users with their password hashes (Django, bcrypt, PHC argon2/scrypt)', parseUsersFile, true),
  importDjangoOAuthToolkitCommand,
  importCommand('import gatehouse', '--file F.jsonl [--dry-run] [--skip-unverifiable]',
    'everything an `export` file holds (scopes, resource servers, clients, users)', parseExportFile, true),
  {
    name: 'export',
    usage: '--file F.jsonl [--include-secrets]',
    summary: 'scopes, resource servers, clients and users, as `import gatehouse` reads them (file mode 0600)',
    flags: {
      file: { type: 'string', description: 'the file to write' },
      'include-secrets': { type: 'boolean', description: 'client secrets in the clear (otherwise sealed with SECRETS_KEY, or hashed)' },
    },
    async run(services, _args, values) {
      return exportAll(services, values);
    },
  },
];

/** The table entry for the words typed, and the positional words after its name. */
/** Every command of the CLI, in the order `--help` lists them (a longer name before its prefix: `audit prune` before `audit`). */
export const COMMANDS: CliCommand[] = [...CORE_COMMANDS, ...CUT_OVER_COMMANDS, ...SESSION_COMMANDS];

export function findCommand(words: string[]): { command: CliCommand; args: string[] } | undefined {
  for (const command of COMMANDS) {
    const name = command.name.split(' ');
    if (name.every((word, i) => words[i] === word)) return { command, args: words.slice(name.length) };
  }
  return undefined;
}

/** parseArgs options for every flag in the table (a flag shared by several commands has one type). */
export function commandFlags(): Record<string, { type: 'string' | 'boolean'; multiple?: boolean }> {
  const flags: Record<string, { type: 'string' | 'boolean'; multiple?: boolean }> = {};
  for (const command of COMMANDS) {
    for (const [name, flag] of Object.entries(command.flags)) flags[name] = { type: flag.type, ...(flag.multiple ? { multiple: true } : {}) };
  }
  return flags;
}

/** One command's help: its usage, what it does, and every flag explained. */
export function commandHelp(command: CliCommand): string {
  const width = Math.max(6, ...Object.keys(command.flags).map((name) => name.length + 2));
  const flags = Object.entries(command.flags).map(([name, flag]) => `  --${name.padEnd(width)}  ${flag.description}`);
  return [
    `Usage: gatehouse ${command.name}${command.usage ? ` ${command.usage}` : ''}`,
    '',
    command.summary.charAt(0).toUpperCase() + command.summary.slice(1) + '.',
    '',
    'Options:',
    ...flags,
    `  --${'json'.padEnd(width)}  print JSON (errors too, on stderr)`,
    `  --${'help'.padEnd(width)}  this help`,
  ].join('\n');
}

/**
 * The commands a first word groups (`client` → `client create`, `client
 * list`, …), in the table's order; none when the word begins no longer name.
 */
export function commandGroup(word: string): CliCommand[] {
  return COMMANDS.filter((command) => command.name.startsWith(`${word} `));
}

/** `gatehouse client --help`: the usage lines of the group's commands. */
export function groupHelp(word: string): string {
  return [
    `Usage: gatehouse ${word} <command> [options]`,
    '',
    'Commands:',
    commandUsage(commandGroup(word)),
    '',
    `gatehouse ${word} <command> --help lists that command's options.`,
  ].join('\n');
}

/** The usage lines of the table's commands (or of some of them). */
export function commandUsage(commands: readonly CliCommand[] = COMMANDS): string {
  // As the hand-written lines above them: the summary beside a short usage, under a long one.
  return commands.map((command) => {
    const usage = `${command.name} ${command.usage}`;
    return usage.length <= 41 ? `  ${usage.padEnd(41)} ${command.summary}` : `  ${usage}\n${' '.repeat(44)}${command.summary}`;
  }).join('\n');
}

