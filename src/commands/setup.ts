import { loadConfig, type Config, type ProfileConfig } from '../config/config.js';
import { FLOWS, PROFILE_NAME, STORAGES, type Flow, type StorageKind } from '../config/names.js';
import { checkResource, isLoopbackHttp, profileName } from '../config/resolve.js';
import type { Deps } from '../deps.js';
import { authCommand, AuthError, interrupted } from '../errors.js';
import { findPreset, PRESETS, type Preset, type PresetField, type PresetId } from '../providers/presets.js';
import { isTenantId, lookupEntraTenantId, presetOwning, valuesFromIssuer } from '../providers/resolve.js';
import { checkProvider, derivedSecretEnv, saveDraft, type SecretChoice, type SetupDraft } from '../app/setup.js';
import { ENTRA_ALIASES } from '../providers/presets.js';
import { sanitize } from '../ui/text.js';
import { startSpinner } from '../ui/spinner.js';

/**
 * `auth setup` (docs/design.md §2): an interactive wizard that turns a few answers into
 * a working profile — preset → its fields → client → scopes → flow → storage →
 * profile name → a discovery check → save → "Log in now?". Re-running it on a
 * profile edits it with the current values as defaults. It needs a terminal;
 * without one it exits 2 with the equivalent non-interactive command.
 */
export interface SetupOptions {
  profile?: string;
  /** Run from `auth login` on a first sign-in: keep the profile name and do not offer to log in. */
  fromLogin?: boolean;
}

type Prompts = typeof import('@inquirer/prompts');

const canRunWizard = (deps: Deps) => deps.io.stdinIsTTY && deps.io.stderrIsTTY;

/** Returns the name of the saved profile. */
/** The profile the wizard saved, and whether the person asked to sign in to it now (the caller runs `auth login`). */
export interface SetupResult {
  profile: string;
  signInNow: boolean;
}

export async function runSetup(opts: SetupOptions, deps: Deps): Promise<SetupResult> {
  const config = loadConfig(deps.paths.configFile);
  if (!canRunWizard(deps)) {
    const name = opts.profile ?? (deps.env.AUTH_PROFILE || undefined) ?? config.active;
    throw new AuthError('AUTH_NO_TTY', '`auth setup` is interactive and needs a terminal (stdin and stderr must be a TTY).', {
      hint: nonInteractiveHint(name, name ? config.profiles[name] : undefined, deps),
    });
  }
  const prompts = await import('@inquirer/prompts');
  const ask = asker(prompts, deps);
  const out = (line = '') => deps.io.stderr.write(`${line}\n`);

  if (!opts.fromLogin) out('auth setup: configure how to sign in to your provider (Ctrl-C to cancel).');
  const editing = await chooseProfile(opts, config, deps, ask);
  const current = config.profiles[editing.name];
  if (current && !opts.fromLogin) out(`Editing profile ${editing.name}; press Enter to keep a current value.`);
  let draft = defaultsFrom(editing.name, current, deps);

  for (;;) {
    draft = await askAll(draft, { current, fixedName: opts.fromLogin ? editing.name : undefined, config, editingName: editing.name }, deps, ask, out);
    const preset = findPreset(draft.presetId)!;
    const check = await renderCheck(draft, preset, config, draft.name === editing.name ? current : undefined, deps, out);
    if (check === 'ok') break;
    const next = await ask.select<'edit' | 'save' | 'cancel'>({
      message: 'What now?',
      choices: [
        { name: 'Edit the settings', value: 'edit' },
        ...(check === 'failed' ? [{ name: 'Save anyway (check again with `auth login`)', value: 'save' as const }] : []),
        { name: 'Cancel without saving', value: 'cancel' },
      ],
    });
    if (next === 'save') break;
    if (next === 'cancel') {
      out('Nothing was saved.');
      throw interrupted();
    }
  }

  const preset = findPreset(draft.presetId)!;
  const others = Object.keys(config.profiles).filter((n) => n !== draft.name);
  let makeActive = !config.active || config.active === draft.name || others.length === 0;
  if (!makeActive) makeActive = await ask.confirm({ message: `Make ${draft.name} the active profile (now ${config.active})?`, default: !(draft.name in config.profiles) });
  await saveDraft(draft, preset, config, makeActive, deps);
  deps.log.success(`Saved profile ${draft.name} in ${deps.paths.configFile}`);
  if (opts.fromLogin) return { profile: draft.name, signInNow: true };
  if (await ask.confirm({ message: 'Log in now?', default: true })) return { profile: draft.name, signInNow: true };
  out(`Sign in later with: ${authCommand('login', draft.name)}`);
  return { profile: draft.name, signInNow: false };
}

