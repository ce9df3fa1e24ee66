import { describe, expect, it } from 'vitest';
import { EVENT_NAME_BYTES_MAX, KVMCLOCK_NS_MAX, PHASE_NS_MAX, RECORD_LINE_MAX_BYTES, TSC_KHZ_MAX } from '../constants.js';
import { parseRecordLine, type ParseResult } from './records.js';
import { mulberry32, randomBytes, randomRecordLike } from './fuzz-helpers.js';

const parse = (line: string): ParseResult => parseRecordLine(Buffer.from(line, 'latin1'));

const BOOT =
  '@uk:boot v=1 proto=pvh clock=kvmclock tsc_khz=2445406 phase.long_mode=1520 phase.idt=2210 ' +
  'phase.memory=3120 phase.clock=9800 phase.devices=10400 phase.ready=11800';

describe('parseRecordLine', () => {
  it('parses the boot record from the protocol doc', () => {
    expect(parse(BOOT)).toEqual({
      type: 'record',
      record: {
        kind: 'boot',
        proto: 'pvh',
        clock: 'kvmclock',
        tscKhz: 2445406,
        phasesNs: [
          ['long_mode', 1520],
          ['idt', 2210],
          ['memory', 3120],
          ['clock', 9800],
          ['devices', 10400],
          ['ready', 11800],
        ],
        readyNs: 11800,
        kvmclockNs: null,
      },
    });
  });

  it('parses the exit record and the optional kvmclock_ns', () => {
    expect(parse('@uk:exit v=1 status=0 reason=return')).toEqual({
      type: 'record',
      record: { kind: 'exit', status: 0, reason: 'return', eventsDropped: null, eventsFailed: null, interruptsUnexpected: null },
    });
    expect(parse('@uk:exit v=1 status=101')).toMatchObject({ record: { status: 101, reason: null } });
    const boot = parse('@uk:boot v=1 proto=linux64 clock=pit tsc_khz=1 kvmclock_ns=123 phase.ready=0');
    expect(boot).toMatchObject({ type: 'record', record: { kvmclockNs: 123, readyNs: 0 } });
  });

  it('parses the net record and refuses bad addresses', () => {
    const line =
      '@uk:net v=1 mac=52:54:00:12:34:56 source=dhcp address=10.0.2.15/24 gateway=10.0.2.2 dns=10.0.2.3:53 config_ns=812345';
    expect(parse(line)).toEqual({
      type: 'record',
      record: {
        kind: 'net',
        mac: '52:54:00:12:34:56',
        source: 'dhcp',
        address: '10.0.2.15/24',
        gateway: '10.0.2.2',
        dns: '10.0.2.3:53',
        configNs: 812345,
      },
    });
    for (const [from, to] of [
      ['source=dhcp', 'source=magic'],
      ['10.0.2.15/24', '10.0.2.15/33'],
      ['10.0.2.15/24', '10.0.2.256/24'],
      ['10.0.2.15/24', '10.0.2.15'],
      ['gateway=10.0.2.2', 'gateway=10.0.2'],
      ['dns=10.0.2.3:53', 'dns=10.0.2.3:65536'],
      ['mac=52:54:00:12:34:56', 'mac=52:54:00:12:34'],
      ['config_ns=812345', 'config_ns=-1'],
    ] as const) {
      expect(parse(line.replace(from, to))).toMatchObject({ type: 'malformed' });
    }
  });

  it('parses the netstat record (every counter by name) and refuses a bad counter', () => {
    expect(parse('@uk:netstat v=1 rx_frames=12 pool_pbufs_used=0 heap_bytes_used=64')).toEqual({
      type: 'record',
      record: { kind: 'netstat', counters: { rx_frames: 12, pool_pbufs_used: 0, heap_bytes_used: 64 } },
    });
    expect(parse('@uk:netstat v=1 rx_frames=-1')).toMatchObject({ type: 'malformed' });
    expect(parse('@uk:netstat v=1 rx_frames=99999999999999999')).toMatchObject({ type: 'malformed' });
  });

  it('ignores unknown keys and unknown kinds (forward compatibility)', () => {
    expect(parse('@uk:exit v=1 status=7 future.key=a:b/c-d')).toMatchObject({ record: { status: 7 } });
    expect(parse(`${BOOT.replace('phase.long_mode', 'extra=x phase.long_mode')}`)).toMatchObject({ type: 'record' });
    expect(parse('@uk:later v=1 span=x')).toEqual({ type: 'ignored', kind: 'later' });
  });

  it('treats lines without the prefix as text', () => {
    expect(parse('hello')).toEqual({ type: 'text' });
    expect(parse(' @uk:exit v=1 status=0')).toEqual({ type: 'text' });
    expect(parse('@uk')).toEqual({ type: 'text' });
    expect(parse('')).toEqual({ type: 'text' });
  });

  it.each([
    ['no fields', '@uk:exit'],
    ['bad kind', '@uk:Exit v=1 status=0'],
    ['empty kind', '@uk: v=1 status=0'],
    ['double space', '@uk:exit v=1  status=0'],
    ['trailing space', '@uk:exit v=1 status=0 '],
    ['missing v', '@uk:exit status=0'],
    ['wrong v', '@uk:exit v=2 status=0'],
    ['status out of range', '@uk:exit v=1 status=256'],
    ['negative status', '@uk:exit v=1 status=-1'],
    ['hex status', '@uk:exit v=1 status=0x1'],
    ['missing status', '@uk:exit v=1 reason=return'],
    ['empty value', '@uk:exit v=1 status='],
    ['bad value chars', '@uk:exit v=1 status=0 reason=a"b'],
    ['bad key', '@uk:exit v=1 Status=0'],
    ['duplicate key', '@uk:exit v=1 status=0 status=1'],
    ['non-ascii', '@uk:exit v=1 status=0 reason=r\xe9'],
    ['control char', '@uk:exit v=1 status=0\x1b[2J'],
    ['boot without ready', '@uk:boot v=1 proto=pvh clock=pit tsc_khz=1 phase.idt=5'],
    ['ready not last', '@uk:boot v=1 proto=pvh clock=pit tsc_khz=1 phase.ready=5 phase.idt=6'],
    ['phases going back', '@uk:boot v=1 proto=pvh clock=pit tsc_khz=1 phase.idt=9 phase.ready=5'],
    ['tsc_khz zero', '@uk:boot v=1 proto=pvh clock=pit tsc_khz=0 phase.ready=5'],
    ['tsc_khz huge', `@uk:boot v=1 proto=pvh clock=pit tsc_khz=${TSC_KHZ_MAX + 1} phase.ready=5`],
    ['phase huge', `@uk:boot v=1 proto=pvh clock=pit tsc_khz=1 phase.ready=${PHASE_NS_MAX + 1}`],
    ['phase beyond 2^53', '@uk:boot v=1 proto=pvh clock=pit tsc_khz=1 phase.ready=99999999999999999999'],
    ['missing proto', '@uk:boot v=1 clock=pit tsc_khz=1 phase.ready=5'],
    ['empty phase name', '@uk:boot v=1 proto=pvh clock=pit tsc_khz=1 phase.=5'],
  ])('malformed: %s', (_name, line) => {
    expect(parse(line).type).toBe('malformed');
  });

  it('rejects over-long record lines but accepts exactly the limit', () => {
    const base = '@uk:exit v=1 status=0 pad=';
    const exact = base + 'x'.repeat(RECORD_LINE_MAX_BYTES - base.length);
    expect(exact.length).toBe(RECORD_LINE_MAX_BYTES);
    expect(parse(exact).type).toBe('record');
    expect(parse(`${exact}x`)).toMatchObject({ type: 'malformed' });
  });

  it('reads fields through a Uint8Array view with an offset', () => {
    const backing = Buffer.from(`xxxx@uk:exit v=1 status=42yyyy`, 'latin1');
    expect(parseRecordLine(backing.subarray(4, backing.length - 4))).toMatchObject({ record: { status: 42 } });
  });
});

