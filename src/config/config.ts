import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import { AuthError } from '../errors.js';
import { readPrivateFile, readTrustedFile, writePrivateFileAtomic } from '../store/fs-safe.js';
import { FLOWS, STORAGES, PROFILE_NAME, type Flow, type StorageKind } from './names.js';
import { VERSION } from '../version.js';

/**
 * config.yaml (docs/design.md §3): non-secret settings only. A malformed file is an
 * error naming the file, line and field; it is never silently ignored and never
 * overwritten (saving refuses to touch a file that does not parse).
 */
export {    type Flow, type StorageKind } from './names.js';

interface RedirectConfig { host?: string; port?: number; path?: string }
export interface MfaConfig { required?: boolean; unlockMinutes?: number }
export interface EndpointsConfig {
  authorization?: string;
  token?: string;
  deviceAuthorization?: string;
  revocation?: string;
  userinfo?: string;
  jwks?: string;
}

export interface ProfileConfig {
  provider?: string;
  issuer?: string;
  clientId?: string;
  clientSecretEnv?: string;
  scopes?: string[];
  resources?: string[];
  flow?: Flow;
  storage?: StorageKind;
  redirect?: RedirectConfig;
  mfa?: MfaConfig;
  endpoints?: EndpointsConfig;
  privateKeyFile?: string;
  /** `auth git-credential`: the git hosts (`host[:port]`) this profile signs in to, and the username git sends. */
  git?: GitConfig;
}

interface GitConfig { hosts?: string[]; username?: string }

export interface Config {
  active?: string;
  profiles: Record<string, ProfileConfig>;
}

type FieldKind = 'string' | 'stringList' | 'flow' | 'storage' | 'port' | 'bool' | 'minutes' | 'object' | 'loopbackHost';
const PROFILE_FIELDS: Record<string, FieldKind> = {
  provider: 'string', issuer: 'string', clientId: 'string', clientSecretEnv: 'string',
  scopes: 'stringList', resources: 'stringList', flow: 'flow', storage: 'storage',
  redirect: 'object', mfa: 'object', endpoints: 'object', privateKeyFile: 'string', git: 'object',
};
const NESTED_FIELDS: Record<string, Record<string, FieldKind>> = {
  redirect: { host: 'loopbackHost', port: 'port', path: 'string' },
  mfa: { required: 'bool', unlockMinutes: 'minutes' },
  git: { hosts: 'stringList', username: 'string' },
  endpoints: {
    authorization: 'string', token: 'string', deviceAuthorization: 'string',
    revocation: 'string', userinfo: 'string', jwks: 'string',
  },
};

class ConfigProblem extends Error {
  constructor(message: string, readonly node: Node | null | undefined) { super(message); }
}

function invalid(file: string, lines: LineCounter, problem: ConfigProblem): AuthError {
  const at = problem.node?.range ? lines.linePos(problem.node.range[0]) : undefined;
  const where = at ? `${file}:${at.line}:${at.col}` : file;
  return new AuthError('AUTH_CONFIG_INVALID', `Invalid config file ${where}: ${problem.message}`, {
    hint: `Fix the file by hand (it was left untouched), or move it away and run \`auth setup\`.`,
  });
}