interface Asker {
  select<T>(c: { message: string; choices: Array<{ name: string; value: T; description?: string; disabled?: boolean | string }>; default?: T; pageSize?: number }): Promise<T>;
  input(c: { message: string; default?: string; validate?: (v: string) => string | true; required?: boolean }): Promise<string>;
  password(c: { message: string; validate?: (v: string) => string | true }): Promise<string>;
  confirm(c: { message: string; default?: boolean }): Promise<boolean>;
  checkbox<T>(c: { message: string; choices: Array<{ name: string; value: T; checked?: boolean }> }): Promise<T[]>;
}

/** Every prompt gets our streams and abort signal; Ctrl-C (or SIGINT) becomes exit 130. */
function asker(p: Prompts, deps: Deps): Asker {
  const context = { input: deps.io.stdin, output: deps.io.stderr, signal: deps.signal, clearPromptOnDone: false };
  const wrap = async <T>(run: () => Promise<T>): Promise<T> => {
    try {
      return await run();
    } catch (e) {
      const name = (e as Error)?.name;
      if (name === 'ExitPromptError' || name === 'AbortPromptError' || deps.signal.aborted) throw interrupted();
      throw e;
    }
  };
  return {
    select: <T>(c: Parameters<Asker['select']>[0]) => wrap(() => p.select({ pageSize: 10, ...c } as Parameters<Prompts['select']>[0], context) as unknown as Promise<T>),
    input: (c) => wrap(async () => (await p.input(c as Parameters<Prompts['input']>[0], context)).trim()),
    password: (c) => wrap(() => p.password({ ...c, mask: '*' }, context)),
    confirm: (c) => wrap(() => p.confirm(c, context)),
    checkbox: <T>(c: Parameters<Asker['checkbox']>[0]) => wrap(() => p.checkbox({ ...c, pageSize: 12 } as Parameters<Prompts['checkbox']>[0], context) as unknown as Promise<T[]>),
  };
}

async function chooseProfile(opts: SetupOptions, config: Config, deps: Deps, ask: Asker): Promise<{ name: string }> {
  const given = opts.profile ?? (deps.env.AUTH_PROFILE || undefined);
  if (given) return { name: profileName(config, deps.env, given) };
  const names = Object.keys(config.profiles);
  if (names.length === 0) return { name: 'default' };
  const NEW = '\u0000new';
  const choice = await ask.select({
    message: 'Which profile?',
    choices: [
      ...names.map((n) => ({ name: `Edit ${n}${config.active === n ? ' (active)' : ''}`, value: n, description: describeConfigured(config.profiles[n]!) })),
      { name: 'Create a new profile', value: NEW },
    ],
    default: config.active && names.includes(config.active) ? config.active : names[0],
  });
  if (choice !== NEW) return { name: choice };
  let n = 2;
  while (`profile${n}` in config.profiles) n += 1;
  return { name: 'default' in config.profiles ? `profile${n}` : 'default' };
}

function describeConfigured(p: ProfileConfig): string {
  const preset = findPreset(p.provider);
  return [preset?.title ?? p.provider, p.issuer].filter(Boolean).join(' — ');
}


function defaultsFrom(name: string, current: ProfileConfig | undefined, deps: Deps): SetupDraft {
  const presetId: PresetId = (findPreset(current?.provider)?.id)
    ?? (current?.endpoints ? 'oauth2' : current?.issuer ? presetOwning(current.issuer)?.id ?? 'oidc' : 'github');
  const preset = findPreset(presetId)!;
  const values = current?.issuer ? valuesFromIssuer(preset, current.issuer) ?? {} : {};
  if (presetId === 'oauth2' && current?.endpoints) {
    for (const [k, v] of Object.entries(current.endpoints)) if (v) values[k] = v;
    if (current.issuer) values.issuer = current.issuer;
  }
  const envStorage = STORAGES.find((s) => s === deps.env.AUTH_STORAGE);
  const draft: SetupDraft = {
    presetId,
    values,
    clientId: current?.clientId ?? '',
    secret: current?.clientSecretEnv ? (current.clientSecretEnv === derivedSecretEnv(name) ? 'keep' : 'env') : 'none',
    scopes: current?.scopes ?? preset.scopes,
    resources: current?.resources ?? [],
    flow: current?.flow ?? preset.flow,
    storage: current ? current.storage : envStorage,
    name,
  };
  if (current?.clientSecretEnv) draft.secretEnv = current.clientSecretEnv;
  return draft;
}

