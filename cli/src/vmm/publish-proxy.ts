// `--publish` for TCP under QEMU user networking: the CLI listens on the published host socket
// itself and forwards each connection to slirp's hostfwd socket, which QEMU binds on an internal
// loopback port the CLI picked, a few connects at a time.
//
// Why: libslirp 4.7 listens on a hostfwd socket with a backlog of 1 (measured: `ss -ltn` shows
// Send-Q 1), so Linux queues at most two connections for slirp's accept and drops every SYN past
// them. A hundred clients connecting at once then wait for their SYN retransmits (1 s, 3 s, 7 s,
// … in step): some took 100 s to connect, although the guest answered every SYN slirp sent within
// a millisecond (measured 2026-11-29, QEMU 7.2, a packet capture with filter-dump). The proxy
// listens with a backlog of 511 and opens at most PUBLISH_CONNECTS_IN_FLIGHT_MAX connections to
// slirp at a time, each holding its slot PUBLISH_ACCEPT_SETTLE_MS past the handshake (slirp
// accepts a few ms behind it); the others wait in a bounded queue. An attempt whose SYN was
// dropped anyway is abandoned after PUBLISH_CONNECT_ATTEMPT_MS and made again at once, rather
// than after the kernel's 1 s. Measured with the net probe's http server, 100 clients at once:
// without the proxy 29 answered within 107 s; with it all 100 in 0.17–0.27 s, 0–3 connects made
// again (2026-11-29, KVM under PVM).
//
// A forwarded connection is piped both ways: backpressure (pipe), half-close (allowHalfOpen: a
// client's FIN reaches the guest while its answer still flows back), and aborts: a reset on one
// side resets the other (resetAndDestroy sends an RST; slirp passes it on to the guest). Slirp
// accepts and then connects to the guest by itself, so a guest that never accepts leaves its
// clients connected to slirp, as without the proxy. UDP mappings stay direct hostfwd rules
// (there is no accept queue). The proxy lives as long as the VM: `run` starts it before the VMM
// and closes it (every socket destroyed) when the session ends, whichever way it ends.
import { connect, createServer, type Server, type Socket } from 'node:net';
import {
  PUBLISH_ACCEPT_SETTLE_MS,
  PUBLISH_CLIENTS_MAX,
  PUBLISH_CLOSE_MS,
  PUBLISH_CONNECT_ATTEMPT_MS,
  PUBLISH_CONNECTS_IN_FLIGHT_MAX,
  PUBLISH_LISTEN_BACKLOG,
  PUBLISH_REFUSED_RETRY_MS,
  PUBLISH_UPSTREAM_HOST,
  PUBLISH_WAIT_MS,
  PUBLISH_WAITING_MAX,
} from '../constants.js';
import { UkernelError } from '../errors.js';
import { portError } from './net-host.js';
import { formatPortMapping, type NetworkSettings, type PortMapping } from './network.js';

/** Bounds of one proxy; the constants unless a test shrinks them. */
export interface ProxyLimits {
  backlog: number;
  inFlightMax: number;
  acceptSettleMs: number;
  attemptMs: number;
  refusedRetryMs: number;
  waitingMax: number;
  clientsMax: number;
  waitMs: number;
  closeMs: number;
}

export const PROXY_LIMITS: ProxyLimits = {
  backlog: PUBLISH_LISTEN_BACKLOG,
  inFlightMax: PUBLISH_CONNECTS_IN_FLIGHT_MAX,
  acceptSettleMs: PUBLISH_ACCEPT_SETTLE_MS,
  attemptMs: PUBLISH_CONNECT_ATTEMPT_MS,
  refusedRetryMs: PUBLISH_REFUSED_RETRY_MS,
  waitingMax: PUBLISH_WAITING_MAX,
  clientsMax: PUBLISH_CLIENTS_MAX,
  waitMs: PUBLISH_WAIT_MS,
  closeMs: PUBLISH_CLOSE_MS,
};

/** One TCP mapping and where slirp listens for it (PUBLISH_UPSTREAM_HOST:upstreamPort). */
export interface ProxyRoute {
  mapping: PortMapping;
  upstreamPort: number;
}