describe('workload records', () => {
  it("parses start (with the kernel's step timings) and exit", () => {
    expect(parse('@uk:workload v=1 event=start t_ns=2500000 disk_ns=100 image_ns=200 load_ns=300')).toEqual({
      type: 'record',
      record: {
        kind: 'workload',
        event: 'start',
        tNs: 2500000,
        status: null,
        stepsNs: [
          ['disk', 100],
          ['image', 200],
          ['load', 300],
        ],
      },
    });
    expect(parse('@uk:workload v=1 event=exit status=3 t_ns=9000000')).toEqual({
      type: 'record',
      record: { kind: 'workload', event: 'exit', tNs: 9000000, status: 3, stepsNs: [] },
    });
  });

  it.each([
    ['@uk:workload v=1 event=run t_ns=1', 'event must be start or exit'],
    ['@uk:workload v=1 event=start', 't_ns'],
    [`@uk:workload v=1 event=start t_ns=${PHASE_NS_MAX + 1}`, 't_ns'],
    ['@uk:workload v=1 event=exit t_ns=5', 'status'],
    ['@uk:workload v=1 event=exit status=256 t_ns=5', 'status'],
    ['@uk:workload v=1 event=start t_ns=5 load_ns=x', 'load_ns'],
  ])('%s is malformed (%s)', (line, reason) => {
    const result = parse(line);
    expect(result.type).toBe('malformed');
    expect(result.type === 'malformed' && result.reason).toContain(reason);
  });
});

