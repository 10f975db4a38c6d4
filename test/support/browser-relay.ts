import { createServer, type Server } from 'node:http';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runScriptedBrowser } from '../../sandbox/browser-lib.mjs';
import { runFakeBrowser } from './fake-browser-lib.mjs';

/**
 * The tests' "browsers" without a Node start per sign-in.
 *
 * Every `auth login` in the suite launches a browser: sandbox/browser.mjs against the sandbox,
 * test/support/fake-browser.mjs against the fake AS. Each is a Node process, and starting
 * Node is most of what they cost. Here the browser the CLI launches is a two-line shell script
 * that hands the URL (and the browser's settings from its environment) to this server in the
 * test process with curl; the server runs the same code (`runScriptedBrowser`,
 * `runFakeBrowser`) and answers when the callback has been requested. The CLI still launches
 * a real program with the URL as its only argument, and the browser still talks HTTP to the
 * provider and the CLI's loopback server; only where that code runs changes.
 *
 * Tests that look at the browser process itself (its environment, /proc) use the Node
 * scripts directly. Without curl, there is no relay and the scripts are used; for an https URL
 * the relay script runs them itself (the CLI's environment may trust a CA this process does not).
 */

/** What the relay scripts forward from their environment, per kind. */
const FORWARDED = {
  sandbox: ['SANDBOX_LOGIN', 'SANDBOX_ACTION', 'SANDBOX_BROWSER_DELAY_MS', 'SANDBOX_BROWSER_LOG'],
  fake: ['FAKE_BROWSER_LOG', 'FAKE_BROWSER_MODE'],
} as const;
type RelayKind = keyof typeof FORWARDED;

/** The Node scripts the relay stands in for. */
const NODE_SCRIPTS: Record<RelayKind, string> = {
  sandbox: join(import.meta.dirname, '..', '..', 'sandbox', 'browser.mjs'),
  fake: join(import.meta.dirname, 'fake-browser.mjs'),
};

/** The variable through which the scripts find this server. */
const RELAY_VAR = 'AUTH_TEST_BROWSER_RELAY';

export interface BrowserRelay {
  /** The program to use as AUTH_BROWSER for that kind of provider. */
  browser(kind: RelayKind): string;
  /** The env the CLI needs for the scripts to reach this server. */
  env: Record<string, string>;
  close(): Promise<void>;
}

function curlPath(): string | undefined {
  const found = spawnSync('sh', ['-c', 'command -v curl'], { encoding: 'utf8' }).stdout.trim();
  return found.startsWith('/') ? found : undefined;
}

export async function startBrowserRelay(): Promise<BrowserRelay | undefined> {
  const curl = curlPath();
  if (!curl) return undefined;
  const server: Server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (d: string) => (body += d));
    req.on('end', () => {
      const form = new URLSearchParams(body);
      const url = form.get('url') ?? '';
      // Unset and empty are the same to the scripts' callers: the shell forwards both as empty.
      const env: Record<string, string | undefined> = {};
      for (const [k, v] of form) if (k !== 'url' && k !== 'kind' && v !== '') env[k] = v;
      const run =
        form.get('kind') === 'fake'
          ? runFakeBrowser([url], { log: env.FAKE_BROWSER_LOG, mode: env.FAKE_BROWSER_MODE ?? 'follow' }).then(() => 0)
          : runScriptedBrowser([url], env, () => undefined);
      run.then(
        (code) => res.end(String(code)),
        (e: unknown) => res.end(`1 ${String(e)}`),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  const dir = mkdtempSync(join(tmpdir(), 'auth-relay-'));
  const scripts = {} as Record<RelayKind, string>;
  for (const kind of Object.keys(FORWARDED) as RelayKind[]) {
    const fields = FORWARDED[kind].map((name) => `--data-urlencode "${name}=\${${name}:-}"`).join(' ');
    scripts[kind] = join(dir, `${kind}-browser`);
    writeFileSync(
      scripts[kind],
      `#!/bin/sh\n# Test browser: hands the URL to the relay in the test process (test/support/browser-relay.ts).\n` +
        // An https provider may use a CA only the CLI's environment trusts (NODE_EXTRA_CA_CERTS).
        `case "$1" in https:*) exec "${process.execPath}" "${NODE_SCRIPTS[kind]}" "$1" ;; esac\n` +
        `exec "${curl}" -s --noproxy '*' --max-time 120 -o /dev/null --data-urlencode "kind=${kind}" --data-urlencode "url=$1" ${fields} "$${RELAY_VAR}"\n`,
      { mode: 0o755 },
    );
  }
  return {
    browser: (kind) => scripts[kind],
    env: { [RELAY_VAR]: `http://127.0.0.1:${port}/` },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

let current: BrowserRelay | undefined;

/** The relay of this test file (test/support/setup-relay.ts), if curl is there. */
export function currentRelay(): BrowserRelay | undefined {
  return current;
}

export function useRelay(relay: BrowserRelay | undefined): void {
  current = relay;
}