/** The counters of a run's proxy, all TCP mappings together (`network.proxy` in the report). */
export interface ProxyStats {
  /** Client connections accepted on the published sockets. */
  connections: number;
  /** Of them, connected through to slirp (and so to the guest). */
  forwarded: number;
  /** Reset by the proxy without reaching slirp: the queue was full, or slirp stayed unreachable. */
  refused: number;
  /** Clients that aborted (an error or a reset on their side); their slirp side was reset. */
  client_resets: number;
  /** Slirp sides that aborted (the guest reset, or the VM went away); their client was reset. */
  guest_resets: number;
  /** Connects to slirp made again: a SYN dropped (attempt timed out), or nothing listening yet. */
  connect_retries: number;
  /** Most clients waiting at once to be forwarded (queued, or their connect to slirp under way). */
  waiting_max: number;
  /** Bytes read from clients (sent on to the guest) and from slirp (sent on to clients). */
  bytes_to_guest: number;
  bytes_from_guest: number;
}

export function emptyProxyStats(): ProxyStats {
  return {
    connections: 0,
    forwarded: 0,
    refused: 0,
    client_resets: 0,
    guest_resets: 0,
    connect_retries: 0,
    waiting_max: 0,
    bytes_to_guest: 0,
    bytes_from_guest: 0,
  };
}

/** A client connection and, once a connect to slirp is under way, its slirp side. */
interface Link {
  client: Socket;
  upstream: Socket | null;
  acceptedAtMs: number;
  /** The client is gone (closed or aborted): nothing more is done for it. */
  done: boolean;
  /** Whether each socket's bytesRead has been added to the totals (once, when it closes). */
  clientCounted: boolean;
  upstreamCounted: boolean;
}

/** The proxy of one TCP mapping: its listener, its queue of waiting clients, its connects. */
class Forwarder {
  readonly server: Server;
  upstreamPort: number | null = null;
  private readonly waiting: Link[] = [];
  private readonly links = new Set<Link>();
  private inFlight = 0;
  private retryTimer: NodeJS.Timeout | null = null;
  private closed = false;
  private readonly warned = new Set<string>();
  private readonly name: string;

  constructor(
    readonly mapping: PortMapping,
    private readonly limits: ProxyLimits,
    private readonly stats: ProxyStats,
    private readonly warn: (line: string) => void,
  ) {
    this.name = formatPortMapping(mapping);
    this.server = createServer({ allowHalfOpen: true, noDelay: true }, (client) => this.accept(client));
  }

  /** Binds the published socket; null when listening, else the errno code (EADDRINUSE, …). */
  listen(): Promise<string | null> {
    return new Promise((resolve) => {
      const onError = (err: NodeJS.ErrnoException): void => resolve(err.code ?? 'EINVAL');
      this.server.once('error', onError);
      const { hostIp: host, hostPort: port } = this.mapping;
      this.server.listen({ host, port, backlog: this.limits.backlog, exclusive: true }, () => {
        this.server.off('error', onError);
        // After listening, an accept that fails (EMFILE) is reported, not fatal.
        this.server.on('error', (err: NodeJS.ErrnoException) => this.warnOnce('accept', `accepting failed (${err.code})`));
        resolve(null);
      });
    });
  }

  setUpstream(port: number): void {
    this.upstreamPort = port;
    this.pump();
  }

  private warnOnce(key: string, what: string): void {
    if (this.warned.has(key)) return;
    this.warned.add(key);
    this.warn(`warning: --publish ${this.name}: ${what} (counted in the run report's network.proxy)`);
  }

