import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isMap, isSeq, parseDocument, type Document, type YAMLMap } from 'yaml';
import type { Deps } from '../deps.js';
import { AuthError } from '../errors.js';
import { writePrivateFileAtomic } from '../store/fs-safe.js';
import { loadProfile, requireConfigured } from './context.js';

/**
 * `auth setup-kube` (docs/design.md §2): a kubeconfig `users:` entry whose exec plugin runs
 * `auth token --format exec-credential -p <profile>` (kubectl caches the answer until its
 * expirationTimestamp), written with the yaml document API so every other entry and comment
 * stays as it was; `--context` also points that context at the user.
 */
export interface SetupKubeRequest {
  profile?: string;
  user?: string;
  context?: string;
  idToken: boolean;
  dryRun: boolean;
}

export interface SetupKubeResult {
  file: string;
  user: string;
  profile: string;
  /** 'added' | 'updated' | 'unchanged' */
  userChange: 'added' | 'updated' | 'unchanged';
  context?: string;
  contextChanged: boolean;
  dryRun: boolean;
}

/** `$KUBECONFIG`'s first file, else ~/.kube/config (as kubectl writes). */
function kubeconfigPath(env: NodeJS.ProcessEnv, home: string, platform: NodeJS.Platform): string {
  const list = (env.KUBECONFIG ?? '').split(platform === 'win32' ? ';' : ':').filter(Boolean);
  return list[0] ?? join(home, '.kube', 'config');
}

export function setupKube(req: SetupKubeRequest, deps: Deps): SetupKubeResult {
  const { profile } = loadProfile(deps, req.profile === undefined ? {} : { profile: req.profile });
  requireConfigured(profile);
  const file = kubeconfigPath(deps.env, deps.home, deps.platform);
  const user = req.user ?? `auth-${profile.name}`;
  const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
  const doc = parseDocument(text || 'apiVersion: v1\nkind: Config\n');
  if (doc.errors.length) {
    throw new AuthError('AUTH_CONFIG_INVALID', `${file} is not valid YAML (${doc.errors[0]!.message.split('\n')[0]}); it was left as it was.`, { hint: 'Fix it (or move it away), then run `auth setup-kube` again.' });
  }
  const exec = {
    apiVersion: 'client.authentication.k8s.io/v1',
    command: deps.authPath,
    args: ['token', '--format', 'exec-credential', '-p', profile.name, ...(req.idToken ? ['--id-token'] : [])],
    interactiveMode: 'IfAvailable',
    provideClusterInfo: false,
  };
  const userChange = upsertNamed(doc, 'users', user, 'user', { exec });
  let contextChanged = false;
  if (req.context !== undefined) {
    const contexts = doc.get('contexts');
    const entry = isSeq(contexts) ? contexts.items.find((i) => isMap(i) && i.get('name') === req.context) : undefined;
    if (!isMap(entry)) {
      throw new AuthError('AUTH_USAGE', `There is no context ${req.context} in ${file}.`, { hint: 'Name one of `kubectl config get-contexts`, or leave out --context.' });
    }
    const body = entry.get('context');
    if (!isMap(body)) throw new AuthError('AUTH_CONFIG_INVALID', `Context ${req.context} in ${file} has no context: section.`);
    if (body.get('user') !== user) {
      body.set('user', user);
      contextChanged = true;
    }
  }
  if (!req.dryRun && (userChange !== 'unchanged' || contextChanged)) {
    writePrivateFileAtomic(file, doc.toString(), { foreignDir: true });
  }
  return { file, user, profile: profile.name, userChange, ...(req.context === undefined ? {} : { context: req.context }), contextChanged, dryRun: req.dryRun };
}

/** Sets `<list>[name=<name>].<field>` to `value` (as YAML), adding the entry when missing. */
function upsertNamed(doc: Document, list: string, name: string, field: string, value: unknown): 'added' | 'updated' | 'unchanged' {
  let seq = doc.get(list);
  if (!isSeq(seq)) {
    doc.set(list, doc.createNode([]));
    seq = doc.get(list);
  }
  const items = (seq as { items: unknown[] }).items;
  const existing = items.find((i) => isMap(i) && i.get('name') === name) as YAMLMap | undefined;
  const node = doc.createNode(value);
  if (!existing) {
    items.push(doc.createNode({ name, [field]: value }));
    return 'added';
  }
  const before = existing.get(field);
  if (JSON.stringify(isMap(before) ? before.toJSON() : before) === JSON.stringify(value)) return 'unchanged';
  existing.set(field, node);
  return 'updated';
}
