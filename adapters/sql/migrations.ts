/**
 * Schema migrations, applied in order by `migrate` and at start-up. A
 * migration is never edited once released: add a new one instead.
 */
export interface Migration {
  id: string;
  sql: string;
}

export const migrations: Migration[] = [
  {
    id: '0001_initial',
    sql: `
      -- Every oidc-provider artifact lives here: durable models (Grant,
      -- RefreshToken, …) always, ephemeral ones (codes, sessions, …) when no
      -- Redis is configured. expires_at NULL means "does not expire".
      CREATE TABLE oidc_payloads (
        model text NOT NULL,
        id text NOT NULL,
        payload jsonb NOT NULL,
        grant_id text,
        client_id text,
        uid text,
        user_code text,
        expires_at timestamptz,
        consumed_at timestamptz,
        PRIMARY KEY (model, id)
      );
      CREATE INDEX oidc_payloads_grant_id ON oidc_payloads (grant_id) WHERE grant_id IS NOT NULL;
      CREATE INDEX oidc_payloads_client_id ON oidc_payloads (model, client_id) WHERE client_id IS NOT NULL;
      CREATE UNIQUE INDEX oidc_payloads_uid ON oidc_payloads (model, uid) WHERE uid IS NOT NULL;
      CREATE UNIQUE INDEX oidc_payloads_user_code ON oidc_payloads (model, user_code) WHERE user_code IS NOT NULL;
      CREATE INDEX oidc_payloads_expires_at ON oidc_payloads (expires_at) WHERE expires_at IS NOT NULL;

      -- Registered clients: metadata is the oidc-provider client metadata
      -- document (RFC 7591 names) plus Gatehouse's own properties.
      CREATE TABLE clients (
        client_id text PRIMARY KEY,
        metadata jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX clients_name ON clients ((lower(metadata->>'client_name')));

      CREATE TABLE accounts (
        id text PRIMARY KEY,
        username text NOT NULL,
        password_hash text NOT NULL,
        roles jsonb NOT NULL DEFAULT '[]',
        email text,
        email_verified boolean NOT NULL DEFAULT false,
        name text,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE UNIQUE INDEX accounts_username ON accounts (lower(username));

      CREATE TABLE scopes (
        name text PRIMARY KEY,
        description text NOT NULL,
        warning boolean NOT NULL DEFAULT false,
        created_at timestamptz NOT NULL DEFAULT now()
      );
      INSERT INTO scopes (name, description, warning) VALUES
        ('openid', 'Sign you in and tell the application who you are.', false),
        ('profile', 'Read your name and username.', false),
        ('email', 'Read your email address.', false),
        ('offline_access', 'Stay signed in: keep access while you are away (refresh tokens).', false),
        ('read', 'Read data on your behalf.', false),
        ('write', 'Change data on your behalf.', false),
        ('user', 'Act on your own user account.', false),
        ('admin', 'Full administrative access: manage clients, users, scopes and keys.', true),
        ('role:admin', 'Use your administrator role, if your account has one.', true),
        ('role:staff', 'Use your staff role, if your account has one.', false);

      -- Signing keys (use = 'sig', private JWK) and cookie keys (use = 'cookie').
      -- The newest key of a use is the active one; older ones are kept so
      -- that what they signed still verifies.
      CREATE TABLE keys (
        kid text PRIMARY KEY,
        use text NOT NULL CHECK (use IN ('sig', 'cookie')),
        alg text,
        material jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX keys_use_created ON keys (use, created_at DESC);
    `,
  },
  {
    id: '0002_northstar_scope_descriptions',
    sql: `
      -- The Northstar document's own wording for the scopes it defines.
      UPDATE scopes SET description = 'Allows this client to act as an administrator if the user has that role.' WHERE name = 'role:admin';
      UPDATE scopes SET description = 'Allows this client to act as a staff member if the user has that role.' WHERE name = 'role:staff';
      UPDATE scopes SET description = 'Grant administrative privileges to this token, whether or not the user has the admin role.' WHERE name = 'admin';
      UPDATE scopes SET description = 'Allows actions to be made on a user''s behalf.' WHERE name = 'user';
      -- role:admin grants administrative power only with an admin user; it is
      -- still flagged so that consent pages and admins see it stand out.
    `,
  },
  {
    id: '0003_audit_and_key_retirement',
    sql: `
      -- Append-only: Gatehouse only ever inserts here (and reads).
      CREATE TABLE audit_events (
        id bigserial PRIMARY KEY,
        at timestamptz NOT NULL DEFAULT now(),
        event text NOT NULL,
        actor text,
        client_id text,
        ip text,
        detail jsonb NOT NULL DEFAULT '{}'
      );
      CREATE INDEX audit_events_at ON audit_events (at);
      CREATE INDEX audit_events_client ON audit_events (client_id, at) WHERE client_id IS NOT NULL;

      -- A retired signing key is no longer published in JWKS.
      ALTER TABLE keys ADD COLUMN retired_at timestamptz;
    `,
  },
  {
    id: '0004_attempt_counters',
    sql: `
      -- Short-lived counters (failed sign-ins, device-code polls) when no
      -- Redis is configured. Rows past expires_at are dead and swept.
      CREATE TABLE attempt_counters (
        key text PRIMARY KEY,
        count integer NOT NULL,
        last_at timestamptz NOT NULL,
        expires_at timestamptz NOT NULL
      );
      CREATE INDEX attempt_counters_expires_at ON attempt_counters (expires_at);
    `,
  },
  {
    id: '0005_resource_servers',
    sql: `
      -- RFC 8707 resource servers besides Gatehouse's own API: the audience
      -- of their tokens, the scopes they understand and the token format.
      CREATE TABLE resource_servers (
        uri text PRIMARY KEY,
        scope text NOT NULL,
        token_format text NOT NULL CHECK (token_format IN ('opaque', 'jwt')),
        access_token_ttl integer,
        created_at timestamptz NOT NULL DEFAULT now()
      );
    `,
  },
  {
    id: '0006_secrets_at_rest',
    sql: `
      -- Client secrets leave the metadata document: a keyed hash for
      -- authentication, and a sealed (AES-256-GCM) copy for the admin surfaces
      -- whose documents show the secret again. Neither opens without
      -- SECRETS_KEY, which is never stored here. Rows written before this
      -- migration are converted at start-up (it needs that key, so SQL cannot).
      ALTER TABLE clients ADD COLUMN secret_hash text, ADD COLUMN secret_sealed text;
      -- Private key material is sealed the same way; only the public JWK of a
      -- signing key stays readable in material.
      ALTER TABLE keys ADD COLUMN sealed text;
    `,
  },
  {
    id: '0007_resource_server_signing_alg',
    sql: `
      -- The JWS algorithm of a resource server's JWT access tokens.
      ALTER TABLE resource_servers ADD COLUMN signing_alg text NOT NULL DEFAULT 'RS256'
        CHECK (signing_alg IN ('RS256', 'ES256', 'EdDSA'));
    `,
  },
  {
    id: '0008_username_key',
    sql: `
      -- Sign-in compares the key the application derives from a username
      -- (src/accounts/usernames.ts: NFKC, lower case), never SQL lower(),
      -- whose mapping depends on the locale and differs from the one the
      -- brute-force counters used (U+0130 İ). Usernames were always created
      -- from ASCII letters, digits and . _ @ + -, for which that key is the
      -- ASCII lower case: COLLATE "C" makes lower() do exactly that.
      ALTER TABLE accounts ADD COLUMN username_key text;
      UPDATE accounts SET username_key = lower(username COLLATE "C");
      ALTER TABLE accounts ALTER COLUMN username_key SET NOT NULL;
      DROP INDEX accounts_username;
      CREATE UNIQUE INDEX accounts_username_key ON accounts (username_key);
    `,
  },
  {
    id: '0009_attempt_members',
    sql: `
      -- Short-lived sets when no Redis is configured: which client networks
      -- failed to authenticate as one client or username, so a distributed
      -- guessing attack is told apart from one source. Rows past expires_at
      -- are dead and swept.
      CREATE TABLE attempt_members (
        key text NOT NULL,
        member text NOT NULL,
        expires_at timestamptz NOT NULL,
        PRIMARY KEY (key, member)
      );
      CREATE INDEX attempt_members_expires_at ON attempt_members (expires_at);
      `,
    },
    {
    id: '0010_account_status_imports_and_secret_rotation',
    sql: `
      -- Accounts brought across from another system can be inactive (Django's
      -- is_active); an inactive account cannot sign in. imported_password_hash
      -- is the hash the source system last gave, so a re-run of the import can
      -- tell "unchanged at the source" (keep the argon2id that replaced it at
      -- the first sign-in) from "changed at the source" (take the new one).
      ALTER TABLE accounts ADD COLUMN active boolean NOT NULL DEFAULT true,
        ADD COLUMN imported_password_hash text;
      -- client rotate-secret --grace: the secret being replaced keeps working
      -- until previous_secret_until, so a client can switch without downtime.
      ALTER TABLE clients ADD COLUMN previous_secret_hash text,
        ADD COLUMN previous_secret_until timestamptz;
    `,
  },
  {
    id: '0011_console_lookups',
    sql: `
      -- An account's grants are listed on its admin page and its own account
      -- page (issue 18), so they are found through an index rather than a
      -- scan of every grant; only Grant rows carry accountId at the top level.
      CREATE INDEX oidc_payloads_grant_account ON oidc_payloads ((payload->>'accountId')) WHERE model = 'Grant';
      -- The console's user list is in username order, twenty at a time: with
      -- this index a page reads its twenty rows instead of sorting them all.
      CREATE INDEX accounts_username_order ON accounts (username, id);
      -- The console's audit page filters by actor and by action, newest first.
      CREATE INDEX audit_events_actor ON audit_events (actor, at) WHERE actor IS NOT NULL;
      CREATE INDEX audit_events_event ON audit_events (event, at);
    `,
  },
  {
    id: '0012_sign_in_sessions_reset_links_client_dialects',
    sql: `
      -- Sign-in sessions by account (issue 18) when no Redis holds sessions:
      -- oidc-provider finds a session by id only. Rows past expires_at are
      -- dead (never answered) and swept.
      CREATE TABLE sign_in_sessions (
        session_uid text PRIMARY KEY,
        account_id text NOT NULL,
        signed_in_at timestamptz NOT NULL,
        ip text,
        user_agent text,
        last_seen_at timestamptz NOT NULL,
        expires_at timestamptz NOT NULL
      );
      CREATE INDEX sign_in_sessions_account ON sign_in_sessions (account_id, expires_at);
      CREATE INDEX sign_in_sessions_recent ON sign_in_sessions (expires_at DESC, session_uid);
      -- One-time password-reset links: the secret half only as a hash.
      CREATE TABLE password_reset_links (
        id text PRIMARY KEY,
        account_id text NOT NULL,
        secret_hash text NOT NULL,
        created_by text,
        created_at timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz NOT NULL,
        used_at timestamptz
      );
      CREATE INDEX password_reset_links_expires_at ON password_reset_links (expires_at);
      -- The dialects each client obtains tokens through (tokens do not record it).
      CREATE TABLE client_dialects (
        client_id text NOT NULL,
        dialect text NOT NULL,
        first_used_at timestamptz NOT NULL,
        last_used_at timestamptz NOT NULL,
        PRIMARY KEY (client_id, dialect)
      );
    `,
  },
  {
    id: '0013_account_search_trigrams',
    sql: `
      -- The console's user search matches any part of username, email or
      -- name (lower(column) LIKE '%…%'), which only a trigram index serves.
      -- pg_trgm ships with PostgreSQL (and is loaded into the embedded
      -- database); where a server refuses the extension (a role without
      -- CREATE on the database), search still works, scanning the table.
      DO $$
      BEGIN
        CREATE EXTENSION IF NOT EXISTS pg_trgm;
      EXCEPTION WHEN OTHERS THEN
        RAISE NOTICE 'pg_trgm unavailable (%): account search will scan the table', SQLERRM;
      END
      $$;
      DO $$
      BEGIN
        IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN
          CREATE INDEX accounts_username_trigrams ON accounts USING gin (lower(username) gin_trgm_ops);
          CREATE INDEX accounts_email_trigrams ON accounts USING gin (lower(coalesce(email, '')) gin_trgm_ops);
          CREATE INDEX accounts_name_trigrams ON accounts USING gin (lower(coalesce(name, '')) gin_trgm_ops);
        END IF;
      END
      $$;
    `,
  },
  {
    id: '0014_import_fingerprints',
    sql: `
      -- What an import source said about each record it brought across, at
      -- the last import (a keyed digest per field): a re-run writes only what
      -- changed at the source, never undoing a change made in Gatehouse since.
      -- Kept when the record is deleted, so a re-run does not bring it back.
      CREATE TABLE import_fingerprints (
        kind text NOT NULL,
        key text NOT NULL,
        fields jsonb NOT NULL,
        recorded_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (kind, key)
      );
    `,
  },
  {
    id: '0015_import_fingerprints_per_source',
    sql: `
      -- Each import source keeps its own fingerprints: an import of an export
      -- overwrote what django-oauth-toolkit (or a file) had said, and the next
      -- run of that import took the difference for a change at the source.
      -- Rows from before have the source '' (any source, until one records its own).
      ALTER TABLE import_fingerprints ADD COLUMN source text NOT NULL DEFAULT '';
      ALTER TABLE import_fingerprints DROP CONSTRAINT import_fingerprints_pkey;
      ALTER TABLE import_fingerprints ADD PRIMARY KEY (kind, source, key);
    `,
  },
];