function checkInvariants(result: ParseResult): void {
  if (result.type !== 'record') return;
  const r = result.record;
  if (r.kind === 'exit') {
    expect(Number.isInteger(r.status) && r.status >= 0 && r.status <= 255).toBe(true);
    return;
  }
  if (r.kind === 'trace') {
    expect(Number.isSafeInteger(r.tNs) && r.tNs >= 0).toBe(true);
    expect(Number.isInteger(r.task) && r.task >= 0 && r.task <= 0xffffffff).toBe(true);
    expect(r.span >= 0n && r.span < 1n << 64n && r.value >= 0n && r.value < 1n << 64n).toBe(true);
    expect(r.event === 'end' ? r.name === '' : r.name.length >= 1 && r.name.length <= EVENT_NAME_BYTES_MAX).toBe(true);
    expect(r.event === 'event' ? r.span === 0n : r.span > 0n).toBe(true);
    return;
  }
  if (r.kind === 'workload') {
    expect(r.tNs >= 0 && r.tNs <= PHASE_NS_MAX).toBe(true);
    expect(r.event === 'exit' ? r.status !== null && r.status >= 0 && r.status <= 255 : r.status === null).toBe(true);
    return;
  }
  if (r.kind === 'mark') {
    expect(Number.isSafeInteger(r.tNs) && r.tNs >= 0).toBe(true);
    return;
  }
  if (r.kind === 'netstat') {
    for (const n of Object.values(r.counters)) expect(Number.isSafeInteger(n) && n >= 0).toBe(true);
    return;
  }
  if (r.kind === 'net') {
    expect(['static', 'dhcp', 'none']).toContain(r.source);
    expect(Number.isSafeInteger(r.configNs) && r.configNs >= 0 && r.configNs <= PHASE_NS_MAX).toBe(true);
    return;
  }
  expect(Number.isInteger(r.tscKhz) && r.tscKhz >= 1 && r.tscKhz <= TSC_KHZ_MAX).toBe(true);
  expect(r.kvmclockNs === null || (r.kvmclockNs >= 0 && r.kvmclockNs <= KVMCLOCK_NS_MAX)).toBe(true);
  expect(r.phasesNs.length).toBeGreaterThan(0);
  let previous = 0;
  for (const [name, ns] of r.phasesNs) {
    expect(name.length).toBeGreaterThan(0);
    expect(Number.isSafeInteger(ns) && ns >= previous && ns <= PHASE_NS_MAX).toBe(true);
    previous = ns;
  }
  expect(r.phasesNs[r.phasesNs.length - 1]).toEqual(['ready', r.readyNs]);
}

describe('parseRecordLine fuzz', () => {
  it('never throws and never yields out-of-range values on random bytes', () => {
    const rand = mulberry32(0xc0ffee);
    for (let i = 0; i < 3000; i++) {
      const bytes = randomBytes(rand, Math.floor(rand() * 600));
      if (rand() < 0.5 && bytes.length >= 4) bytes.set(Buffer.from('@uk:'), 0);
      checkInvariants(parseRecordLine(bytes));
    }
  });

  it('never throws and never yields out-of-range values on record-like lines', () => {
    const rand = mulberry32(42);
    let records = 0;
    for (let i = 0; i < 5000; i++) {
      const result = parse(randomRecordLike(rand));
      if (result.type === 'record') records++;
      checkInvariants(result);
    }
    expect(records).toBeGreaterThan(100); // the generator does reach the interesting paths
  });
});

