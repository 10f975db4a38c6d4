// @ts-check
/**
 * A scripted HTTP "browser" for oidc-provider's built-in development pages.
 *
 * It drives exactly the pages a person sees against the sandbox (`sandbox/provider.mjs`)
 * or any oidc-provider with `devInteractions` enabled: the login form, the consent form,
 * the device flow's user-code entry and confirmation pages, and form_post / auto-submit
 * pages. It keeps a cookie jar, follows redirects by hand, and stops at the first
 * redirect (or form post) that leaves the provider's origin — the client's redirect URI,
 * e.g. the CLI's loopback `http://127.0.0.1:<port>/callback` — which it then requests.
 *
 * Uses only Node's built-in `fetch`; no JavaScript is executed and HTML is parsed with a
 * few forgiving regular expressions that match oidc-provider's markup.
 *
 * @module sandbox/browser-lib
 */

import { appendFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

const DEFAULT_TIMEOUT_MS = 15_000;
const MAX_STEPS = 30;

/* ----------------------------------- cookies ----------------------------------- */

/**
 * Minimal cookie jar: host-only cookies (ports are ignored, as browsers do), honouring
 * `Path`, `Max-Age` and `Expires`. Enough for oidc-provider's session/interaction cookies.
 */
export class CookieJar {
  /** @type {Map<string, { host: string, name: string, value: string, path: string, expires?: number }>} */
  #cookies = new Map();

  /**
   * Store the `Set-Cookie` headers of a response.
   * @param {string | URL} requestUrl
   * @param {Headers} headers
   */
  store(requestUrl, headers) {
    const url = new URL(requestUrl);
    for (const line of headers.getSetCookie()) {
      const [pair = '', ...attrs] = line.split(';');
      const eq = pair.indexOf('=');
      if (eq <= 0) continue;
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      let path = url.pathname.replace(/\/[^/]*$/, '') || '/';
      /** @type {number | undefined} */
      let expires;
      for (const attr of attrs) {
        const i = attr.indexOf('=');
        const key = (i === -1 ? attr : attr.slice(0, i)).trim().toLowerCase();
        const val = i === -1 ? '' : attr.slice(i + 1).trim();
        if (key === 'path' && val.startsWith('/')) path = val;
        else if (key === 'max-age' && /^-?\d+$/.test(val)) expires = Date.now() + Number(val) * 1000;
        else if (key === 'expires' && expires === undefined) {
          const t = Date.parse(val);
          if (!Number.isNaN(t)) expires = t;
        }
      }
      const key = `${url.hostname}\n${path}\n${name}`;
      if (expires !== undefined && expires <= Date.now()) this.#cookies.delete(key);
      else this.#cookies.set(key, { host: url.hostname, name, value, path, expires });
    }
  }

  /**
   * The `Cookie` header value for a request, or undefined.
   * @param {string | URL} requestUrl
   * @returns {string | undefined}
   */
  header(requestUrl) {
    const url = new URL(requestUrl);
    const now = Date.now();
    const out = [];
    for (const [key, c] of this.#cookies) {
      if (c.expires !== undefined && c.expires <= now) {
        this.#cookies.delete(key);
        continue;
      }
      if (c.host !== url.hostname) continue;
      const p = url.pathname;
      if (p === c.path || (p.startsWith(c.path) && (c.path.endsWith('/') || p.charAt(c.path.length) === '/'))) {
        out.push(c);
      }
    }
    out.sort((a, b) => b.path.length - a.path.length);
    return out.length ? out.map((c) => `${c.name}=${c.value}`).join('; ') : undefined;
  }
}

/* ---------------------------------- HTML bits ---------------------------------- */

/** @param {string} s */
function decodeEntities(s) {
  return s.replace(/&(#x[0-9a-f]+|#\d+|amp|lt|gt|quot|apos|#39);/gi, (m, e) => {
    const k = e.toLowerCase();
    if (k === 'amp') return '&';
    if (k === 'lt') return '<';
    if (k === 'gt') return '>';
    if (k === 'quot') return '"';
    if (k === 'apos') return "'";
    if (k.startsWith('#x')) return String.fromCodePoint(parseInt(k.slice(2), 16));
    if (k.startsWith('#')) return String.fromCodePoint(parseInt(k.slice(1), 10));
    return m;
  });
}

/**
 * @param {string} tagSource attribute part of a start tag
 * @returns {Record<string, string>}
 */
function parseAttributes(tagSource) {
  /** @type {Record<string, string>} */
  const attrs = {};
  const re = /([^\s=/>"']+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>"']+)))?/g;
  let m;
  while ((m = re.exec(tagSource))) {
    attrs[(m[1] ?? '').toLowerCase()] = decodeEntities(m[2] ?? m[3] ?? m[4] ?? '');
  }
  return attrs;
}

/**
 * @typedef {object} Form
 * @property {string | undefined} id
 * @property {string} method
 * @property {string} action absolute URL
 * @property {Array<{ name: string, value: string, type: string }>} inputs
 * @property {Array<{ name: string, value: string }>} buttons named submit buttons (inside the
 *   form or pointing at it with `form="<id>"`)
 */

/**
 * Parse every `<form>` of a page.
 * @param {string} html
 * @param {string} baseUrl
 * @returns {Form[]}
 */
export function parseForms(html, baseUrl) {
  /** @type {Form[]} */
  const forms = [];
  const formRe = /<form\b([^>]*)>([\s\S]*?)<\/form>/gi;
  let m;
  while ((m = formRe.exec(html))) {
    const attrs = parseAttributes(m[1] ?? '');
    const inner = m[2] ?? '';
    /** @type {Form['inputs']} */
    const inputs = [];
    const inputRe = /<input\b([^>]*)>/gi;
    let i;
    while ((i = inputRe.exec(inner))) {
      const a = parseAttributes(i[1] ?? '');
      if (a.name) inputs.push({ name: a.name, value: a.value ?? '', type: (a.type ?? 'text').toLowerCase() });
    }
    /** @type {Form['buttons']} */
    const buttons = [];
    const buttonRe = /<button\b([^>]*)>/gi;
    let b;
    while ((b = buttonRe.exec(inner))) {
      const a = parseAttributes(b[1] ?? '');
      if (a.name) buttons.push({ name: a.name, value: a.value ?? '' });
    }
    forms.push({
      id: attrs.id,
      method: (attrs.method ?? 'get').toUpperCase(),
      action: new URL(attrs.action || baseUrl, baseUrl).href,
      inputs,
      buttons,
    });
  }
  // Buttons outside a form that submit it through the form="" attribute (device pages).
  const outsideRe = /<button\b([^>]*)>/gi;
  let o;
  while ((o = outsideRe.exec(html))) {
    const a = parseAttributes(o[1] ?? '');
    if (!a.form || !a.name) continue;
    const form = forms.find((f) => f.id === a.form);
    if (form && !form.buttons.some((x) => x.name === a.name)) form.buttons.push({ name: a.name, value: a.value ?? '' });
  }
  return forms;
}

/** @param {string} html */
function pageTitle(html) {
  const m = /<title>([\s\S]*?)<\/title>/i.exec(html);
  return m ? decodeEntities((m[1] ?? '').trim()) : '';
}

/** @param {string} html */
function textOf(html) {
  return decodeEntities(html.replace(/<[^>]*>/g, ' ')).replace(/\s+/g, ' ').replace(/ ([:;,.])/g, '$1').trim();
}

/**
 * A readable summary of an oidc-provider error page (or any page), for error messages.
 * @param {string} html
 */
function describePage(html) {
  const pairs = [...html.matchAll(/<pre>([\s\S]*?)<\/pre>/gi)].map((p) => textOf(p[1] ?? ''));
  if (pairs.length) return pairs.join('; ');
  const red = /<p class="red">([\s\S]*?)<\/p>/i.exec(html);
  if (red) return textOf(red[1] ?? '');
  const title = pageTitle(html);
  const text = textOf(html.replace(/<(style|script|head)\b[\s\S]*?<\/\1>/gi, ''));
  return [title, text.slice(0, 200)].filter(Boolean).join(': ');
}

/* ----------------------------------- browser ----------------------------------- */

/**
 * @typedef {object} BrowserOptions
 * @property {string} [login='alice'] Username typed into the login form.
 * @property {string} [password='sandbox'] Password typed into the login form (any works).
 * @property {'approve' | 'deny'} [action='approve'] `deny` follows the interaction's
 *   abort link (authorization) or presses the device page's Abort button (device flow).
 * @property {CookieJar} [jar] Cookie jar to use (share one to keep a provider session).
 * @property {number} [timeoutMs=15000] Per-request timeout.
 */

/**
 * @typedef {object} AuthorizationResult
 * @property {string} callbackUrl The redirect URI the provider sent the browser to,
 *   including its query (contains the authorization code — do not log it).
 * @property {number} status HTTP status of the callback response.
 * @property {string} body Body of the callback response.
 */

class Browser {
  /** @param {BrowserOptions} opts */
  constructor(opts) {
    this.jar = opts.jar ?? new CookieJar();
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  /**
   * @param {string} url
   * @param {{ method?: string, form?: URLSearchParams, cookies?: boolean }} [init]
   */
  async request(url, { method = 'GET', form, cookies = true } = {}) {
    /** @type {Record<string, string>} */
    const headers = { accept: 'text/html,application/xhtml+xml,*/*', 'user-agent': 'auth-sandbox-browser/1' };
    const cookie = cookies ? this.jar.header(url) : undefined;
    if (cookie) headers.cookie = cookie;
    if (form) headers['content-type'] = 'application/x-www-form-urlencoded';
    let res;
    try {
      res = await fetch(url, {
        method,
        headers,
        body: form ? form.toString() : undefined,
        redirect: 'manual',
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      const cause = /** @type {any} */ (err)?.cause;
      throw new Error(`${method} ${redact(url)} failed: ${cause?.code ?? cause?.message ?? /** @type {any} */ (err)?.message ?? err}`);
    }
    if (cookies) this.jar.store(url, res.headers);
    const body = await res.text();
    const location = res.headers.get('location');
    return { url, status: res.status, body, location: location ? new URL(location, url).href : undefined };
  }
}

/** Strip query and fragment from a URL before it goes into an error message. */
function redact(/** @type {string} */ url) {
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname}`;
  } catch {
    return '<url>';
  }
}

/**
 * @param {Form} form
 * @param {Record<string, string>} [overrides]
 * @param {string[]} [omit]
 */
function formData(form, overrides = {}, omit = []) {
  const data = new URLSearchParams();
  for (const input of form.inputs) {
    if (omit.includes(input.name) || input.name in overrides) continue;
    if (['submit', 'button', 'image', 'reset'].includes(input.type)) continue;
    if (['checkbox', 'radio'].includes(input.type)) continue;
    data.append(input.name, input.value);
  }
  for (const [k, v] of Object.entries(overrides)) data.append(k, v);
  return data;
}

/** @param {string} html */
function findAbortLink(html, /** @type {string} */ baseUrl) {
  for (const m of html.matchAll(/<a\b([^>]*)>/gi)) {
    const href = parseAttributes(m[1] ?? '').href;
    if (href && /\/interaction\/[^/]+\/abort$/.test(new URL(href, baseUrl).pathname)) return new URL(href, baseUrl).href;
  }
  return undefined;
}

/**
 * Walk provider pages starting from one request until the browser leaves the provider's
 * origin (authorization flow) or reaches a device-flow end page.
 *
 * @param {Browser} browser
 * @param {{ url: string, method?: string, form?: URLSearchParams }} first
 * @param {{ login: string, password: string, action: 'approve' | 'deny', userCode?: string }} who
 * @returns {Promise<{ kind: 'callback', result: AuthorizationResult } | { kind: 'device', outcome: 'approved' | 'denied' }>}
 */
async function walk(browser, first, who) {
  const providerOrigin = new URL(first.url).origin;
  /** @type {{ url: string, method?: string, form?: URLSearchParams }} */
  let next = first;
  let deviceConfirmed = false;

  for (let step = 0; step < MAX_STEPS; step += 1) {
    // Leaving the provider: this is the client's redirect URI.
    if (new URL(next.url).origin !== providerOrigin) {
      const res = await browser.request(next.url, { method: next.method, form: next.form, cookies: false });
      return { kind: 'callback', result: { callbackUrl: next.url, status: res.status, body: res.body } };
    }

    const res = await browser.request(next.url, { method: next.method, form: next.form });

    if (res.status >= 300 && res.status < 400) {
      if (!res.location) throw new Error(`HTTP ${res.status} without Location from ${redact(res.url)}`);
      next = { url: res.location };
      continue;
    }

    const html = res.body;
    const title = pageTitle(html);
    const forms = parseForms(html, res.url);
    const byInput = (/** @type {string} */ name, /** @type {string} */ value = '\0any') => forms.find(
      (f) => f.inputs.some((i) => i.name === name && (value === '\0any' || i.value === value)),
    );

    // Device flow end pages.
    if (/Sign-in Success/i.test(title)) return { kind: 'device', outcome: 'approved' };
    if (/request was interrupted/i.test(html) && (who.action === 'deny' || deviceConfirmed)) {
      return { kind: 'device', outcome: 'denied' };
    }

    if (res.status >= 400) {
      throw new Error(`provider answered HTTP ${res.status} at ${redact(res.url)}: ${describePage(html)}`);
    }

    // devInteractions login page.
    const loginForm = forms.find((f) => f.inputs.some((i) => i.name === 'login'))
      ?? byInput('prompt', 'login');
    if (loginForm) {
      if (who.action === 'deny') {
        const abort = findAbortLink(html, res.url);
        if (!abort) throw new Error('login page has no abort link');
        next = { url: abort };
        continue;
      }
      next = {
        url: loginForm.action,
        method: loginForm.method,
        form: formData(loginForm, { login: who.login, password: who.password }),
      };
      continue;
    }

    // devInteractions consent page.
    const consentForm = byInput('prompt', 'consent');
    if (consentForm) {
      if (who.action === 'deny') {
        const abort = findAbortLink(html, res.url);
        if (!abort) throw new Error('consent page has no abort link');
        next = { url: abort };
        continue;
      }
      next = { url: consentForm.action, method: consentForm.method, form: formData(consentForm) };
      continue;
    }

    // Device flow: confirmation page ("Confirm Device").
    const confirmForm = forms.find((f) => f.id === 'op.deviceConfirmForm') ?? byInput('confirm', 'yes');
    if (confirmForm) {
      deviceConfirmed = true;
      next = who.action === 'deny'
        ? { url: confirmForm.action, method: 'POST', form: formData(confirmForm, { abort: 'yes' }, ['confirm']) }
        : { url: confirmForm.action, method: 'POST', form: formData(confirmForm) };
      continue;
    }

    // Device flow: user code entry page.
    const inputForm = forms.find((f) => f.id === 'op.deviceInputForm') ?? byInput('user_code');
    if (inputForm && inputForm.inputs.some((i) => i.name === 'user_code' && i.type === 'text')) {
      if (!who.userCode) throw new Error('the provider asks for a user code but none was given');
      if (/<p class="red">/i.test(html)) throw new Error(`device page: ${describePage(html)}`);
      next = { url: inputForm.action, method: 'POST', form: formData(inputForm, { user_code: who.userCode }) };
      continue;
    }

    // Auto-submitting form_post page (device verification_uri_complete, response_mode=form_post).
    const [form] = forms;
    if (form && forms.length === 1 && /forms\[0\]\.submit\(\)/.test(html)) {
      next = { url: form.action, method: form.method, form: formData(form) };
      continue;
    }

    throw new Error(`unexpected page at ${redact(res.url)} (HTTP ${res.status}): ${describePage(html)}`);
  }
  throw new Error(`gave up after ${MAX_STEPS} pages without reaching the redirect URI`);
}

/**
 * Complete an authorization request the way a person at oidc-provider's development pages
 * would: GET the authorization URL, sign in, consent (or cancel), then GET the redirect URI
 * the provider sends the browser to (the CLI's loopback callback).
 *
 * @param {string | URL} url Authorization URL (from the CLI).
 * @param {BrowserOptions} [options]
 * @returns {Promise<AuthorizationResult>}
 */
export async function completeAuthorization(url, options = {}) {
  const { login = 'alice', password = 'sandbox', action = 'approve' } = options;
  if (action !== 'approve' && action !== 'deny') throw new TypeError(`action must be approve or deny, got ${action}`);
  const browser = new Browser(options);
  const out = await walk(browser, { url: new URL(url).href }, { login, password, action });
  if (out.kind !== 'callback') throw new Error('the provider never redirected to the client');
  return out.result;
}

/**
 * @typedef {object} DeviceAuthorization
 * @property {string} [verificationUri] `verification_uri` (user code typed into the form)
 * @property {string} [verificationUriComplete] `verification_uri_complete` (preferred)
 * @property {string} [userCode] `user_code`, required with `verificationUri` only
 * @property {string} [verification_uri] snake_case aliases, as in the device response
 * @property {string} [verification_uri_complete]
 * @property {string} [user_code]
 */

/**
 * Approve (or deny) a device authorization request through oidc-provider's device pages:
 * user-code entry (when only the plain verification URI is given), confirmation, login and
 * consent. With `action: 'deny'` it presses the confirmation page's Abort button, after
 * which the client's next poll gets `access_denied`.
 *
 * @param {DeviceAuthorization} device
 * @param {BrowserOptions} [options]
 * @returns {Promise<{ outcome: 'approved' | 'denied' }>}
 */
export async function approveDevice(device, options = {}) {
  const { login = 'alice', password = 'sandbox', action = 'approve' } = options;
  if (action !== 'approve' && action !== 'deny') throw new TypeError(`action must be approve or deny, got ${action}`);
  const complete = device.verificationUriComplete ?? device.verification_uri_complete;
  const plain = device.verificationUri ?? device.verification_uri;
  const userCode = device.userCode ?? device.user_code;
  const start = complete ?? plain;
  if (!start) throw new TypeError('verificationUri or verificationUriComplete is required');
  if (!complete && !userCode) throw new TypeError('userCode is required with verificationUri');
  const browser = new Browser(options);
  const out = await walk(browser, { url: new URL(start).href }, { login, password, action, userCode });
  if (out.kind !== 'device') throw new Error('device flow unexpectedly redirected away from the provider');
  if (out.outcome !== (action === 'deny' ? 'denied' : 'approved')) {
    throw new Error(`device request ended ${out.outcome}, expected ${action === 'deny' ? 'denied' : 'approved'}`);
  }
  return { outcome: out.outcome };
}

/**
 * What sandbox/browser.mjs does with its arguments and environment (documented there); also
 * run inside a test process by the tests' browser relay.
 *
 * @param {string[]} argv the authorization URL, as the single argument
 * @param {Record<string, string | undefined>} env `SANDBOX_LOGIN`, `SANDBOX_ACTION`, `SANDBOX_BROWSER_DELAY_MS`, `SANDBOX_BROWSER_LOG`
 * @param {(line: string) => void} warn where failures are reported
 * @returns {Promise<number>} the exit status: 0 when the callback was requested, 1 on failure, 2 on bad usage
 */
export async function runScriptedBrowser(argv, env, warn) {
  /** @param {Record<string, unknown>} entry */
  const log = (entry) => {
    const file = env.SANDBOX_BROWSER_LOG;
    if (!file) return;
    try {
      appendFileSync(file, `${JSON.stringify({ argv, ...entry })}\n`);
    } catch (err) {
      warn(`sandbox browser: cannot write ${file}: ${/** @type {Error} */ (err).message}\n`);
    }
  };
  const url = argv.length === 1 ? argv[0] : undefined;
  if (url === undefined || !/^https?:\/\//i.test(url)) {
    warn('usage: sandbox/browser.mjs <authorization URL>\n');
    log({ callbackUrl: null, callbackStatus: null, callbackBody: null, error: 'usage' });
    return 2;
  }
  const delay = Number(env.SANDBOX_BROWSER_DELAY_MS ?? 0);
  if (Number.isFinite(delay) && delay > 0) await sleep(delay);

  const action = (env.SANDBOX_ACTION ?? 'approve').toLowerCase();
  if (action !== 'approve' && action !== 'deny') {
    warn(`sandbox browser: SANDBOX_ACTION must be approve or deny, got ${action}\n`);
    log({ callbackUrl: null, callbackStatus: null, callbackBody: null, error: `bad SANDBOX_ACTION ${action}` });
    return 2;
  }
  try {
    const result = await completeAuthorization(url, { login: env.SANDBOX_LOGIN || 'alice', action });
    log({ callbackUrl: result.callbackUrl, callbackStatus: result.status, callbackBody: result.body });
    return 0;
  } catch (err) {
    const message = /** @type {Error} */ (err)?.message ?? String(err);
    warn(`sandbox browser: ${message}\n`);
    log({ callbackUrl: null, callbackStatus: null, callbackBody: null, error: message });
    return 1;
  }
}
