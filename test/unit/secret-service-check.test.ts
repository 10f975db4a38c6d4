import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkSecretService } from '../../src/store/secret-service-check.js';

// The Secret Service check (src/store/secret-service-check.ts) against real unix sockets: a bus
// that is not there is no keychain; a bus that is there but hangs up on us is asked again and,
// still hanging up at the time limit, counts as not answering (reads then fail naming the
// keychain, docs/storage.md). The acceptance tier does the same with a real dbus-daemon at its
// connection limit (test/sessions-keychain.test.ts).

const dirs: string[] = [];
const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise((resolve) => s.close(resolve));
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function socketPath(): string {
  const dir = mkdtempSync(join(tmpdir(), 'auth-ss-check-'));
  dirs.push(dir);
  return join(dir, 'bus');
}

describe('checkSecretService', () => {
  it('no socket at the address: no keychain (not "no answer"), at once', async () => {
    const path = socketPath();
    const result = await checkSecretService({ DBUS_SESSION_BUS_ADDRESS: `unix:path=${path}` }, 5_000);
    expect(result).toEqual({ ok: false, reason: 'no D-Bus session bus (ENOENT)' });
  });

  it('a bus that accepts and hangs up is asked again, and still hanging up at the limit it did not answer', async () => {
    const path = socketPath();
    let connections = 0;
    const server = createServer((socket) => {
      connections++;
      socket.destroy();
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(path, resolve));
    const result = await checkSecretService({ DBUS_SESSION_BUS_ADDRESS: `unix:path=${path}` }, 1_000);
    expect(result).toEqual({ ok: false, reason: 'the D-Bus session bus closed the connection', noAnswer: true });
    expect(connections).toBeGreaterThan(1);
  });

  it('a disabled bus address is no keychain', async () => {
    expect(await checkSecretService({ DBUS_SESSION_BUS_ADDRESS: 'disabled:' }, 1_000)).toEqual({ ok: false, reason: 'no D-Bus session (DBUS_SESSION_BUS_ADDRESS is disabled)' });
  });
});
