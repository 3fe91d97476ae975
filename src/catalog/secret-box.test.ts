// Secrets at rest: AES-256-GCM round trip, random IVs, tamper detection, and the key errors word for word.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { redactText } from '../http/redact.ts';
import { openSecret, sealSecret, secretKey } from './secret-box.ts';

const hexKey = randomBytes(32).toString('hex');
const key = Buffer.from(hexKey, 'hex');

describe('secretKey', () => {
  it('takes 64 hex characters or base64 of 32 bytes', () => {
    expect(secretKey({ COINLAKE_SECRET_KEY: hexKey })).toEqual(key);
    expect(secretKey({ COINLAKE_SECRET_KEY: ` ${key.toString('base64')}\n` })).toEqual(key);
  });

  it('is a clear error when missing or of the wrong size', () => {
    expect(() => secretKey({})).toThrow(/^COINLAKE_SECRET_KEY is not set$/);
    expect(() => secretKey({ COINLAKE_SECRET_KEY: '  ' })).toThrow(/^COINLAKE_SECRET_KEY is not set$/);
    for (const bad of ['abc', hexKey.slice(2), randomBytes(16).toString('base64'), 'not base64 at all!']) {
      expect(() => secretKey({ COINLAKE_SECRET_KEY: bad })).toThrow(/^COINLAKE_SECRET_KEY must be 32 bytes \(64 hex characters or base64\)$/);
    }
  });
});

describe('sealSecret / openSecret', () => {
  const secret = `sk-${randomBytes(10).toString('hex')}`;

  it('round-trips, with a new random IV every time and no plaintext in the ciphertext', () => {
    const a = sealSecret(secret, 'COINCAP_ASSET', key);
    const b = sealSecret(secret, 'COINCAP_ASSET', key);
    expect(a).toMatch(/^v1:[A-Za-z0-9+/=]{16}:[A-Za-z0-9+/=]{24}:[A-Za-z0-9+/=]+$/);
    expect(a).not.toBe(b);
    expect(a.split(':')[1]).not.toBe(b.split(':')[1]);
    expect(a).not.toContain(secret);
    expect(openSecret(a, 'COINCAP_ASSET', key)).toBe(secret);
    expect(openSecret(b, 'COINCAP_ASSET', key)).toBe(secret);
  });

  it('registers what it decrypts, so redacted text masks it', () => {
    const fresh = `tok-${randomBytes(8).toString('hex')}`;
    const sealed = sealSecret(fresh, 'C', key);
    expect(redactText(`header Bearer ${fresh}`)).toBe(`header Bearer ${fresh}`);
    openSecret(sealed, 'C', key);
    expect(redactText(`header Bearer ${fresh}`)).toBe('header Bearer ***');
  });

  it('a wrong key, a changed byte anywhere, or another connection is detected', () => {
    const sealed = sealSecret(secret, 'COINCAP_ASSET', key);
    const message = 'cannot decrypt the secret of connection COINCAP_ASSET: wrong COINLAKE_SECRET_KEY or tampered ciphertext';
    expect(() => openSecret(sealed, 'COINCAP_ASSET', randomBytes(32))).toThrow(message);
    const [v, iv, tag, body] = sealed.split(':');
    const flip = (b64: string) => {
      const bytes = Buffer.from(b64, 'base64');
      bytes[bytes.length - 1] ^= 1;
      return bytes.toString('base64');
    };
    for (const tampered of [[v, flip(iv), tag, body], [v, iv, flip(tag), body], [v, iv, tag, flip(body)], ['v2', iv, tag, body], [v, iv, tag], [v, iv.slice(4), tag, body]]) {
      expect(() => openSecret(tampered.join(':'), 'COINCAP_ASSET', key)).toThrow(message);
    }
    expect(() => openSecret(sealed, 'COINCAP_RATES', key)).toThrow(
      'cannot decrypt the secret of connection COINCAP_RATES: wrong COINLAKE_SECRET_KEY or tampered ciphertext',
    );
  });
});