interface AskContext {
  current: ProfileConfig | undefined;
  fixedName: string | undefined;
  config: Config;
  editingName: string;
}

async function askAll(previous: SetupDraft, ctx: AskContext, deps: Deps, ask: Asker, out: (l?: string) => void): Promise<SetupDraft> {
  const presetId = await ask.select<PresetId>({
    message: 'Provider',
    choices: PRESETS.map((p) => ({ name: p.title, value: p.id, description: p.summary })),
    default: previous.presetId,
    pageSize: PRESETS.length,
  });
  const preset = findPreset(presetId)!;
  const samePreset = presetId === previous.presetId;
  const draft: SetupDraft = samePreset ? { ...previous, values: { ...previous.values } } : { ...previous, presetId, values: {}, scopes: preset.scopes, flow: preset.flow, resources: [] };
  if (!samePreset && previous.secret === 'keep') draft.secret = 'none';

  out(`  Register the app at ${preset.register.console}`);
  out(`  Client type: ${preset.register.clientType}`);
  out(`  Redirect URI to register: ${redirectText(preset)}`);

  const editing = Object.keys(draft.values).length > 0;
  for (const field of preset.fields) {
    draft.values[field.name] = await askField(field, draft.values, editing, preset, deps, ask, out);
    // A Keycloak URL pasted with its realm (…/realms/x, as the admin console shows it): the
    // realm becomes the next answer's default instead of being doubled into …/realms/x/realms/x.
    const realm = preset.id === 'keycloak' && field.name === 'baseUrl' ? splitKeycloakRealm(draft.values.baseUrl!) : undefined;
    if (realm) {
      draft.values.baseUrl = realm.baseUrl;
      draft.values.realm = realm.realm;
      out(`  Using ${realm.baseUrl} with realm ${realm.realm}.`);
    }
  }
  draft.clientId = await ask.input({
    message: 'Client ID',
    default: draft.clientId || undefined,
    validate: (v) => (v.trim() === '' ? 'The client id is required (it is shown where you registered the app).' : /\s/.test(v.trim()) ? 'A client id has no spaces.' : true),
  });

  await askSecret(draft, preset, ctx, ask);

  const offered = [...new Set([...preset.scopes, ...preset.optionalScopes, ...draft.scopes])];
  let scopes: string[] = [];
  if (offered.length) {
    scopes = await ask.checkbox({ message: 'Scopes (space toggles, Enter accepts)', choices: offered.map((s) => ({ name: s, value: s, checked: draft.scopes.includes(s) })) });
  }
  const extra = await ask.input({ message: 'Other scopes (space-separated, optional)', validate: validateScopes });
  draft.scopes = [...new Set([...scopes, ...extra.split(/\s+/).filter(Boolean)])];
  // Without discovery, an ID token (the openid scope) can only be checked against keys whose
  // location the profile gives: ask for it, or sign in without openid.
  if (preset.id === 'oauth2' && draft.scopes.includes('openid')) {
    const jwks = await ask.input({
      message: 'JWKS URI, where the provider publishes the keys that sign its ID tokens (empty: do not ask for openid)',
      default: draft.values.jwks || undefined,
      validate: (v) => (v.trim() === '' ? true : validateField({ kind: 'url', message: 'JWKS URI' }, v)),
    });
    if (jwks.trim()) draft.values.jwks = jwks.trim();
    else {
      delete draft.values.jwks;
      draft.scopes = draft.scopes.filter((scope) => scope !== 'openid');
      out('  Dropped the openid scope: without the signing keys an ID token could not be checked.');
    }
  } else {
    delete draft.values.jwks;
  }

  if (preset.resources) {
    const res = await ask.input({ message: 'Resource indicators, RFC 8707 (space-separated URIs, optional)', default: draft.resources.join(' ') || undefined, validate: validateResources });
    draft.resources = res.split(/\s+/).filter(Boolean);
  }

  const hasDevice = preset.discovery || Boolean(draft.values.deviceAuthorization) || Boolean(preset.endpoints.deviceAuthorization && preset.id !== 'oauth2');
  draft.flow = await ask.select<Flow>({
    message: 'Sign-in flow',
    choices: FLOWS.map((f) => ({
      name: f === 'auto' ? 'auto — the browser, or a device code when no browser can be shown (SSH)' : f === 'browser' ? 'browser — always the browser (PKCE, loopback callback)' : 'device — always a code to enter on another device',
      value: f,
      ...(f === 'device' && !hasDevice ? { disabled: '(no device authorization endpoint)' } : {}),
    })),
    default: draft.flow === 'device' && !hasDevice ? 'auto' : draft.flow,
  });

  // The first choice writes no `storage:` at all: the default, which falls back to a file when
  // there is no keychain. `keychain` pins it, and then a machine without one cannot sign in.
  const storage = await ask.select<StorageKind | 'default'>({
    message: 'Where to keep the tokens',
    choices: [
      { name: 'default — the OS keychain, or a private file (0600) when there is none', value: 'default' },
      { name: 'keychain — the OS keychain only (fails where there is none)', value: 'keychain' },
      { name: 'file — a private file (0600) in your state directory', value: 'file' },
      { name: 'encrypted-file — a file encrypted with a passphrase (AUTH_PASSPHRASE)', value: 'encrypted-file' },
    ],
    default: draft.storage ?? 'default',
  });
  draft.storage = storage === 'default' ? undefined : storage;

  draft.name = ctx.fixedName ?? (await askName(draft.name, ctx, ask));
  return draft;
}

