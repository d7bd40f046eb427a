import type { FieldProblem } from '../errors/app-error.js';
import { displayTextProblems } from '../security/display-text.js';
import { applicationTypeOf, isPrivateUseUri, redirectUriProblem, serverCalledUriProblem } from './redirect-uris.js';

const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const DEVICE_CODE = 'urn:ietf:params:oauth:grant-type:device_code';

/** Every grant type a Gatehouse client may be registered for. */
export const GRANT_TYPES = [
  'authorization_code', 'client_credentials', 'refresh_token', 'password', TOKEN_EXCHANGE, DEVICE_CODE,
] as const;

/**
 * Grants whose only proof of who is asking is the client's own
 * authentication: client_credentials (RFC 6749 §4.4 "MUST only be used by
 * confidential clients"), password (§4.3.2, the client authenticates when it
 * can) and token exchange (RFC 8693 §2.1, the client is who the subject token
 * is handed to). A public client (token_endpoint_auth_method "none") has no
 * authentication, so with any of them whoever knows its client_id would get
 * its tokens.
 */
const AUTHENTICATED_CLIENT_GRANTS = ['client_credentials', 'password', TOKEN_EXCHANGE];

/** The grants after which Gatehouse issues a refresh token (client_credentials and token exchange never do). */
const REFRESH_TOKEN_ISSUING_GRANTS = ['authorization_code', 'password', DEVICE_CODE];

/** What a client may register for itself (RFC 7591): no password grant, token exchange or device flow without an administrator. */
const SELF_SERVICE_GRANTS = new Set(['authorization_code', 'refresh_token', 'client_credentials']);

/**
 * Who is making or changing the client, and what the scope registry holds.
 * - `administrator`: the CLI, Northstar, Lux adjust/, the dashboard.
 * - `self-service`: RFC 7591 registration and RFC 7592 updates, gated only by
 *   an initial access token: never administrative scopes or grants.
 * - `stored`: a client read back from storage as the provider builds it. Only
 *   the rules whose breach hands out tokens apply, so that a record written
 *   before a rule existed stops working rather than stays exploitable, while
 *   merely untidy records (say refresh_token beside client_credentials) keep
 *   working until someone changes them.
 */
export interface RuleContext {
  origin: 'administrator' | 'self-service' | 'stored';
  /** Scopes of the registry; scope rules are skipped when absent. */
  registeredScopes?: ReadonlySet<string>;
  /** Scopes flagged `warning` in the registry: only an administrator may grant them. */
  restrictedScopes?: ReadonlySet<string>;
  /**
   * ALLOW_LOOPBACK_CALLBACKS (development and tests only): the server may
   * call this machine (serverCalledUriProblem), so a URI it calls may name
   * 127.0.0.1, [::1] or localhost. Absent: it may not.
   */
  allowLoopbackCallbacks?: boolean;
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : [];
}

/** The fields the rules below read as lists of strings, and as strings (RFC 7591 §2 defines their types). */
const LIST_FIELDS = ['grant_types', 'redirect_uris', 'post_logout_redirect_uris'] as const;
const STRING_FIELDS = ['scope', 'backchannel_logout_uri', 'jwks_uri', 'sector_identifier_uri'] as const;

/**
 * A field present with the wrong type is the client's mistake, said as
 * such: never read as absent, which would give it a default (a scope of
 * `["admin"]` would be registered as `openid profile email`) or a refusal
 * about something missing. Only `undefined` is absent (RFC 7592 updates drop null and ""
 * before the rules see them, as oidc-provider reads §2.2).
 */
function typeProblems(metadata: Record<string, unknown>): FieldProblem[] {
  const problems: FieldProblem[] = [];
  for (const field of LIST_FIELDS) {
    const value = metadata[field];
    if (value !== undefined && !(Array.isArray(value) && value.every((item) => typeof item === 'string'))) {
      problems.push({ field, message: 'must be a list of strings' });
    }
  }
  for (const field of STRING_FIELDS) {
    if (metadata[field] !== undefined && typeof metadata[field] !== 'string') {
      problems.push({ field, message: field === 'scope' ? 'must be a string of scope names separated by spaces' : 'must be a string' });
    }
  }
  return problems;
}

