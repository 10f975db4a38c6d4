// node:net is loaded only when a bus must be dialled: it costs ~2.5 ms of the `auth token`
// startup budget (docs/design.md §7), and the file store's fast path never dials.

/**
 * Does a Secret Service answer on this session bus? Asked in plain JavaScript
 * over a socket we can close, before @napi-rs/keyring is touched (Linux only).
 *
 * Why not ask the library: its calls run on libuv's thread pool (or, for the
 * AsyncEntry constructor, on the main thread) and cannot be cancelled. Against
 * a bus that accepts the connection but never answers, or a keyring daemon
 * that is stuck, such a call blocks forever — and Node cannot even exit while
 * a pool thread is blocked (process.exit joins the pool). So this check
 * speaks just enough D-Bus (SASL EXTERNAL, Hello, and a Peer.Ping to
 * org.freedesktop.secrets; D-Bus specification, "Authentication Protocol" and
 * "Message Protocol") to know, within the time limit, that a later library
 * call will get an answer.
 *
 * Dependency free: the `auth token` fast path (src/fast/token.ts) can use it too.
 */
/** `noAnswer`: something is there but did not answer in time (a stuck daemon) — not the same as no keychain at all. */
export type ServiceCheck = { ok: true } | { ok: false; reason: string; noAnswer?: boolean };

/** Which session bus a verdict is about: the key of StorageContext.keychain (store/context.ts). */
export const busKey = (env: NodeJS.ProcessEnv) => `${env.DBUS_SESSION_BUS_ADDRESS ?? ''}\n${env.XDG_RUNTIME_DIR ?? ''}`;

/**
 * Asks the session bus once. Callers keep the answer: store/keychain.ts in the invocation's
 * StorageContext, and the `auth token` fast path hands its answer to the full CLI when it
 * defers (bin.ts), so a silent bus is waited for once per process.
 */
export function checkSecretService(env: NodeJS.ProcessEnv, timeoutMs = 2000): Promise<ServiceCheck> {
  return runCheck(env, timeoutMs);
}

type Target = { path: string } | { host: string; port: number } | { reason: string } | undefined;

