// Keeps secrets out of logs and errors: query parameters and headers that carry keys are masked.

const SECRET_PARAMS = /^(api[-_]?key|apikey|key|token|access[-_]?token|secret|password|signature)$/i;
const SECRET_HEADERS = /^(authorization|x-api-key|x-mbx-apikey|cookie|proxy-authorization)$/i;

/** Secret values registered at run time (decrypted connection secrets); masked wherever they appear. */
const knownSecrets = new Set<string>();

/** Registers a secret value so that every redacted text masks it. */
export function registerSecret(value: string | undefined): void {
  if (value && value.length >= 4) knownSecrets.add(value);
}

/** Masks registered secrets inside any text (messages, log lines). */
export function redactText(text: string): string {
  let out = text;
  for (const s of knownSecrets) out = out.split(s).join('***');
  return out;
}

/** URL with secret query parameters and userinfo masked. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    for (const k of [...u.searchParams.keys()]) {
      if (SECRET_PARAMS.test(k)) u.searchParams.set(k, '***');
    }
    return redactText(u.toString().replace(/%2A%2A%2A/g, '***'));
  } catch {
    return redactText(url);
  }
}

/** Headers with secret values masked. */
export function redactHeaders(headers: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) out[k] = SECRET_HEADERS.test(k) ? '***' : redactText(v);
  return out;
}