/** Public clients: nothing that relies on client authentication. */
function publicClientProblems(metadata: Record<string, unknown>, grants: string[]): FieldProblem[] {
  if (metadata.token_endpoint_auth_method !== 'none') return [];
  const forbidden = grants.filter((grant) => AUTHENTICATED_CLIENT_GRANTS.includes(grant));
  return forbidden.length
    ? [{ field: 'grant_types', message: `a public client (token_endpoint_auth_method none) cannot use ${forbidden.join(', ')}: these grants rely on client authentication` }]
    : [];
}

function grantProblems(grants: string[], context: RuleContext): FieldProblem[] {
  const problems: FieldProblem[] = [];
  if (!grants.length) problems.push({ field: 'grant_types', message: 'at least one is required' });
  for (const grant of grants) {
    if (!(GRANT_TYPES as readonly string[]).includes(grant)) {
      problems.push({ field: 'grant_types', message: `"${grant}" is not one of ${GRANT_TYPES.join(', ')}` });
    } else if (context.origin === 'self-service' && !SELF_SERVICE_GRANTS.has(grant)) {
      problems.push({ field: 'grant_types', message: `grant type ${grant} cannot be registered dynamically` });
    }
  }
  // A refresh_token grant with nothing that issues one is a mistake that
  // would otherwise go unnoticed until the first refresh (RFC 6749 §1.5).
  if (grants.includes('refresh_token') && !grants.some((grant) => REFRESH_TOKEN_ISSUING_GRANTS.includes(grant))) {
    problems.push({ field: 'grant_types', message: `refresh_token needs a grant that issues refresh tokens (${REFRESH_TOKEN_ISSUING_GRANTS.join(', ')})` });
  }
  return problems;
}

function redirectProblems(metadata: Record<string, unknown>, grants: string[]): FieldProblem[] {
  const problems: FieldProblem[] = [];
  const redirectUris = strings(metadata.redirect_uris);
  if (grants.includes('authorization_code') && !redirectUris.length) {
    problems.push({ field: 'redirect_uris', message: 'authorization_code needs at least one redirect URI' });
  }
  const native = applicationTypeOf(metadata) === 'native';
  for (const [field, uris] of [['redirect_uris', redirectUris], ['post_logout_redirect_uris', strings(metadata.post_logout_redirect_uris)]] as const) {
    for (const uri of uris) {
      const problem = redirectUriProblem(uri);
      if (problem) problems.push({ field, message: `${uri} ${problem}` });
      // oidc-provider refuses it too ("must only contain web uris"), without
      // saying what would make the client a native app (redirect-uris.ts).
      else if (!native && isPrivateUseUri(uri)) {
        problems.push({ field, message: `${uri} is a private-use scheme, which only a native app may register: a public client whose every redirect URI is a private-use scheme or loopback http (RFC 8252 §7.1, §7.3)` });
      }
    }
  }
  return problems;
}

/**
 * The client metadata naming a URI the server itself calls, not the user's
 * browser: back-channel logout tokens are POSTed to `backchannel_logout_uri`
 * (OpenID Connect Back-Channel Logout 1.0 §2.5), the client's keys are
 * fetched from `jwks_uri` (for private_key_jwt and signed request objects),
 * and oidc-provider fetches `sector_identifier_uri` as the client is
 * registered (OpenID Connect Core §8.1). Gatehouse enables no other
 * (`request_uris` is gone from oidc-provider 9, CIBA's notification endpoint
 * is off).
 */
const SERVER_CALLED_URI_FIELDS = ['backchannel_logout_uri', 'jwks_uri', 'sector_identifier_uri'] as const;

/**
 * URIs the server calls, against their own rule (redirect-uris.ts,
 * serverCalledUriProblem), never the redirect URIs' loopback leeway: a
 * registrant must not point the server at its own network (blind SSRF).
 * Stored clients are not judged again here: the outgoing call is refused by
 * oidc-provider's own guard at call time.
 */
