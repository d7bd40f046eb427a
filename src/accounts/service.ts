import { randomUUID } from 'node:crypto';
import { type AccountRecord, AccountsStore, DuplicateUsernameError } from '../../adapters/sql/accounts-store.js';
import { ConflictError, type FieldProblem, ValidationError } from '../errors/app-error.js';
import { burnVerification, hashPassword, verifyPassword } from './passwords.js';
import { USERNAME_CHARACTERS, usernameKey } from './usernames.js';

export interface NewAccount {
  username: string;
  password: string;
  roles?: string[];
  email?: string;
  name?: string;
}

export type Account = Omit<AccountRecord, 'passwordHash' | 'usernameKey'>;

const ROLE = /^[a-z][a-z0-9_-]{0,31}$/;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
// Long enough to resist guessing; bounded so hashing cannot be used to burn CPU.
const PASSWORD_MIN = 8;
const PASSWORD_MAX = 1024;

function publicView(record: AccountRecord): Account {
  const { passwordHash: _hidden, usernameKey: _internal, ...account } = record;
  return account;
}

/** End-user accounts: creation with argon2id hashes, and sign-in checks. */
export class AccountService {
  constructor(private readonly store: AccountsStore) {}

  async create(input: NewAccount): Promise<Account> {
    const problems: FieldProblem[] = [];
    if (!USERNAME_CHARACTERS.test(input.username ?? '')) {
      problems.push({ field: 'username', message: 'must be 1-64 characters of letters, digits and . _ @ + -' });
    }
    if (typeof input.password !== 'string' || input.password.length < PASSWORD_MIN || input.password.length > PASSWORD_MAX) {
      problems.push({ field: 'password', message: `must be ${PASSWORD_MIN} to ${PASSWORD_MAX} characters` });
    }
    for (const role of input.roles ?? []) {
      if (!ROLE.test(role)) problems.push({ field: 'role', message: `"${role}" is not a valid role name` });
    }
    if (input.email !== undefined && !EMAIL.test(input.email)) {
      problems.push({ field: 'email', message: 'is not an email address' });
    }
    if (problems.length) throw new ValidationError(problems);

    try {
      const record = await this.store.insert({
        id: randomUUID(),
        username: input.username,
        usernameKey: usernameKey(input.username),
        passwordHash: await hashPassword(input.password),
        roles: [...new Set(input.roles ?? [])],
        email: input.email ?? null,
        emailVerified: false,
        name: input.name ?? null,
      });
      return publicView(record);
    } catch (error) {
      // Also when only the spelling differs (`Alice` for `alice`): see usernameKey.
      if (error instanceof DuplicateUsernameError) throw new ConflictError('username', `username "${input.username}" is already taken`);
      throw error;
    }
  }

  /** The account when username and password match; `undefined` otherwise, in the same time either way. */
  async authenticate(username: string, password: string): Promise<Account | undefined> {
    if (!username || !password || password.length > PASSWORD_MAX || username.length > 256) {
      await burnVerification('x');
      return undefined;
    }
    const record = await this.store.findByUsernameKey(usernameKey(username));
    if (!record) {
      await burnVerification(password);
      return undefined;
    }
    return (await verifyPassword(record.passwordHash, password)) ? publicView(record) : undefined;
  }

  async findById(id: string): Promise<Account | undefined> {
    const record = await this.store.findById(id);
    return record ? publicView(record) : undefined;
  }
}
