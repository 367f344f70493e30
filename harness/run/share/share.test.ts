import { describe, expect, it } from 'vitest';
import type { Verdict } from '../../verdict/types.ts';
import { runShared, takeBatch, type ShareOptions, type SharedVm, type SlotRun } from './share.ts';

interface Item {
  id: string;
  kernel?: string;
  disks?: number;
  /** what the scenario does when it runs at a position > 0 of its guest / first in it */
  later?: Verdict;
  first?: Verdict;
  /** leaves state behind although it passed */
  dirty?: boolean;
  /** passes, but the console after its end shows a crash */
  crashAfter?: boolean;
}

interface Run extends SlotRun {
  guest: number;
}

/** A VM layer that records every boot and run; a crash, hang or error kills its guest. */
class FakeVm implements SharedVm<Item, Run> {
  boots = 0;
  live = 0;
  maxLive = 0;
  readonly runs: Array<{ id: string; guest: number; position: number; verdict: Verdict }> = [];
  readonly batches: string[][] = [];
  readonly events: string[] = [];
  /** how long a guest takes to power off */
  closeMs = 0;

  async open(batch: Item[]) {
    const guest = this.batches.push(batch.map((b) => b.id));
    this.events.push(`open ${guest}`);
    this.live++;
    this.maxLive = Math.max(this.maxLive, this.live);
    let alive = true;
    let booted = false;
    return {
      run: async (x: Item, position: number): Promise<Run> => {
        if (!alive) throw new Error(`${x.id} ran in a dead guest`);
        if (position === 0) {
          booted = true;
          this.boots++;
        }
        if (!booted) throw new Error(`${x.id} ran in a guest that never booted`);
        await new Promise((r) => setTimeout(r, 1));
        const verdict = (position === 0 ? x.first : x.later) ?? x.first ?? 'pass';
        this.runs.push({ id: x.id, guest, position, verdict });
        const reusable = (verdict === 'pass' || verdict === 'skip' || verdict === 'fail') && !x.dirty;
        if (verdict !== 'pass' && verdict !== 'skip' && verdict !== 'fail') alive = false;
        return { verdict, reusable, guest };
      },
      after: async (x: Item): Promise<Run | undefined> => {
        this.events.push(`after ${x.id}`);
        return x.crashAfter ? { verdict: 'crash', reusable: false, guest } : undefined;
      },
      close: async () => {
        this.live--;
        this.events.push(`close ${guest}`);
        if (this.closeMs > 0) await new Promise((r) => setTimeout(r, this.closeMs));
        this.events.push(`closed ${guest}`);
      },
    };
  }
}

const opts = (over: Partial<ShareOptions<Item>> = {}): ShareOptions<Item> => ({
  perGuest: 3, jobs: 1, budget: 24, guestKey: (x) => x.kernel ?? 'k', weight: (x) => x.disks ?? 3, ...over,
});

async function run(items: Item[], o = opts(), retry?: (x: Item, r: Run) => boolean) {
  const vm = new FakeVm();
  const finals: Array<{ id: string; verdict: Verdict; position: number; notRerun?: string | undefined }> = [];
  const provisional: string[] = [];
  await runShared(items, o, vm, {
    final: async (x, r, position, notRerun) => {
      finals.push({ id: x.id, verdict: r.verdict, position, notRerun });
      return retry?.(x, r) ?? false;
    },
    provisional: async (x) => {
      provisional.push(x.id);
    },
  });
  return { vm, finals, provisional };
}

const items = (n: number, over: Record<number, Partial<Item>> = {}): Item[] =>
  Array.from({ length: n }, (_, i) => ({ id: `s${i}`, ...over[i] }));

