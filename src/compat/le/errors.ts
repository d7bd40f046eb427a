import { dialectErrorMapping } from '../shared/dialect-errors.js';
import { rfc6749Error } from '../shared/oauth-error.js';

/** LE Enterprise errors: the RFC 6749 shape, for everything that can go wrong. */
export const leErrors = dialectErrorMapping(rfc6749Error);