function serverCalledUriProblems(metadata: Record<string, unknown>, context: RuleContext): FieldProblem[] {
  const problems: FieldProblem[] = [];
  for (const field of SERVER_CALLED_URI_FIELDS) {
    const uri = metadata[field];
    if (typeof uri !== 'string') continue;
    const problem = serverCalledUriProblem(uri, { allowLoopback: context.allowLoopbackCallbacks === true });
    if (problem) problems.push({ field, message: `${uri} ${problem}` });
  }
  return problems;
}

function scopeProblems(metadata: Record<string, unknown>, context: RuleContext): FieldProblem[] {
  const scope = typeof metadata.scope === 'string' ? metadata.scope.split(' ').filter(Boolean) : [];
  // oidc-provider reads a client without `scope` as "any scope": never store one.
  if (!scope.length) return [{ field: 'scope', message: 'at least one registered scope is required' }];
  const problems: FieldProblem[] = [];
  const unknown = context.registeredScopes ? scope.filter((name) => !context.registeredScopes!.has(name)) : [];
  if (unknown.length) problems.push({ field: 'scope', message: `unknown scope${unknown.length > 1 ? 's' : ''}: ${unknown.join(', ')}` });
  if (context.origin === 'self-service' && context.restrictedScopes) problems.push(...restrictedScopeProblems(metadata, context.restrictedScopes));
  return problems;
}

/**
 * The self-service rule on its own: a client describing itself may not ask
 * for a scope only an administrator may grant (`restricted`). The
 * registration policy applies it with the registry as it is now.
 */
export function restrictedScopeProblems(metadata: Record<string, unknown>, restricted: ReadonlySet<string>): FieldProblem[] {
  const scope = typeof metadata.scope === 'string' ? metadata.scope.split(' ').filter(Boolean) : [];
  const refused = scope.filter((name) => restricted.has(name));
  return refused.length ? [{ field: 'scope', message: `scope ${refused.join(', ')} needs an administrator` }] : [];
}

/** Client metadata: an administrator waived the consent page for this client (an imported one whose old server never asked). */
export const SKIP_CONSENT = 'skip_consent';

/** Properties only an administrator may set: they waive the consent page or change token lifetimes (provider/lifetimes.ts). */
const ADMINISTRATOR_ONLY_PROPERTIES = [SKIP_CONSENT, 'dialect_lifetimes'];

/**
 * The longest name any client may have, whoever names it (the CLI,
 * Northstar, Lux adjust/, the dashboard, an import, RFC 7591): pages and
 * lists show it whole, and PostgreSQL's name index (clients_name, on
 * lower(client_name)) must hold it, which a few thousand characters overflow.
 * Northstar's `title` and Lux's `client_name` have the same bound in their
 * request schemas. Counted in characters (code points), as those are.
 */
export const CLIENT_NAME_MAX = 200;

/** The longest name a client may give itself: pages show it whole, beside where it sends the user. */
export const SELF_SERVICE_NAME_MAX = 100;

/**
 * Names a client may not give itself. Gatehouse's own clients are named for
 * it ("Gatehouse dashboard", src/admin/dashboard/registration.ts), so the
 * product name at the start covers every reserved client's name and the
 * ones to come; a self-registered "Gatehouse …" would borrow the trust of
 * the server's own pages (RFC 7591 §5).
 */
const RESERVED_NAME_PREFIX = 'gatehouse';

/**
 * A name as a reader sees it: NFKC (so full-width or ligature letters read
 * as the plain ones), without invisible format and control characters (a
 * zero-width space between letters), trimmed, in one case.
 */
function nameAsRead(name: string): string {
  return name.normalize('NFKC').replace(/[\p{Cf}\p{Cc}]/gu, '').trim().toLowerCase();
}

/**
 * `client_name`, shown to users as the client's identity: never longer than
 * CLIENT_NAME_MAX on any surface; when the client registers itself (RFC
 * 7591), at most SELF_SERVICE_NAME_MAX and never Gatehouse's own.
 */
