import type { Logger } from '../deps.js';

const SENSITIVE_PARAMS = new Set([
  'code', 'code_verifier', 'code_challenge', 'state', 'nonce', 'refresh_token', 'access_token', 'id_token',
  'device_code', 'user_code', 'client_secret', 'client_assertion', 'token', 'password', 'request_uri', 'secret',
]);

/** Replaces values of secret-bearing query parameters (docs/security.md R87). */
export function redactUrl(input: string): string {
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    return '[unparseable URL]';
  }
  for (const key of [...url.searchParams.keys()]) {
    if (SENSITIVE_PARAMS.has(key.toLowerCase())) url.searchParams.set(key, '[redacted]');
  }
  if (url.username || url.password) { url.username = 'redacted'; url.password = ''; }
  return url.toString();
}

export function createLogger(stderr: NodeJS.WritableStream, options: { color: boolean; debug: boolean }): Logger {
  const paint = (code: string, text: string) => (options.color ? `\u001b[${code}m${text}\u001b[0m` : text);
  const write = (text: string) => stderr.write(`${text}\n`);
  return {
    debugEnabled: options.debug,
    color: options.color,
    info: (m) => write(m),
    success: (m) => write(`${paint('32', '✓')} ${m}`),
    warn: (m) => write(`${paint('33', '!')} ${m}`),
    error: (m) => write(`${paint('31', 'error:')} ${m}`),
    debug: (m) => {
      if (options.debug) write(paint('2', `[debug] ${m}`));
    },
  };
}