/** `https://sso.example.com/realms/acme[/…]` → base URL and realm; undefined when there is no /realms/ part. */
function splitKeycloakRealm(url: string): { baseUrl: string; realm: string } | undefined {
  const m = /^(.*?)\/realms\/([^/?#]+)(?:[/?#].*)?$/.exec(url.trim());
  return m && m[1] ? { baseUrl: m[1], realm: decodeURIComponent(m[2]!) } : undefined;
}

function redirectText(preset: Preset): string {
  const { host, port, path } = preset.redirect;
  return port ? `http://${host}:${port}${path}` : `http://${host}${path} (any port)`;
}

async function askField(field: PresetField, values: Record<string, string>, editing: boolean, preset: Preset, deps: Deps, ask: Asker, out: (l?: string) => void): Promise<string> {
  // An empty optional answer is shown as its word ("org"), also for a saved issuer that has none.
  const saved = values[field.name];
  let fallback = saved === '' || (saved === undefined && editing) ? field.emptyWord ?? saved : saved;
  fallback ??= field.default;
  if (preset.id === 'oauth2' && field.name === 'issuer' && !values.issuer && values.token) fallback = new URL(values.token).origin;
  const message = field.help ? `${field.message} (${field.help})` : field.message;
  const answer = await ask.input({ message, default: fallback || undefined, validate: (v) => validateField(field, v) });
  let value = normalizeField(field, answer);
  if (field.emptyWord && value.toLowerCase() === field.emptyWord) value = '';
  if (field.kind === 'tenant' && value && !isTenantId(value) && !(ENTRA_ALIASES as readonly string[]).includes(value.toLowerCase())) {
    // A domain: pin the tenant id it maps to now, so every later discovery is checked exactly (R01).
    const spinner = await startSpinner(deps.io, deps.log.color, `Looking up the tenant id of ${value}…`);
    let id: string | undefined;
    try {
      id = await lookupEntraTenantId(value, deps).catch(() => undefined);
    } finally {
      spinner.stop();
    }
    if (!id) {
      out(`  Could not look up the tenant id of ${value}; enter the Directory (tenant) ID from the Entra admin center instead.`);
      return askField(field, { ...values, [field.name]: '' }, false, preset, deps, ask, out);
    }
    out(`  ${value} is tenant ${id}.`);
    value = id;
  }
  return value;
}

/** Wizard validation: URL shape, https (plain http only for loopback), tenant ids, host names. */
export function validateField(field: Pick<PresetField, 'kind' | 'optional' | 'message'>, raw: string): string | true {
  const value = raw.trim();
  if (!value) return field.optional ? true : `${field.message} is required.`;
  switch (field.kind) {
    case 'url': {
      let url: URL;
      try {
        url = new URL(value);
      } catch {
        return 'Enter a full URL, for example https://login.example.com.';
      }
      if (url.protocol !== 'https:' && !isLoopbackHttp(url)) return 'The URL must start with https:// (http:// only for 127.0.0.1 or localhost).';
      if (url.search || url.hash || url.username || url.password) return 'The URL must not contain a query, a fragment or credentials.';
      return true;
    }
    case 'host': {
      const host = value.replace(/^https:\/\//i, '').replace(/\/+$/, '');
      if (/^http:\/\//i.test(value)) return 'The provider must be reached over https.';
      return /^(?=.{1,253}(:\d+)?$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}(:\d{1,5})?$/i.test(host) ? true : 'Enter a host name such as dev-123456.okta.com.';
    }
    case 'tenant': {
      if (isTenantId(value) || (ENTRA_ALIASES as readonly string[]).includes(value.toLowerCase())) return true;
      return /^([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/i.test(value)
        ? true
        : 'Enter the Directory (tenant) ID (a GUID), a verified domain, or common, organizations or consumers.';
    }
    case 'segment':
      return /^[^\s/?#%]+$/.test(value) ? true : 'Use a single name without spaces or slashes.';
  }
}

function normalizeField(field: PresetField, raw: string): string {
  const value = raw.trim();
  if (field.kind === 'host') return value.replace(/^https:\/\//i, '').replace(/\/+$/, '').toLowerCase();
  if (field.kind === 'tenant' && !isTenantId(value)) return value.toLowerCase();
  // A base URL is joined with paths; an issuer is kept byte for byte (R01 compares it exactly).
  if (field.kind === 'url' && field.name === 'baseUrl') return value.replace(/\/+$/, '');
  return value;
}

async function askSecret(draft: SetupDraft, preset: Preset, ctx: AskContext, ask: Asker): Promise<void> {
  if (preset.clientSecret === 'none' && draft.secret === 'none') return;
  const canKeep = draft.secret === 'keep';
  const choices: Array<{ name: string; value: SecretChoice }> = [];
  if (preset.clientSecret !== 'required') choices.push({ name: 'none — a public client (PKCE)', value: 'none' });
  if (canKeep) choices.push({ name: 'keep the stored client secret', value: 'keep' });
  choices.push({ name: 'type it now — kept with the tokens (keychain), never in the config file', value: 'store' });
  choices.push({ name: 'read it from an environment variable', value: 'env' });
  const why = preset.secretHint ?? 'only confidential clients have one';
  const choice = await ask.select<SecretChoice>({ message: `Client secret (${why})`, choices, default: choices.some((c) => c.value === draft.secret) ? draft.secret : choices[0]!.value });
  draft.secret = choice;
  delete draft.secretValue;
  if (choice === 'store') {
    draft.secretValue = await ask.password({ message: 'Client secret', validate: (v) => (v.trim() ? true : 'Type the client secret, or press Ctrl-C to cancel.') });
    draft.secretValue = draft.secretValue.trim();
  } else if (choice === 'env') {
    draft.secretEnv = await ask.input({
      message: 'Environment variable holding the client secret',
      default: draft.secretEnv && draft.secretEnv !== derivedSecretEnv(ctx.editingName) ? draft.secretEnv : undefined,
      validate: (v) => (/^[A-Za-z_][A-Za-z0-9_]*$/.test(v.trim()) ? true : 'Use a variable name such as MY_CLIENT_SECRET.'),
    });
  }
}

/** RFC 6749 §3.3 scope tokens. */
export function validateScopes(value: string): string | true {
  const bad = value.split(/\s+/).filter(Boolean).find((s) => !/^[\x21\x23-\x5b\x5d-\x7e]+$/.test(s));
  return bad === undefined ? true : `"${sanitize(bad, 40)}" is not a valid scope (printable ASCII without quotes or backslashes).`;
}

function validateResources(value: string): string | true {
  for (const r of value.split(/\s+/).filter(Boolean)) {
    try {
      checkResource(r);
    } catch (e) {
      return (e as Error).message;
    }
  }
  return true;
}

async function askName(suggested: string, ctx: AskContext, ask: Asker): Promise<string> {
  for (;;) {
    const name = await ask.input({
      message: 'Profile name',
      default: suggested,
      validate: (v) => (PROFILE_NAME.test(v.trim()) ? true : 'Use letters, digits, ".", "_" and "-" (at most 64), starting with a letter or digit.'),
    });
    // Editing a profile saves over itself; any other existing profile needs a yes.
    if (name === ctx.editingName && ctx.current) return name;
    if (!(name in ctx.config.profiles)) return name;
    if (await ask.confirm({ message: `A profile named ${name} already exists. Replace it?`, default: false })) return name;
    suggested = `${name}-2`;
  }
}




/**
 * The provider check (app/setup.ts) with a spinner while discovery runs; after a clear report,
 * 'failed' (may be saved anyway) or 'refused' (cannot be saved as it is).
 */
async function renderCheck(draft: SetupDraft, preset: Preset, config: Config, base: ProfileConfig | undefined, deps: Deps, out: (l?: string) => void): Promise<'ok' | 'failed' | 'refused'> {
  let spinner: Promise<{ stop(): void }> | undefined;
  const result = await checkProvider(draft, preset, config, base, deps, (issuer) => {
    spinner = startSpinner(deps.io, deps.log.color, `Fetching the discovery document of ${issuer}…`);
  }).catch((e: unknown) => {
    void spinner?.then((s) => s.stop());
    throw deps.signal.aborted ? interrupted() : e;
  });
  (await spinner)?.stop();
  if (!result.ok) {
    const hint = result.hint ? `\n  ${result.hint}` : '';
    if (!result.saveAnyway) {
      out(`✗ ${sanitize(result.reason)}${hint}`);
      return 'refused';
    }
    out(result.issuer ? `✗ Could not check ${result.issuer}: ${sanitize(result.reason)}${hint}` : `✗ ${result.reason}`);
    return 'failed';
  }
  const can = ['browser sign-in', result.device ? 'device flow' : 'no device flow', result.revocation ? 'revocation' : 'no revocation endpoint'];
  if (result.fromProfile) deps.log.success(`${result.issuer}: ${preset.discovery ? 'using the endpoints in the profile' : `${preset.title} publishes no discovery document; using its documented endpoints`} (${can.join(', ')}).`);
  else deps.log.success(`${result.issuer} answered with its discovery document (${can.join(', ')}).`);
  if (draft.flow === 'device' && !result.device) out('  Note: the device flow was chosen but the provider has no device authorization endpoint; `auth login` will fail until you pick another flow.');
  if (preset.browserNeedsSecret && draft.flow !== 'device' && draft.secret === 'none') out(`  Note: ${preset.title}'s browser flow needs the client secret; without one only the device flow (\`auth login --device\`) works.`);
  return 'ok';
}

/** The flags (and env) that do what the wizard would, for a terminal-less run (exit 2). */
function nonInteractiveHint(name: string | undefined, profile: ProfileConfig | undefined, deps: Pick<Deps, 'paths'>): string {
  const q = (s: string) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);
  const parts = ['auth login'];
  if (name && name !== 'default') parts.push(`-p ${q(name)}`);
  parts.push(`--issuer ${profile?.issuer ? q(profile.issuer) : '<issuer-url>'}`);
  parts.push(`--client-id ${profile?.clientId ? q(profile.clientId) : '<client-id>'}`);
  if (profile?.scopes?.length) parts.push(`--scope ${q(profile.scopes.join(' '))}`);
  if (profile?.clientSecretEnv) parts.push(`--client-secret-env ${q(profile.clientSecretEnv)}`);
  if (profile?.flow === 'device') parts.push('--device');
  return [
    `Run it in a terminal, or sign in without it:\n    ${parts.join(' ')}`,
    `  (or set AUTH_ISSUER and AUTH_CLIENT_ID; presets and endpoints go in ${deps.paths.configFile} — see docs/providers.md)`,
  ].join('\n');
}
