import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PassThrough } from 'node:stream';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { resolvePaths } from '../src/config/paths.js';
import type { Deps, Logger } from '../src/deps.js';
import type { Credential } from '../src/domain/credential.js';
import { EncryptedFileStore } from '../src/store/encrypted-file.js';
import { FileStore } from '../src/store/file.js';
import type { TokenStore } from '../src/store/token-store.js';
import { makeHome } from './support/cli.js';
import { keyringRequirement, startPrivateKeyring, type PrivateKeyring } from './support/keyring.js';
import { StorageContext } from '../src/store/context.js';

// The store contract (docs/architecture.md "Adding things"):
// each backend, and the layered store `openStore` hands to commands, must
// round-trip a credential, overwrite it, answer undefined for a missing one
// and delete it — here in-process, against real files and a real Secret Service.

interface TestDeps extends Deps {
  messages: string[];
}

function makeDeps(home: string, env: NodeJS.ProcessEnv): TestDeps {
  const messages: string[] = [];
  const log: Logger = {
    debugEnabled: false,
    color: false,
    info: (m) => messages.push(m),
    success: (m) => messages.push(m),
    warn: (m) => messages.push(`! ${m}`),
    error: (m) => messages.push(`error: ${m}`),
    debug: () => undefined,
  };
  const deps: TestDeps = {
    messages,
    io: { stdout: new PassThrough(), stderr: new PassThrough(), stdin: new PassThrough(), stdinIsTTY: false, stdoutIsTTY: false, stderrIsTTY: false },
    env,
    platform: process.platform,
    hostname: 'test',
    clock: { now: () => Date.now() },
    fetch,
    paths: resolvePaths({ AUTH_HOME: home }, process.platform, home),
    browser: { open: async () => undefined, available: () => ({ ok: false, reason: 'test' }) },
    prompter: { secret: async () => { throw new Error('the store tests never prompt'); } },
    storage: new StorageContext(),
    log,
    signal: new AbortController().signal,
    openStore: async (kind, profile) => (await import('../src/store/select.js')).openStore(kind, profile, deps),
    runChild: async () => ({ spawnError: 'not used by the store tests' }),
    runCapture: async () => ({ spawnError: 'unused' }),
    authPath: '/usr/local/bin/auth',
    home: '/nonexistent-home',
  };
  return deps;
}

let serial = 0;
function credential(overrides: Partial<Credential> = {}): Credential {
  serial++;
  return {
    kind: 'oauth',
    accessToken: `AT_contract_${serial}_${Math.random().toString(36).slice(2)}`,
    tokenType: 'Bearer',
    expiresAt: Math.floor(Date.now() / 1000) * 1000 + 3_600_000,
    refreshToken: `RT_contract_${serial}`,
    idToken: 'eyJhbGciOiJub25lIn0.e30.',
    scope: 'openid profile offline_access',
    issuer: 'https://issuer.example',
    clientId: 'auth-cli',
    account: { sub: 'alice', email: 'alice@example.com' },
    resources: ['https://api.example'],
    obtainedAt: Math.floor(Date.now() / 1000) * 1000,
    ...overrides,
  };
}

/** The same checks for every store. */
function contract(name: string, open: () => Promise<TokenStore>, where: () => { plainTextUnder?: string }) {
  describe(`store contract: ${name}`, () => {
    let store: TokenStore;
    beforeAll(async () => {
      store = await open();
    });

    it('a missing profile reads as undefined, and deleting it is a no-op', async () => {
      expect(await store.get('never-stored')).toBeUndefined();
      expect(await store.delete('never-stored')).toBe(false);
    });

    it('set then get returns the same credential, every field intact', async () => {
      const cred = credential();
      await store.set('alpha', cred);
      expect(await store.get('alpha')).toEqual(cred);
    });

    it('set again overwrites; profiles do not see each other', async () => {
      const first = credential();
      const second = credential({ refreshToken: undefined, expiresAt: undefined, kind: 'static', account: undefined, resources: undefined, idToken: undefined });
      await store.set('beta', first);
      await store.set('gamma', credential());
      await store.set('beta', second);
      const back = await store.get('beta');
      expect(back).toEqual(second);
      expect(back!.accessToken).not.toBe(first.accessToken);
      expect((await store.get('gamma'))!.accessToken).not.toBe(second.accessToken);
    });

    it('delete removes it; a second delete reports nothing removed', async () => {
      await store.set('delta', credential());
      expect(await store.delete('delta')).toBe(true);
      expect(await store.get('delta')).toBeUndefined();
      expect(await store.delete('delta')).toBe(false);
    });

    it('the stored JSON appears in plain text only where the store is the plain file store', async () => {
      const cred = credential();
      await store.set('epsilon', cred);
      const { plainTextUnder } = where();
      const dir = plainTextUnder;
      if (!dir) return;
      const files = existsSync(dir) ? readdirSync(dir, { recursive: true }).map(String) : [];
      const hits = files.filter((f) => {
        try {
          return readFileSync(join(dir, f), 'latin1').includes(cred.accessToken);
        } catch {
          return false;
        }
      });
      expect(hits).toEqual(name.startsWith('file') ? ['epsilon.json'] : []);
    });
  });
}

const plainHome = makeHome('auth-contract-file-');
const encHome = makeHome('auth-contract-enc-');
afterAll(() => {
  plainHome.cleanup();
  encHome.cleanup();
});