function nameProblems(metadata: Record<string, unknown>, context: RuleContext): FieldProblem[] {
  const name = metadata.client_name;
  if (name === undefined) return [];
  if (typeof name !== 'string') return [{ field: 'client_name', message: 'must be a string' }];
  const selfService = context.origin === 'self-service';
  const max = selfService ? SELF_SERVICE_NAME_MAX : CLIENT_NAME_MAX;
  if ([...name].length > max) return [{ field: 'client_name', message: `must be at most ${max} characters` }];
  if (selfService && nameAsRead(name).startsWith(RESERVED_NAME_PREFIX)) {
    return [{ field: 'client_name', message: 'may not start with "Gatehouse": that name is reserved for Gatehouse\'s own applications' }];
  }
  return [];
}

function selfServiceProblems(metadata: Record<string, unknown>, context: RuleContext): FieldProblem[] {
  if (context.origin !== 'self-service') return [];
  return ADMINISTRATOR_ONLY_PROPERTIES.filter((name) => metadata[name] !== undefined)
    .map((name) => ({ field: name, message: 'can only be set by an administrator' }));
}

/** Metadata that is never shown to anyone: the secret, which has rules of its own (given-secrets.ts). */
const NEVER_SHOWN = new Set(['client_secret']);
// Typed in a textarea (the console's client form): line breaks are the writer's, not an injection.
const PARAGRAPHS = new Set(['description']);

/**
 * Every string of the metadata (name, description, contacts, every URI,
 * scope, grant types…), not only those shown today, against the rule for
 * text shown to people (security/display-text.ts): pages, the CLI, the admin
 * APIs and logs show any of them, and no field of a client's metadata needs
 * a control or invisible formatting character.
 */
function displayProblems(metadata: Record<string, unknown>): FieldProblem[] {
  return displayTextProblems(Object.fromEntries(Object.entries(metadata).filter(([field]) => !NEVER_SHOWN.has(field))), PARAGRAPHS);
}

/**
 * The client service's names for metadata it takes under another name
 * (NewClient.name): each administrator surface maps the service's names to
 * its own words (Northstar's `title`, the console's `name` field).
 */
const ADMINISTRATOR_FIELD_NAMES: Readonly<Record<string, string>> = { client_name: 'name' };

function inWordsOf(context: RuleContext, problems: FieldProblem[]): FieldProblem[] {
  if (context.origin !== 'administrator') return problems;
  return problems.map((problem) => ({ ...problem, field: ADMINISTRATOR_FIELD_NAMES[problem.field] ?? problem.field }));
}

/**
 * The one rule set for client metadata (RFC 7591 §2 names), whichever
 * surface makes or changes the client: the client service applies it for the
 * CLI, Northstar, Lux and the dashboard; the provider applies it to RFC 7591
 * registrations and RFC 7592 updates (provider/registration.ts) and, for the
 * `stored` rules, to every client it builds. Fields have their RFC 7591
 * names, but for the client service (`administrator`), which calls
 * `client_name` `name`. An empty list means acceptable.
 */
export function clientMetadataProblems(metadata: Record<string, unknown>, context: RuleContext): FieldProblem[] {
  const grants = [...new Set(strings(metadata.grant_types))];
  if (context.origin === 'stored') return publicClientProblems(metadata, grants);
  const wrongType = typeProblems(metadata);
  const mistyped = new Set(wrongType.map((problem) => problem.field));
  const notText = [...wrongType, ...displayProblems(metadata).filter((problem) => !mistyped.has(problem.field))];
  const reportedAlone = new Set(notText.map((problem) => problem.field));
  // A field of the wrong type, or not text, is reported as that alone: the
  // other rules would read it as missing, and their messages quote the
  // value, which would print what was refused.
  const others = [
    ...grantProblems(grants, context),
    ...publicClientProblems(metadata, grants),
    ...redirectProblems(metadata, grants),
    ...scopeProblems(metadata, context),
    ...serverCalledUriProblems(metadata, context),
    ...nameProblems(metadata, context),
    ...selfServiceProblems(metadata, context),
  ].filter((problem) => !reportedAlone.has(problem.field));
  return inWordsOf(context, [...notText, ...others]);
}