  private accept(client: Socket): void {
    this.stats.connections++;
    // Waiting: in the queue or being connected, i.e. not forwarded yet.
    const waiting = this.waiting.length + this.inFlight;
    if (this.closed || waiting >= this.limits.waitingMax || this.links.size >= this.limits.clientsMax) {
      this.stats.refused++;
      client.on('error', () => undefined);
      client.resetAndDestroy();
      if (!this.closed) {
        const full = waiting >= this.limits.waitingMax;
        const why = full ? `${waiting} clients already wait for the guest` : `${this.links.size} clients open`;
        this.warnOnce('full', `${why}; resetting new connections`);
      }
      return;
    }
    const link: Link = {
      client,
      upstream: null,
      acceptedAtMs: Date.now(),
      done: false,
      clientCounted: false,
      upstreamCounted: false,
    };
    this.links.add(link);
    client.setNoDelay(true);
    client.on('error', () => {
      // An abort on the client's side: its slirp side (connecting or connected) is reset too.
      if (link.done) return;
      this.stats.client_resets++;
      if (link.upstream !== null && !link.upstream.destroyed) link.upstream.resetAndDestroy();
    });
    client.on('close', () => {
      link.done = true;
      this.count(link);
      const at = this.waiting.indexOf(link);
      if (at !== -1) this.waiting.splice(at, 1);
    });
    this.waiting.push(link);
    this.stats.waiting_max = Math.max(this.stats.waiting_max, waiting + 1);
    this.pump();
  }

  /** Adds the bytes of sockets that have closed (once each); drops the link once both have. */
  private count(link: Link): void {
    if (!link.clientCounted && link.client.destroyed) {
      link.clientCounted = true;
      this.stats.bytes_to_guest += link.client.bytesRead;
    }
    const up = link.upstream;
    if (up !== null && !link.upstreamCounted && up.destroyed) {
      link.upstreamCounted = true;
      this.stats.bytes_from_guest += up.bytesRead;
    }
    if (link.clientCounted && (up === null || link.upstreamCounted)) this.links.delete(link);
  }

  /** Bytes of the sockets still open (for counters read while the proxy runs). */
  liveBytes(): { toGuest: number; fromGuest: number } {
    let toGuest = 0;
    let fromGuest = 0;
    for (const link of this.links) {
      if (!link.clientCounted) toGuest += link.client.bytesRead;
      if (link.upstream !== null && !link.upstreamCounted) fromGuest += link.upstream.bytesRead;
    }
    return { toGuest, fromGuest };
  }

  /** Starts connects to slirp for the clients at the head of the queue, within the bounds. */
  private pump(): void {
    if (this.closed || this.upstreamPort === null || this.retryTimer !== null) return;
    const now = Date.now();
    // Bounded: each pass removes one waiting link.
    while (this.inFlight < this.limits.inFlightMax && this.waiting.length > 0) {
      const link = this.waiting.shift()!;
      if (link.done) continue;
      if (now - link.acceptedAtMs > this.limits.waitMs) {
        this.refuse(link, 'wait', `a client waited more than ${this.limits.waitMs / 1000} s for slirp to take it`);
        continue;
      }
      this.attempt(link, this.upstreamPort);
    }
  }

  private refuse(link: Link, key: string, what: string): void {
    this.stats.refused++;
    link.done = true;
    if (!link.client.destroyed) link.client.resetAndDestroy();
    this.warnOnce(key, `${what}; resetting it`);
  }

  /** Put back at the head of the queue; the next connects after `delayMs` (0: at once). */
  private requeue(link: Link, delayMs: number): void {
    this.waiting.unshift(link);
    if (delayMs > 0 && this.retryTimer === null && !this.closed) {
      this.retryTimer = setTimeout(() => {
        this.retryTimer = null;
        this.pump();
      }, delayMs);
    }
  }

  private attempt(link: Link, port: number): void {
    this.inFlight++;
    const upstream = connect({ host: PUBLISH_UPSTREAM_HOST, port, allowHalfOpen: true, noDelay: true });
    link.upstream = upstream;
    let settled = false;
    /** The attempt is over (false if it was already); its slot is freed now or after `holdMs`. */
    const settle = (holdMs = 0): boolean => {
      if (settled) return false;
      settled = true;
      clearTimeout(timer);
      if (holdMs === 0) this.inFlight--;
      else {
        setTimeout(() => {
          this.inFlight--;
          this.pump();
        }, holdMs);
      }
      return true;
    };
    // Checked after the poll phase (setImmediate): a connect that completed while the event
    // loop was busy is seen before it would be taken for a lost SYN.
    const timer = setTimeout(() => {
      setImmediate(() => {
        if (!settle()) return;
        this.stats.connect_retries++;
        link.upstream = null;
        upstream.destroy();
        if (!link.done) this.requeue(link, 0);
        this.pump();
      });
    }, this.limits.attemptMs);
    upstream.once('connect', () => {
      // In slirp's accept queue now: the slot stays taken until slirp has likely accepted it.
      if (!settle(this.limits.acceptSettleMs)) return;
      if (link.done)
        upstream.resetAndDestroy(); // the client aborted meanwhile
      else this.forward(link, upstream);
      this.pump();
    });
    upstream.on('error', (err: NodeJS.ErrnoException) => this.upstreamError(link, upstream, err, settle));
    upstream.once('close', () => {
      if (settle()) this.pump(); // destroyed while connecting (the client aborted)
      this.count(link);
    });
  }