contract('file', async () => new FileStore(join(plainHome.home, 'credentials')), () => ({ plainTextUnder: join(plainHome.home, 'credentials') }));
contract(
  'encrypted-file',
  async () => new EncryptedFileStore(join(encHome.home, 'credentials'), makeDeps(encHome.home, { AUTH_PASSPHRASE: 'contract passphrase' })),
  () => ({ plainTextUnder: encHome.home }),
);
const layeredFileHome = makeHome('auth-contract-layered-');
afterAll(() => layeredFileHome.cleanup());
contract(
  'file (through openStore)',
  async () => makeDeps(layeredFileHome.home, { DBUS_SESSION_BUS_ADDRESS: 'disabled:' }).openStore('file', 'alpha'),
  () => ({ plainTextUnder: join(layeredFileHome.home, 'credentials') }),
);

// The keychain: a private gnome-keyring on a private bus. The native binding reads
// DBUS_SESSION_BUS_ADDRESS from the process environment, so this file (its own
// process under vitest's forks pool) points it there before anything asks.
const keyring = keyringRequirement();
describe.skipIf(keyring.skip)('keychain stores', () => {
  let kr: PrivateKeyring;
  const home = makeHome('auth-contract-kc-');
  const holder: { deps?: TestDeps } = {};
  beforeAll(async () => {
    keyring.assertAvailable();
    kr = await startPrivateKeyring();
    process.env.DBUS_SESSION_BUS_ADDRESS = kr.env.DBUS_SESSION_BUS_ADDRESS;
    holder.deps = makeDeps(home.home, { ...kr.env });
  });
  afterAll(async () => {
    await kr?.stop();
    home.cleanup();
  });

  contract('keychain', async () => {
    const { KeychainStore } = await import('../src/store/keychain.js');
    return new KeychainStore(undefined, holder.deps!.env);
  }, () => ({ plainTextUnder: home.home }));
  contract('keychain (through openStore, default storage)', async () => holder.deps!.openStore(undefined, 'alpha'), () => ({ plainTextUnder: home.home }));

  it('the keychain holds one item per profile under service authcli, seen by secret-tool (R73)', () => {
    expect(kr.accounts()).toEqual(expect.arrayContaining(['alpha', 'beta', 'gamma', 'epsilon']));
    expect(kr.accounts()).not.toContain('delta');
    expect(JSON.parse(kr.lookup('alpha')!)).toMatchObject({ version: 1, token_type: 'Bearer', issuer: 'https://issuer.example', client_id: 'auth-cli' });
  });

  it('client secrets: stored in the keychain as <profile>:client-secret, read back, removed', async () => {
    const { storeClientSecret, readClientSecret, deleteClientSecret, describeClientSecret } = await import('../src/store/client-secret.js');
    const deps = holder.deps!;
    await storeClientSecret({ name: 'svc' }, 'CS_contract_secret', deps);
    expect(kr.lookup('svc:client-secret')).toBe('CS_contract_secret');
    expect(await readClientSecret({ name: 'svc' }, deps)).toBe('CS_contract_secret');
    expect(await describeClientSecret({ name: 'svc' }, deps)).toBe('OS keychain (service authcli, account svc:client-secret)');
    expect(existsSync(join(home.home, 'credentials', 'svc.client-secret'))).toBe(false);
    expect(await deleteClientSecret({ name: 'svc' }, deps)).toBe(true);
    expect(kr.lookup('svc:client-secret')).toBeUndefined();
    expect(await readClientSecret({ name: 'svc' }, deps)).toBeUndefined();
  });

  it('client secrets follow storage: file → <profile>.client-secret (0600); switching back moves it into the keychain', async () => {
    const { storeClientSecret, readClientSecret } = await import('../src/store/client-secret.js');
    const deps = holder.deps!;
    await storeClientSecret({ name: 'svc2', storage: 'file' }, 'CS_file_secret', deps);
    const file = join(home.home, 'credentials', 'svc2.client-secret');
    expect(readFileSync(file, 'utf8')).toBe('CS_file_secret');
    expect(kr.lookup('svc2:client-secret')).toBeUndefined();
    expect(await readClientSecret({ name: 'svc2' }, deps)).toBe('CS_file_secret');
    expect(existsSync(file)).toBe(false);
    expect(kr.lookup('svc2:client-secret')).toBe('CS_file_secret');
    expect(deps.messages.join('\n')).toContain('The client secret of profile svc2 moved from the file');
  });
});

describe('client secrets without a keychain', () => {
  const home = makeHome('auth-contract-cs-');
  afterAll(() => home.cleanup());

  it('encrypted-file storage keeps the client secret encrypted next to the credential', async () => {
    const { storeClientSecret, readClientSecret } = await import('../src/store/client-secret.js');
    const deps = makeDeps(home.home, { DBUS_SESSION_BUS_ADDRESS: 'disabled:', AUTH_PASSPHRASE: 'pw for secrets' });
    await storeClientSecret({ name: 'enc', storage: 'encrypted-file' }, 'CS_encrypted_secret', deps);
    const raw = readFileSync(join(home.home, 'credentials', 'enc.client-secret'));
    expect(raw.subarray(0, 7).toString('latin1')).toBe('AUTHENC');
    expect(raw.toString('latin1')).not.toContain('CS_encrypted_secret');
    expect(await readClientSecret({ name: 'enc', storage: 'encrypted-file' }, deps)).toBe('CS_encrypted_secret');
  });
});