function checkValue(kind: FieldKind, field: string, node: Node | null | undefined): unknown {
  const value = isScalar(node) ? node.value : undefined;
  switch (kind) {
    case 'string':
      if (typeof value !== 'string' || value === '') throw new ConfigProblem(`field "${field}" must be a non-empty string`, node);
      return value;
    case 'stringList': {
      if (isScalar(node) && typeof node.value === 'string') return node.value.split(/\s+/).filter(Boolean);
      if (!isSeq(node)) throw new ConfigProblem(`field "${field}" must be a list of strings`, node);
      return node.items.map((item, i) => {
        if (!isScalar(item) || typeof item.value !== 'string') throw new ConfigProblem(`field "${field}[${i}]" must be a string`, item as Node);
        return item.value;
      });
    }
    case 'flow':
      if (!FLOWS.includes(value as Flow)) throw new ConfigProblem(`field "${field}" must be one of ${FLOWS.join(', ')}`, node);
      return value;
    case 'storage':
      if (!STORAGES.includes(value as StorageKind)) throw new ConfigProblem(`field "${field}" must be one of ${STORAGES.join(', ')}`, node);
      return value;
    case 'port':
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 65535) throw new ConfigProblem(`field "${field}" must be a port number 0–65535`, node);
      return value;
    case 'bool':
      if (typeof value !== 'boolean') throw new ConfigProblem(`field "${field}" must be true or false`, node);
      return value;
    case 'minutes':
      if (typeof value !== 'number' || !(value > 0) || value > 24 * 60) throw new ConfigProblem(`field "${field}" must be a number of minutes between 1 and 1440`, node);
      return value;
    case 'object':
      throw new ConfigProblem(`field "${field}" must be a mapping`, node);
    case 'loopbackHost':
      // RFC 8252 §7.3, §8.3: the callback listener binds a loopback address only; 0.0.0.0 or ::
      // would let any host on the network deliver (or steal) the sign-in.
      if (typeof value !== 'string' || !/^(127(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}|::1|localhost)$/.test(value)) {
        throw new ConfigProblem(`field "${field}" must be a loopback address (127.0.0.1, another 127.x.y.z, ::1 or localhost)`, node);
      }
      return value;
  }
}

function readMapping(node: Node | null | undefined, fields: Record<string, FieldKind>, prefix: string): Record<string, unknown> {
  if (!isMap(node)) throw new ConfigProblem(`"${prefix}" must be a mapping`, node);
  const out: Record<string, unknown> = {};
  for (const pair of node.items) {
    const key = isScalar(pair.key) ? String(pair.key.value) : '';
    const field = `${prefix}.${key}`;
    const kind = fields[key];
    if (!kind) throw new ConfigProblem(`unknown field "${field}"`, pair.key as Node);
    const value = pair.value as Node | null;
    if (kind === 'object') out[key] = readMapping(value, NESTED_FIELDS[key] ?? {}, field);
    else out[key] = checkValue(kind, field, value);
  }
  return out;
}

function toConfig(doc: Document): Config {
  const root = doc.contents as Node | null;
  if (root === null || (isScalar(root) && (root.value === null || root.value === ''))) return { profiles: {} };
  if (!isMap(root)) throw new ConfigProblem('the top level must be a mapping with "active" and "profiles"', root);
  const config: Config = { profiles: {} };
  for (const pair of root.items) {
    const key = isScalar(pair.key) ? String(pair.key.value) : '';
    const value = pair.value as Node | null;
    if (key === 'active') {
      config.active = checkValue('string', 'active', value) as string;
    } else if (key === 'profiles') {
      if (value === null || (isScalar(value) && value.value === null)) continue;
      if (!isMap(value)) throw new ConfigProblem('"profiles" must be a mapping of profile names', value);
      for (const p of value.items) {
        const name = isScalar(p.key) ? String(p.key.value) : '';
        if (!PROFILE_NAME.test(name)) throw new ConfigProblem(`profile name "${name}" may only use letters, digits, ".", "_" and "-"`, p.key as Node);
        config.profiles[name] = readMapping(p.value as Node, PROFILE_FIELDS, `profiles.${name}`) as ProfileConfig;
      }
    } else {
      throw new ConfigProblem(`unknown field "${key}"`, pair.key as Node);
    }
  }
  return config;
}

interface Loaded { config: Config; doc: Document | undefined }

function parse(file: string, text: string): Loaded {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const first = doc.errors[0];
  if (first) {
    const pos = first.linePos?.[0];
    const where = pos ? `${file}:${pos.line}:${pos.col}` : file;
    const message = first.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
    throw new AuthError('AUTH_CONFIG_INVALID', `Invalid config file ${where}: ${message}`, {
      hint: 'Fix the file by hand (it was left untouched), or move it away and run `auth setup`.',
    });
  }
  try {
    return { config: toConfig(doc), doc };
  } catch (e) {
    if (e instanceof ConfigProblem) throw invalid(file, lines, e);
    throw e;
  }
}

/**
 * `indexFile`: also record the parsed result for the `auth token` fast path
 * (src/fast/config-index.ts); best effort, rewritten only when it changed.
 */