describe('runShared', () => {
  it('runs perGuest scenarios per boot, each once, in plan order', async () => {
    const { vm, finals, provisional } = await run(items(7));
    expect(vm.boots).toBe(3);
    expect(vm.batches).toEqual([['s0', 's1', 's2'], ['s3', 's4', 's5'], ['s6']]);
    expect(finals.map((f) => f.id)).toEqual(['s0', 's1', 's2', 's3', 's4', 's5', 's6']);
    expect(provisional).toEqual([]);
  });

  it('with perGuest 1 boots once per scenario', async () => {
    const { vm } = await run(items(4), opts({ perGuest: 1 }));
    expect(vm.boots).toBe(4);
  });

  it('reruns a later scenario that crashed first in a fresh guest, and the rest of its batch after it', async () => {
    const { vm, finals, provisional } = await run(items(4, { 1: { later: 'crash', first: 'pass' } }), opts({ perGuest: 4 }));
    expect(provisional).toEqual(['s1']);
    // the fresh guest's run comes to final; the shared run came to provisional first (the caller keeps both)
    expect(finals.find((f) => f.id === 's1')).toEqual({ id: 's1', verdict: 'pass', position: 0 });
    expect(vm.batches).toEqual([['s0', 's1', 's2', 's3'], ['s1', 's2', 's3']]);
    expect(vm.runs.filter((r) => r.id === 's2')).toHaveLength(1);
    expect(vm.boots).toBe(2);
  });

  it('decides a passing run only after the console after its end was read, and keeps a crash found there', async () => {
    const { vm, finals, provisional } = await run(items(4, { 0: { crashAfter: true }, 2: { crashAfter: true } }), opts({ perGuest: 4 }));
    // s0 was first in its guest: its crash after the end is its verdict; s2 was not: it runs again first
    expect(finals.find((f) => f.id === 's0')).toEqual({ id: 's0', verdict: 'crash', position: 0 });
    expect(provisional).toEqual(['s2']);
    expect(vm.events.slice(0, 4)).toEqual(['open 1', 'after s0', 'after s1', 'after s2']);
    // the last run of a guest is decided once the guest is off (its console then goes to QEMU's end)
    const closed = vm.events.indexOf('closed 1');
    expect(closed).toBeGreaterThan(0);
    expect(vm.events.indexOf('after s3', closed)).toBeGreaterThan(closed);
  });

  it('keeps a crash that happens again when the scenario runs first', async () => {
    const { finals, vm } = await run(items(3, { 2: { first: 'crash' } }));
    expect(finals.find((f) => f.id === 's2')).toEqual({ id: 's2', verdict: 'crash', position: 0 });
    expect(vm.runs.filter((r) => r.id === 's2').map((r) => r.position)).toEqual([2, 0]);
  });

  it('gives a first scenario its own crash and runs the others of the batch in a fresh guest', async () => {
    const { finals, vm, provisional } = await run(items(3, { 0: { first: 'hang' } }));
    expect(provisional).toEqual([]);
    expect(finals[0]).toEqual({ id: 's0', verdict: 'hang', position: 0 });
    expect(vm.batches).toEqual([['s0', 's1', 's2'], ['s1', 's2']]);
    expect(finals.slice(1).every((f) => f.verdict === 'pass')).toBe(true);
  });

  it('never runs two must-run-first scenarios in one guest', async () => {
    const { vm, finals } = await run(items(3, { 1: { first: 'crash' }, 2: { first: 'crash' } }));
    expect(vm.batches).toEqual([['s0', 's1', 's2'], ['s1', 's2'], ['s2']]);
    expect(finals).toEqual([
      { id: 's0', verdict: 'pass', position: 0 }, { id: 's1', verdict: 'crash', position: 0 }, { id: 's2', verdict: 'crash', position: 0 },
    ]);
  });

  it('hands a guest a failing scenario left clean to the next one, and reruns the failure first in a fresh guest', async () => {
    const { vm, finals, provisional } = await run(items(4, { 1: { later: 'fail', first: 'pass' } }), opts({ perGuest: 4 }));
    expect(provisional).toEqual(['s1']);
    expect(vm.batches).toEqual([['s0', 's1', 's2', 's3'], ['s1']]);
    expect(vm.runs.filter((r) => r.guest === 1).map((r) => r.id)).toEqual(['s0', 's1', 's2', 's3']);
    expect(finals.find((f) => f.id === 's1')).toEqual({ id: 's1', verdict: 'pass', position: 0 });
    expect(vm.boots).toBe(2);
  });

  it('retires a guest a failing scenario left dirty', async () => {
    const { vm } = await run(items(3, { 0: { first: 'fail', dirty: true } }));
    expect(vm.batches).toEqual([['s0', 's1', 's2'], ['s1', 's2']]);
  });

  it('spends at most rerunCap fresh guests per kernel: later failures are final in the sequence, saying why', async () => {
    const many = items(6, { 1: { later: 'fail' }, 2: { later: 'fail' }, 3: { later: 'fail' }, 4: { later: 'fail' } });
    const { vm, finals, provisional } = await run(many, opts({ perGuest: 6, rerunCap: 2 }));
    expect(provisional).toEqual(['s1', 's2']);
    expect(finals.filter((f) => f.notRerun !== undefined).map((f) => [f.id, f.position])).toEqual([['s3', 3], ['s4', 4]]);
    expect(finals.find((f) => f.id === 's3')!.notRerun).toMatch(/not run again first in a fresh guest: this kernel's 2 reruns are spent/);
    expect(vm.boots).toBe(3);
    // another kernel has reruns of its own
    const two = await run([...many, { id: 'x1', kernel: 'k2' }, { id: 'x2', kernel: 'k2', later: 'fail' }], opts({ perGuest: 6, rerunCap: 2 }));
    expect(two.provisional).toEqual(['s1', 's2', 'x2']);
  });

  it('retires a guest a passing scenario left dirty, without rerunning that scenario', async () => {
    const { vm, finals, provisional } = await run(items(3, { 0: { dirty: true } }));
    expect(provisional).toEqual([]);
    expect(finals.map((f) => f.id)).toEqual(['s0', 's1', 's2']);
    expect(vm.batches).toEqual([['s0', 's1', 's2'], ['s1', 's2']]);
  });

  it('keeps a skip in the shared guest', async () => {
    const { vm, finals } = await run(items(3, { 1: { first: 'skip' } }));
    expect(vm.boots).toBe(1);
    expect(finals.map((f) => f.verdict)).toEqual(['pass', 'skip', 'pass']);
  });

  it('never puts two kernels in one guest', async () => {
    const list = [{ id: 'a0', kernel: 'a' }, { id: 'b0', kernel: 'b' }, { id: 'a1', kernel: 'a' }, { id: 'b1', kernel: 'b' }];
    const { vm } = await run(list);
    expect(vm.batches).toEqual([['a0', 'a1'], ['b0', 'b1']]);
  });

  it('keeps a guest within its disk budget', async () => {
    const { vm } = await run(items(4, { 1: { disks: 4 } }), opts({ perGuest: 4, budget: 7 }));
    expect(vm.batches).toEqual([['s0', 's1'], ['s2', 's3']]);
  });

  it('runs an execution again when final() asks (a retried error)', async () => {
    let tries = 0;
    const { finals } = await run(items(2, { 0: { first: 'error' } }), opts(), (x, r) => x.id === 's0' && r.verdict === 'error' && ++tries < 2);
    expect(finals.filter((f) => f.id === 's0').map((f) => f.verdict)).toEqual(['error', 'error']);
  });

  it('runs at most jobs guests at once and spreads the last scenarios over them', async () => {
    const { vm, finals } = await run(items(10), opts({ perGuest: 4, jobs: 2 }));
    expect(vm.maxLive).toBe(2);
    expect(finals).toHaveLength(10);
    expect(vm.batches.map((b) => b.length)).toEqual([4, 4, 1, 1]);
  });

  it('gives the workers equal first batches, counting what running guests still hold: one boot each when they fit', async () => {
    const { vm, finals } = await run(items(30), opts({ perGuest: 16, jobs: 2, budget: 48 }));
    expect(finals).toHaveLength(30);
    expect(vm.batches.map((b) => b.length)).toEqual([15, 15]);
    const odd = await run(items(31), opts({ perGuest: 16, jobs: 2, budget: 48 }));
    expect(odd.vm.batches.map((b) => b.length)).toEqual([16, 15]);
  });

  it('starts nothing new once stopped', async () => {
    const stop = new AbortController();
    stop.abort();
    const { vm, finals } = await run(items(3), opts({ stop: stop.signal }));
    expect(vm.boots).toBe(0);
    expect(finals).toEqual([]);
  });
});

describe('runShared and powering off', () => {
  it('opens the next guest while the last one powers off, and returns only once every guest is off', async () => {
    const vm = new FakeVm();
    vm.closeMs = 30;
    await runShared(items(4), opts({ perGuest: 2 }), vm, { final: async () => false });
    expect(vm.events.filter((e) => !e.startsWith('after'))).toEqual(['open 1', 'close 1', 'open 2', 'close 2', 'closed 1', 'closed 2']);
    // each guest's last run is decided after its guest is off
    expect(vm.events.indexOf('after s1')).toBeGreaterThan(vm.events.indexOf('closed 1'));
    expect(vm.events.indexOf('after s3')).toBeGreaterThan(vm.events.indexOf('closed 2'));
  });
});

describe('takeBatch', () => {
  it('starts with the head even when it must run first, and takes no other such', () => {
    const q: Array<{ x: Item; first: boolean }> = [{ x: { id: 'a' }, first: true }, { x: { id: 'b' }, first: true }, { x: { id: 'c' }, first: false }];
    expect(takeBatch(q, opts())?.map((x) => x.id)).toEqual(['a', 'c']);
    expect(q.map((p) => p.x.id)).toEqual(['b']);
  });

  it('alternates the spread classes where the queue allows, in queue order otherwise', () => {
    const q = ['i1', 'i2', 'i3', 'c1', 'i4', 'c2', 'i5'].map((id) => ({ x: { id }, first: false }));
    const spread = (x: Item) => x.id[0]!;
    expect(takeBatch(q, { ...opts(), perGuest: 6, spread })?.map((x) => x.id)).toEqual(['i1', 'c1', 'i2', 'c2', 'i3', 'i4']);
    expect(q.map((p) => p.x.id)).toEqual(['i5']);
  });

  it('keeps queue order without a spread', () => {
    const q = ['i1', 'i2', 'c1'].map((id) => ({ x: { id }, first: false }));
    expect(takeBatch(q, { ...opts(), perGuest: 3 })?.map((x) => x.id)).toEqual(['i1', 'i2', 'c1']);
  });

  it('takes one scenario even above the disk budget', () => {
    const q: Array<{ x: Item; first: boolean }> = [{ x: { id: 'a', disks: 40 }, first: false }, { x: { id: 'b' }, first: false }];
    expect(takeBatch(q, opts())?.map((x) => x.id)).toEqual(['a']);
  });
});