  private upstreamError(link: Link, upstream: Socket, err: NodeJS.ErrnoException, settle: () => boolean): void {
    if (settle()) {
      // The connect itself failed: slirp not listening yet (QEMU starting), or worse.
      if (link.upstream === upstream) link.upstream = null;
      if (link.done) {
        // the client is gone already
      } else if (err.code === 'ECONNREFUSED') {
        this.stats.connect_retries++;
        this.requeue(link, this.limits.refusedRetryMs);
      } else {
        this.refuse(link, `connect-${err.code}`, `connecting to slirp on port ${this.upstreamPort} failed (${err.code})`);
      }
      this.pump();
      return;
    }
    // An abort on slirp's side of a forwarded connection: its client is reset too.
    if (link.done || link.upstream !== upstream) return;
    this.stats.guest_resets++;
    if (!link.client.destroyed) link.client.resetAndDestroy();
  }

  private forward(link: Link, upstream: Socket): void {
    this.stats.forwarded++;
    link.client.pipe(upstream);
    upstream.pipe(link.client);
  }

  /** Stops listening and destroys every socket; resolves once the listener is closed (bounded). */
  close(): Promise<void> {
    this.closed = true;
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.waiting.length = 0;
    for (const link of this.links) {
      link.done = true;
      // The guest finished its answer (slirp passed on its FIN): what is still buffered for the
      // client is delivered (the pipe ends the client), bounded by closeMs.
      const answered = link.upstream?.readableEnded === true;
      // Its data is all in the client's buffer once it has ended: the upstream can go.
      if (link.upstream !== null && !link.upstream.destroyed) link.upstream.destroy();
      if (answered && !link.client.destroyed) {
        const client = link.client;
        setTimeout(() => client.destroy(), this.limits.closeMs).unref();
        continue;
      }
      // An RST: the client must not take the end of the VM for the end of an answer.
      if (!link.client.destroyed) link.client.resetAndDestroy();
    }
    if (!this.server.listening) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, this.limits.closeMs);
      this.server.close(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}

/**
 * The publish proxy of a run: one listener per TCP mapping, each forwarding to slirp's hostfwd
 * socket on 127.0.0.1:upstreamPort. Build it with `startPublishProxy` (the run's mappings, on
 * internal ports it picks) or `PublishProxy.start` (given routes: the unit tests).
 */
export class PublishProxy {
  private readonly stats = emptyProxyStats();
  private closing: Promise<void> | null = null;

  private constructor(private readonly forwarders: Forwarder[]) {}

  /**
   * Binds every mapping's host socket (TCP listen, backlog PROXY_LIMITS.backlog); a socket that
   * cannot be bound is the run's refusal (UK132 in use, UK133 privileged, UK141 address), with
   * whatever was bound released first. `routes[i].upstreamPort` 0: set later (setUpstreamPorts).
   */
  static async start(
    routes: readonly ProxyRoute[],
    opts: { warn: (line: string) => void; from?: string; limits?: Partial<ProxyLimits> },
  ): Promise<PublishProxy> {
    const limits = { ...PROXY_LIMITS, ...opts.limits };
    const proxy = new PublishProxy([]);
    for (const route of routes) {
      const forwarder = new Forwarder(route.mapping, limits, proxy.stats, opts.warn);
      const code = await forwarder.listen();
      if (code !== null) {
        await proxy.close();
        throw portError(route.mapping, code, opts.from ?? '--publish');
      }
      proxy.forwarders.push(forwarder);
      if (route.upstreamPort !== 0) forwarder.setUpstream(route.upstreamPort);
    }
    return proxy;
  }

