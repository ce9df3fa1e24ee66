// A DNS server for the name-resolution tests: UDP on 127.0.0.1, a random free port, answering
// from a fixed table (dns-packet encodes and decodes). A slirp guest reaches it as
// 10.0.2.2:PORT (libslirp rewrites the gateway address to the host's loopback), so the test runs
// `ukernel run --net user --dns 10.0.2.2:PORT`. Every query is recorded, so a test can tell the
// guest asked this server and not the host's resolver.
//
// Besides well-formed answers, some names answer badly on purpose (the guest's resolver must turn
// them into an error, never crash or hang): a reply with another transaction id, a truncated
// packet, random bytes, and no reply at all.
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import * as dnsPacket from 'dns-packet';

/** What the server answers for a name (lowercase, no trailing dot). */
export type DnsBehaviour =
  | { kind: 'a'; addresses: string[]; ttl?: number }
  | { kind: 'nxdomain' }
  | { kind: 'wrong-id' }
  | { kind: 'truncated' }
  | { kind: 'garbage' }
  | { kind: 'silent' };

export interface DnsQueryRecord {
  name: string;
  type: string;
  from: string;
}

export interface DnsServer {
  port: number;
  /** Every query received, in order (names lowercased). */
  queries: DnsQueryRecord[];
  close(): Promise<void>;
}

/** The table the tests use: `.test` names (RFC 6761 reserves the TLD, so none leak to real DNS). */
export const testZone: Record<string, DnsBehaviour> = {
  'svc.ukernel.test': { kind: 'a', addresses: ['10.9.8.7'] },
  'multi.ukernel.test': { kind: 'a', addresses: ['10.9.8.1', '10.9.8.2'] },
  'host.ukernel.test': { kind: 'a', addresses: ['10.0.2.2'] },
  'missing.ukernel.test': { kind: 'nxdomain' },
  'wrong-id.ukernel.test': { kind: 'wrong-id' },
  'truncated.ukernel.test': { kind: 'truncated' },
  'garbage.ukernel.test': { kind: 'garbage' },
  'silent.ukernel.test': { kind: 'silent' },
};

/** Starts the server on 127.0.0.1 (port 0: the kernel picks a free one). */
export function startDnsServer(zone: Record<string, DnsBehaviour> = testZone): Promise<DnsServer> {
  const socket = createSocket('udp4');
  const queries: DnsQueryRecord[] = [];
  socket.on('message', (message, remote) => answer(socket, zone, queries, message, remote));
  return new Promise((resolvePromise, reject) => {
    socket.once('error', reject);
    socket.bind(0, '127.0.0.1', () => {
      socket.off('error', reject);
      socket.on('error', () => {}); // A send to a vanished guest port: nothing to do.
      resolvePromise({
        port: socket.address().port,
        queries,
        close: () => new Promise<void>((done) => socket.close(() => done())),
      });
    });
  });
}

function answer(
  socket: Socket,
  zone: Record<string, DnsBehaviour>,
  queries: DnsQueryRecord[],
  message: Buffer,
  remote: RemoteInfo,
): void {
  let query: dnsPacket.Packet;
  try {
    query = dnsPacket.decode(message);
  } catch {
    return; // Not DNS: no answer.
  }
  const question = query.questions?.[0];
  if (!question) return;
  const name = question.name.toLowerCase().replace(/\.$/, '');
  queries.push({ name, type: question.type, from: `${remote.address}:${remote.port}` });
  const behaviour = zone[name] ?? { kind: 'nxdomain' };
  const reply = (packet: Buffer) => socket.send(packet, remote.port, remote.address);
  const response = (answers: dnsPacket.Answer[], rcode: string): Buffer =>
    dnsPacket.encode({
      type: 'response',
      id: query.id ?? 0,
      flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE | rcodeFlag(rcode),
      questions: [question],
      answers,
    });
  switch (behaviour.kind) {
    case 'a': {
      // Only A questions get addresses; AAAA (or anything else) gets an empty answer (NOERROR).
      const answers: dnsPacket.Answer[] =
        question.type === 'A'
          ? behaviour.addresses.map((data) => ({ type: 'A', name: question.name, ttl: behaviour.ttl ?? 60, data }))
          : [];
      reply(response(answers, 'NOERROR'));
      return;
    }
    case 'nxdomain':
      reply(response([], 'NXDOMAIN'));
      return;
    case 'wrong-id': {
      const packet = response([{ type: 'A', name: question.name, ttl: 60, data: '10.6.6.6' }], 'NOERROR');
      packet.writeUInt16BE(((query.id ?? 0) + 1) & 0xffff, 0);
      reply(packet);
      return;
    }
    case 'truncated': {
      const packet = response([{ type: 'A', name: question.name, ttl: 60, data: '10.6.6.6' }], 'NOERROR');
      reply(packet.subarray(0, packet.length - 3)); // The answer's address cut short.
      return;
    }
    case 'garbage': {
      const packet = randomBytes(64);
      packet.writeUInt16BE(query.id ?? 0, 0); // The right id, so the resolver must parse the rest.
      packet[2] = 0x81; // QR=1 (a response), RD.
      reply(packet);
      return;
    }
    case 'silent':
      return;
  }
}

/** The RCODE bits of the header's flags word. */
function rcodeFlag(rcode: string): number {
  return rcode === 'NXDOMAIN' ? 3 : 0;
}