describe('trace records (console fallback, docs/observability.md)', () => {
  it('parses begin, end and event', () => {
    expect(parse('@uk:trace v=1 kind=begin span=3 parent=1 task=2 t_ns=12345 name=parse.json')).toEqual({
      type: 'record',
      record: { kind: 'trace', event: 'begin', span: 3n, parent: 1n, task: 2, tNs: 12345, name: 'parse.json', value: 0n },
    });
    expect(parse('@uk:trace v=1 kind=end span=18446744073709551615 task=0 t_ns=5')).toEqual({
      type: 'record',
      record: { kind: 'trace', event: 'end', span: (1n << 64n) - 1n, parent: 0n, task: 0, tNs: 5, name: '', value: 0n },
    });
    expect(parse('@uk:trace v=1 kind=event value=99 task=4294967295 t_ns=0 name=bytes_in')).toMatchObject({
      record: { event: 'event', value: 99n, task: 4294967295, name: 'bytes_in', span: 0n },
    });
    expect(parse('@uk:trace v=1 kind=begin span=3 task=2 t_ns=1 name=x')).toMatchObject({ record: { parent: 0n } });
  });

  it.each([
    ['@uk:trace v=1 kind=start span=1 task=0 t_ns=1 name=x', 'kind must be'],
    ['@uk:trace v=1 kind=begin span=0 task=0 t_ns=1 name=x', 'span id'],
    ['@uk:trace v=1 kind=begin span=18446744073709551616 task=0 t_ns=1 name=x', 'span id'],
    ['@uk:trace v=1 kind=end task=0 t_ns=1', 'span id'],
    ['@uk:trace v=1 kind=begin span=1 task=0 t_ns=1', 'name'],
    [`@uk:trace v=1 kind=event value=1 task=0 t_ns=1 name=${'n'.repeat(65)}`, 'name'],
    ['@uk:trace v=1 kind=event task=0 t_ns=1 name=x', 'value'],
    ['@uk:trace v=1 kind=event value=-1 task=0 t_ns=1 name=x', 'value'],
    ['@uk:trace v=1 kind=end span=1 task=4294967296 t_ns=1', 'task'],
    ['@uk:trace v=1 kind=end span=1 task=0', 't_ns'],
    ['@uk:trace v=1 kind=end span=1 task=0 t_ns=99999999999999999', 't_ns'],
    ['@uk:trace v=1 kind=begin span=1 parent=x task=0 t_ns=1 name=a', 'parent'],
  ])('%s is malformed (%s)', (line, reason) => {
    const result = parse(line);
    expect(result.type).toBe('malformed');
    expect(result.type === 'malformed' && result.reason).toContain(reason);
  });

  it('exit carries the optional events_dropped; an unreadable count does not cost the status', () => {
    expect(parse('@uk:exit v=1 status=0 reason=return events_dropped=17')).toMatchObject({
      record: { status: 0, eventsDropped: 17 },
    });
    expect(parse('@uk:exit v=1 status=3 events_dropped=99999999999999999999')).toMatchObject({
      record: { status: 3, eventsDropped: null },
    });
  });

  it('never throws on trace-like lines (seed 5)', () => {
    const rand = mulberry32(5);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(rand() * items.length)]!;
    const values = ['0', '1', '18446744073709551615', '18446744073709551616', '9007199254740993', '-1', 'x', '', 'a.b'];
    let records = 0;
    for (let i = 0; i < 3000; i++) {
      const fields = ['v=1', `kind=${pick(['begin', 'end', 'event', 'other'])}`];
      for (const key of ['span', 'parent', 'task', 't_ns', 'value', 'name']) {
        if (rand() < 0.9) fields.push(`${key}=${rand() < 0.6 ? '7' : pick(values)}`);
      }
      if (rand() < 0.2) fields.reverse();
      const result = parse(`@uk:trace ${fields.join(' ')}`);
      if (result.type === 'record') records++;
      checkInvariants(result);
    }
    expect(records).toBeGreaterThan(20);
  });
});
