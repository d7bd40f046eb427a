import { dialectErrorMapping } from '../shared/dialect-errors.js';
import { rfc6749Error } from '../shared/oauth-error.js';

/** django-oauth-toolkit (oauthlib) errors: the RFC 6749 shape, for everything that can go wrong. */
export const dotErrors = dialectErrorMapping(rfc6749Error);
