// Connection secrets at rest: AES-256-GCM with a random 12-byte IV, the key from COINLAKE_SECRET_KEY, the
// connection name as associated data (a ciphertext copied to another connection does not open).
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { ConfigError, TerminalError } from '../core/errors.ts';
import { registerSecret } from '../http/redact.ts';

const VERSION = 'v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_HINT = 'generate one with `openssl rand -hex 32` and keep it outside the warehouse (the same key must be set wherever jobs run)';

/** The 32-byte key from COINLAKE_SECRET_KEY (64 hex characters, or base64); a ConfigError when missing or malformed. */
export function secretKey(env: NodeJS.ProcessEnv = process.env): Buffer {
  const text = env.COINLAKE_SECRET_KEY?.trim();
  if (!text) throw new ConfigError('COINLAKE_SECRET_KEY is not set', { hint: KEY_HINT });
  const key = /^[0-9a-fA-F]{64}$/.test(text)
    ? Buffer.from(text, 'hex')
    : /^[A-Za-z0-9+/_-]+={0,2}$/.test(text)
      ? Buffer.from(text, 'base64')
      : Buffer.alloc(0);
  if (key.length !== 32) throw new ConfigError('COINLAKE_SECRET_KEY must be 32 bytes (64 hex characters or base64)', { hint: KEY_HINT });
  return key;
}

/** Encrypts a connection's secret: `v1:<iv>:<tag>:<ciphertext>`, each part base64. A new random IV every call. */
export function sealSecret(plain: string, connection: string, key: Buffer): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(connection, 'utf8'));
  const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
  return [VERSION, iv.toString('base64'), cipher.getAuthTag().toString('base64'), body.toString('base64')].join(':');
}

/**
 * Decrypts a connection's secret and registers it for redaction, so logs and error messages mask it from then on.
 * A wrong key, a changed ciphertext or one sealed for another connection gives the same TerminalError.
 */
export function openSecret(sealed: string, connection: string, key: Buffer): string {
  const fail = () =>
    new TerminalError(`cannot decrypt the secret of connection ${connection}: wrong COINLAKE_SECRET_KEY or tampered ciphertext`, {
      hint: `set the key the secret was stored with, or store it again: coinlake catalog set-secret ${connection}`,
    });
  const [version, iv, tag, body, ...rest] = sealed.split(':');
  if (version !== VERSION || rest.length || !iv || !tag || body === undefined) throw fail();
  const ivBytes = Buffer.from(iv, 'base64');
  const tagBytes = Buffer.from(tag, 'base64');
  if (ivBytes.length !== IV_BYTES || tagBytes.length !== TAG_BYTES) throw fail();
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, ivBytes);
    decipher.setAAD(Buffer.from(connection, 'utf8'));
    decipher.setAuthTag(tagBytes);
    const plain = Buffer.concat([decipher.update(Buffer.from(body, 'base64')), decipher.final()]).toString('utf8');
    registerSecret(plain);
    return plain;
  } catch {
    throw fail();
  }
}