  /** Where slirp must listen for each mapping, in the order the proxy was started with. */
  setUpstreamPorts(ports: readonly number[]): void {
    if (ports.length !== this.forwarders.length) throw new Error('publish proxy: one upstream port per mapping');
    for (const [i, f] of this.forwarders.entries()) f.setUpstream(ports[i]!);
  }

  /** The routes: each mapping with its internal port (null until set). */
  routes(): Array<{ mapping: PortMapping; upstreamPort: number | null }> {
    return this.forwarders.map((f) => ({ mapping: f.mapping, upstreamPort: f.upstreamPort }));
  }

  /** The slirp rules for `publish`: each proxied TCP mapping becomes 127.0.0.1:INTERNAL → guest. */
  slirpMappings(publish: readonly PortMapping[]): PortMapping[] {
    return publish.map((m) => {
      const forwarder = this.forwarders.find(
        (f) => f.mapping.protocol === m.protocol && f.mapping.hostIp === m.hostIp && f.mapping.hostPort === m.hostPort,
      );
      if (forwarder === undefined) return m;
      if (forwarder.upstreamPort === null) throw new Error('publish proxy: internal port not set');
      return { ...m, hostIp: PUBLISH_UPSTREAM_HOST, hostPort: forwarder.upstreamPort };
    });
  }

  /** The counters so far (final once `close` has resolved). */
  counters(): ProxyStats {
    const live = this.forwarders.map((f) => f.liveBytes());
    return {
      ...this.stats,
      bytes_to_guest: this.stats.bytes_to_guest + live.reduce((n, b) => n + b.toGuest, 0),
      bytes_from_guest: this.stats.bytes_from_guest + live.reduce((n, b) => n + b.fromGuest, 0),
    };
  }

  /** Stops listening and destroys every socket (clients get an RST); idempotent, bounded. */
  close(): Promise<void> {
    this.closing ??= Promise.all(this.forwarders.map((f) => f.close())).then(() => undefined);
    return this.closing;
  }
}

/** `n` distinct free ports on PUBLISH_UPSTREAM_HOST, bound at once and released (the kernel picks). */
export async function freeLoopbackPorts(n: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    const ports: number[] = [];
    for (let i = 0; i < n; i++) {
      const server = createServer();
      servers.push(server);
      ports.push(
        await new Promise<number>((resolve, reject) => {
          server.once('error', reject);
          server.listen({ host: PUBLISH_UPSTREAM_HOST, port: 0, exclusive: true }, () =>
            resolve((server.address() as { port: number }).port),
          );
        }),
      );
    }
    return ports;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new UkernelError('PortInUse', `no free port on ${PUBLISH_UPSTREAM_HOST} for QEMU's port forwarding (${code})`, {
      hint: 'Check the open-file limit (`ulimit -n`) and the loopback interface (`ip addr show lo`).',
    });
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((r) => (s.listening ? s.close(() => r()) : r()))));
  }
}

/**
 * The proxy of a run's TCP mappings under user networking (null when it has none): binds each
 * published socket (the exact "port in use" check), then picks an internal port per mapping
 * for QEMU's hostfwd. The caller must `close()` it on every path.
 */
export async function startPublishProxy(net: NetworkSettings, warn: (line: string) => void): Promise<PublishProxy | null> {
  if (net.mode.kind !== 'user') return null;
  const tcp = net.publish.filter((m) => m.protocol === 'tcp');
  if (tcp.length === 0) return null;
  // The published sockets first: a free port picked afterwards cannot be one of them.
  const proxy = await PublishProxy.start(
    tcp.map((mapping) => ({ mapping, upstreamPort: 0 })),
    { warn, from: net.publishFrom ?? '--publish' },
  );
  try {
    proxy.setUpstreamPorts(await freeLoopbackPorts(tcp.length));
  } catch (err) {
    await proxy.close();
    throw err;
  }
  return proxy;
}