/** A config is a few KiB; a huge one is a mistake or an attack on memory (a YAML bomb's cousin). */
const MAX_CONFIG_BYTES = 1024 * 1024;

/**
 * The config names the endpoints a refresh token is sent to, so it is read only when no
 * other user could have written it (store/fs-safe.ts readTrustedFile); otherwise it is a
 * config error (exit 2) whose hint is the chmod that fixes it.
 */
function readConfigFile(file: string): Buffer | undefined {
  try {
    return readTrustedFile(file, { maxBytes: MAX_CONFIG_BYTES });
  } catch (e) {
    if (!(e instanceof AuthError)) throw e;
    throw new AuthError('AUTH_CONFIG_INVALID', e.message.replace(/^Refusing to read/, 'Refusing to use the config file'), e.hint ? { hint: e.hint } : {});
  }
}

export function loadConfig(file: string, options: { indexFile?: string } = {}): Config {
  const buf = readConfigFile(file);
  if (!buf) return { profiles: {} };
  const text = buf.toString('utf8');
  const config = parse(file, text).config;
  if (options.indexFile) saveConfigIndex(options.indexFile, file, text, config);
  return config;
}

/**
 * The parsed config.yaml, cached as JSON for the `auth token` warm path
 * (docs/design.md §7: the YAML parser is too big to load there). The slow path writes
 * it whenever it parses the config; the fast path uses it only when the config
 * file's bytes are exactly the `text` recorded here, so an edit by hand, by
 * another process or by a newer version is never missed. Non-secret, like the
 * config itself; 0600 in the user-only state dir.
 */
export interface ConfigIndex {
  v: 1;
  /** The CLI version that wrote it: another version (an upgrade, a downgrade) never trusts it. */
  cli: string;
  configFile: string;
  text: string;
  config: Config;
}

function saveConfigIndex(indexFile: string, configFile: string, text: string, config: Config): void {
  const index: ConfigIndex = { v: 1, cli: VERSION, configFile, text, config };
  const json = JSON.stringify(index);
  try {
    if (readPrivateFile(indexFile)?.toString('utf8') === json) return;
    writePrivateFileAtomic(indexFile, json);
  } catch {
    // A cache: without it `auth token` only takes the slower path.
  }
}

/**
 * Applies `change` to the stored config and writes it back atomically,
 * keeping the user's comments and ordering. Re-reads first so a concurrent edit
 * is not lost, and refuses to write over a file that does not parse.
 */
export function updateConfig(file: string, change: (config: Config) => void): Config {
  const buf = readConfigFile(file);
  const { config, doc } = buf ? parse(file, buf.toString('utf8')) : { config: { profiles: {} } as Config, doc: undefined };
  change(config);
  const out = doc ?? parseDocument('');
  const plain = stripUndefined(config) as Record<string, unknown>;
  if (plain.active === undefined) out.delete('active');
  else out.set('active', plain.active);
  const profiles = plain.profiles as Record<string, Record<string, unknown>>;
  const existing = out.get('profiles');
  if (!isMap(existing)) out.set('profiles', out.createNode(profiles));
  else {
    for (const name of Object.keys(existing.toJSON() ?? {})) if (!(name in profiles)) out.deleteIn(['profiles', name]);
    for (const [name, profile] of Object.entries(profiles)) {
      const before = out.getIn(['profiles', name]);
      if (!isMap(before)) { out.setIn(['profiles', name], out.createNode(profile)); continue; }
      for (const key of Object.keys(before.toJSON() ?? {})) if (!(key in profile)) out.deleteIn(['profiles', name, key]);
      for (const [key, value] of Object.entries(profile)) {
        const current = out.getIn(['profiles', name, key]);
        const currentJson = current && typeof current === 'object' && 'toJSON' in current ? (current as { toJSON(): unknown }).toJSON() : current;
        if (JSON.stringify(currentJson) !== JSON.stringify(value)) out.setIn(['profiles', name, key], out.createNode(value, { flow: Array.isArray(value) }));
      }
    }
  }
  writePrivateFileAtomic(file, out.toString());
  return config;
}

function stripUndefined(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(stripUndefined);
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = stripUndefined(v);
    return out;
  }
  return value;
}
