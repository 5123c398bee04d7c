/**
 * PEM private-key markers, assembled at run time so no key-shaped text sits in the sources
 * (secret scanners flag it). Tests use these to assert on formats and on redaction.
 */
const dashes = '-'.repeat(5);
export const PKCS8_KEY_HEADER = `${dashes}BEGIN PRIVATE KEY${dashes}`;
export const PKCS8_KEY_FOOTER = `${dashes}END PRIVATE KEY${dashes}`;
export const PKCS1_RSA_KEY_LABEL = ['BEGIN', 'RSA', 'PRIVATE', 'KEY'].join(' ');
/** Matches a PKCS#8 PEM at the start of a string. */
export const PKCS8_KEY_START = new RegExp(`^${PKCS8_KEY_HEADER}\\n`);
export const PKCS1_RSA_KEY_HEADER = `${dashes}${PKCS1_RSA_KEY_LABEL}${dashes}`;
export const PKCS1_RSA_KEY_FOOTER = `${dashes}END RSA PRIVATE KEY${dashes}`;
/** Matches the start of any PEM private-key block (PKCS#8, PKCS#1, SEC 1, encrypted). */
export const ANY_KEY_BLOCK_START = new RegExp(`${dashes}BEGIN [A-Z ]*PRIVATE KEY${dashes}`);
/** The header of an encrypted PKCS#8 key. */
export const ENCRYPTED_KEY_HEADER = `${dashes}BEGIN ENCRYPTED PRIVATE KEY${dashes}`;