const unescape = (v: string) => v.replace(/%([0-9a-fA-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));

/** The first address we can dial; undefined for a transport this check does not speak (the library is asked directly). */
function busTarget(env: NodeJS.ProcessEnv): Target {
  let address = env.DBUS_SESSION_BUS_ADDRESS;
  if (address === undefined || address === '') {
    // What the library does without the variable: the per-user bus socket.
    const runtime = env.XDG_RUNTIME_DIR || (typeof process.getuid === 'function' ? `/run/user/${process.getuid()}` : undefined);
    if (!runtime) return { reason: 'no D-Bus session (DBUS_SESSION_BUS_ADDRESS is not set)' };
    address = `unix:path=${runtime}/bus`;
  }
  let unknown = false;
  for (const entry of address.split(';')) {
    const colon = entry.indexOf(':');
    if (colon < 0) continue;
    const transport = entry.slice(0, colon);
    const params = new Map(entry.slice(colon + 1).split(',').filter(Boolean).map((kv) => {
      const eq = kv.indexOf('=');
      return [kv.slice(0, eq), unescape(kv.slice(eq + 1))] as const;
    }));
    if (transport === 'unix' && params.get('path')) return { path: params.get('path')! };
    if (transport === 'unix' && params.get('abstract')) return { path: `\0${params.get('abstract')}` };
    if (transport === 'tcp' && params.get('port')) return { host: params.get('host') || 'localhost', port: Number(params.get('port')) };
    if (transport !== 'disabled') unknown = true;
  }
  return unknown ? undefined : { reason: 'no D-Bus session (DBUS_SESSION_BUS_ADDRESS is disabled)' };
}

// --- just enough of the D-Bus wire format (little endian) ---

const pad = (n: number, a: number) => (a - (n % a)) % a;

function marshalCall(serial: number, path: string, iface: string, member: string, destination: string): Buffer {
  const fields: Buffer[] = [];
  let offset = 16; // fields start after the 12-byte fixed header and the 4-byte array length
  const field = (code: number, sig: 'o' | 's', value: string) => {
    const lead = Buffer.alloc(pad(offset, 8));
    const str = Buffer.from(value, 'utf8');
    // struct(byte code, variant(signature, value)); the value's uint32 length is 4-aligned after "code 1 sig 0" (4 bytes).
    const body = Buffer.alloc(4 + 4 + str.length + 1);
    body.writeUInt8(code, 0);
    body.writeUInt8(1, 1);
    body.write(sig, 2, 'latin1');
    body.writeUInt8(0, 3);
    body.writeUInt32LE(str.length, 4);
    str.copy(body, 8);
    fields.push(lead, body);
    offset += lead.length + body.length;
  };
  field(1, 'o', path);
  field(2, 's', iface);
  field(3, 's', member);
  field(6, 's', destination);
  const array = Buffer.concat(fields);
  const fixed = Buffer.alloc(16);
  fixed.write('l', 0, 'latin1');
  fixed.writeUInt8(1, 1); // METHOD_CALL
  fixed.writeUInt8(0, 2); // flags: a reply is expected, auto-start allowed
  fixed.writeUInt8(1, 3); // protocol version
  fixed.writeUInt32LE(0, 4); // no body
  fixed.writeUInt32LE(serial, 8);
  fixed.writeUInt32LE(array.length, 12);
  return Buffer.concat([fixed, array, Buffer.alloc(pad(16 + array.length, 8))]);
}

interface Reply {
  type: number;
  replySerial?: number;
  errorName?: string;
}

/** Splits complete messages off `buf`; returns them and the rest. */
function parseMessages(buf: Buffer): { messages: Reply[]; rest: Buffer } {
  const messages: Reply[] = [];
  for (;;) {
    if (buf.length < 16) break;
    const le = buf[0] === 0x6c; // 'l'
    const u32 = (o: number) => (le ? buf.readUInt32LE(o) : buf.readUInt32BE(o));
    const bodyLength = u32(4);
    const fieldsLength = u32(12);
    const headerEnd = 16 + fieldsLength + pad(16 + fieldsLength, 8);
    const total = headerEnd + bodyLength;
    if (buf.length < total) break;
    const reply: Reply = { type: buf[1]! };
    let o = 16;
    while (o < 16 + fieldsLength) {
      o += pad(o, 8);
      const code = buf[o]!;
      const sigLength = buf[o + 1]!;
      const sig = buf.toString('latin1', o + 2, o + 2 + sigLength);
      o += 2 + sigLength + 1;
      if (sig === 'u') {
        o += pad(o, 4);
        if (code === 5) reply.replySerial = u32(o);
        o += 4;
      } else if (sig === 's' || sig === 'o') {
        o += pad(o, 4);
        const length = u32(o);
        if (code === 4) reply.errorName = buf.toString('utf8', o + 4, o + 4 + length);
        o += 4 + length + 1;
      } else if (sig === 'g') {
        o += 1 + buf[o]! + 1;
      } else {
        break; // not a header field type we need; the ones we need came first or are absent
      }
    }
    messages.push(reply);
    buf = buf.subarray(total);
  }
  return { messages, rest: buf };
}

/**
 * One attempt; `busy`: a bus is there but would not take us just now (at its connection limit,
 * its backlog full, or it hung up before answering). Several `auth` processes at once can bring a
 * session bus to its per-user connection limit (the keyring library opens a connection per call),
 * and that must not read as "no keychain here": the credential is still in it.
 */
type Attempt = ServiceCheck | { ok: false; reason: string; busy: true };

const LIMITS_EXCEEDED = 'org.freedesktop.DBus.Error.LimitsExceeded';

async function runCheck(env: NodeJS.ProcessEnv, timeoutMs: number): Promise<ServiceCheck> {
  const target = busTarget(env);
  if (target === undefined) return { ok: true };
  if ('reason' in target) return { ok: false, reason: target.reason };
  // require in the CommonJS bundles (dynamic import() would start the ESM loader); import() elsewhere.
  const { connect } = (typeof require === 'function' ? require('node:net') : await import('node:net')) as typeof import('node:net');
  const deadline = performance.now() + timeoutMs;
  // A busy bus is asked again, with growing pauses, until the same time limit; still busy then,
  // it counts as not answering (reads fail naming the keychain), never as absent.
  let busy: string | undefined;
  for (let pause = 50; ; pause *= 2) {
    const result = await attempt(connect, target, Math.max(deadline - performance.now(), 1), timeoutMs);
    if (!('busy' in result)) {
      // Out of time in a later attempt: the busy bus is the more telling reason.
      return !result.ok && result.noAnswer && busy !== undefined ? { ok: false, reason: busy, noAnswer: true } : result;
    }
    busy = result.reason;
    if (deadline - performance.now() <= pause) return { ok: false, reason: busy, noAnswer: true };
    await new Promise((resolve) => setTimeout(resolve, pause));
  }
}

function attempt(connect: typeof import('node:net').connect, target: { path: string } | { host: string; port: number }, waitMs: number, timeoutMs: number): Promise<Attempt> {
  return new Promise<Attempt>((resolve) => {
    let settled = false;
    const done = (result: Attempt) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => done({ ok: false, reason: `the D-Bus session bus or the Secret Service did not answer within ${timeoutMs / 1000} s`, noAnswer: true }), waitMs);
    const socket = 'path' in target ? connect({ path: target.path }) : connect({ host: target.host, port: target.port });
    let connected = false;
    const hungUp: Attempt = { ok: false, reason: 'the D-Bus session bus closed the connection', busy: true };
    socket.on('error', (e: NodeJS.ErrnoException) => {
      // Once connected, an error (EPIPE, ECONNRESET) is the bus hanging up on us.
      if (connected) return done(hungUp);
      done(e.code === 'EAGAIN' ? { ok: false, reason: 'the D-Bus session bus is not accepting connections (EAGAIN)', busy: true } : { ok: false, reason: `no D-Bus session bus (${e.code ?? e.message})` });
    });
    socket.on('close', () => done(hungUp));
    let stage: 'auth' | 'messages' = 'auth';
    let buf: Buffer = Buffer.alloc(0);
    socket.on('connect', () => {
      connected = true;
      const uid = typeof process.getuid === 'function' ? String(process.getuid()) : '';
      socket.write(Buffer.concat([Buffer.from([0]), Buffer.from(`AUTH EXTERNAL ${Buffer.from(uid).toString('hex')}\r\n`, 'latin1')]));
    });
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      if (stage === 'auth') {
        const end = buf.indexOf('\r\n');
        if (end < 0) return;
        const line = buf.toString('latin1', 0, end);
        buf = buf.subarray(end + 2);
        if (!line.startsWith('OK ')) return done({ ok: false, reason: `the D-Bus session bus refused us (${line.split(' ')[0]})` });
        stage = 'messages';
        socket.write(Buffer.concat([
          Buffer.from('BEGIN\r\n', 'latin1'),
          marshalCall(1, '/org/freedesktop/DBus', 'org.freedesktop.DBus', 'Hello', 'org.freedesktop.DBus'),
          marshalCall(2, '/org/freedesktop/secrets', 'org.freedesktop.DBus.Peer', 'Ping', 'org.freedesktop.secrets'),
        ]));
      }
      const { messages, rest } = parseMessages(buf);
      buf = rest;
      for (const m of messages) {
        // The bus answers Hello with an error when it is at its connection limit, then hangs up.
        if (m.replySerial === 1 && m.type === 3 && m.errorName === LIMITS_EXCEEDED) {
          return done({ ok: false, reason: 'the D-Bus session bus is at its connection limit', busy: true });
        }
        if (m.replySerial !== 2) continue;
        if (m.type === 2) return done({ ok: true });
        const name = m.errorName ?? 'an error';
        return done({ ok: false, reason: name === 'org.freedesktop.DBus.Error.ServiceUnknown' || name === 'org.freedesktop.DBus.Error.NameHasNoOwner' ? 'no Secret Service on the D-Bus session bus' : `the Secret Service answered ${name}` });
      }
    });
  });
}
