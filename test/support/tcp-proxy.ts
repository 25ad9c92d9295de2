import { type AddressInfo, connect, createServer, type Socket } from 'node:net';

/**
 * A TCP proxy between the app and a shared service (PostgreSQL, Redis), so that a test can take
 * the service away from the app alone: `cut()` drops every proxied connection and resets new
 * ones, as a stopped server would look to its clients; `stall()` keeps connections open but
 * holds every byte either way, as a hung server (or a network dropping packets) looks;
 * `restore()` lets connections and the held bytes through again. The service itself, shared
 * with other test runs, is never touched.
 */
export interface TcpProxy {
  port: number;
  /** `url` with its host and port replaced by the proxy's. */
  via(url: string): string;
  cut(): void;
  stall(): void;
  restore(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  let down = false;
  let stalled = false;
  /**
   * Bytes held while stalled, in arrival order, with the socket each was headed for. Forwarded
   * by hand rather than piped, so that they can be held: no backpressure, which tests' traffic
   * does not need.
   */
  let held: [Socket, Buffer][] = [];
  const forward = (from: Socket, to: Socket) =>
    from.on('data', (chunk: Buffer) => {
      if (stalled) held.push([to, chunk]);
      else to.write(chunk);
    });
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    // Resets are the point of the exercise: they are the app's to notice, not the proxy's.
    socket.on('error', () => undefined);
  };
  const server = createServer((client) => {
    track(client);
    if (down) {
      client.resetAndDestroy();
      return;
    }
    const upstream = connect(target.port, target.host);
    track(upstream);
    forward(client, upstream);
    forward(upstream, client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    port,
    via(url) {
      const parsed = new URL(url);
      parsed.hostname = '127.0.0.1';
      parsed.port = String(port);
      return parsed.toString();
    },
    cut() {
      down = true;
      for (const socket of sockets) socket.resetAndDestroy();
    },
    stall() {
      stalled = true;
    },
    restore() {
      down = false;
      stalled = false;
      const release = held;
      held = [];
      for (const [to, chunk] of release) if (!to.destroyed) to.write(chunk);
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
