// The processes of one process-level run: effect peers on fixed loopback ports (a restarted peer takes its port
// back), each node served by one process (on its SQLite file) or by several replicas (on one shared PostgreSQL
// schema), and orchestrator slots on one workflow store (a SQLite file or a PostgreSQL schema), each slot running one
// incarnation at a time. The tests drive the faults through it: SIGKILL and restart, SIGSTOP/SIGCONT, peer kills.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { sleep } from '@onex/core';
import { z } from 'zod';
import type { ChildProcesses, ManagedChild } from './child-processes.js';
import type { StoreMutant } from './journal.js';
import type { PeerFiles } from './ledger.js';
import { SAGAS, type PeerName, type SagaName } from './saga.js';
import type { PeerStorage, PostgresTarget, WorkflowStoreTarget } from './storage.js';

const PEER_SCRIPT = new URL('./peer-process.ts', import.meta.url);
const ORCHESTRATOR_SCRIPT = new URL('./orchestrator-process.ts', import.meta.url);
/** Exit code of a peer that could not bind its port (still held a moment after a kill): the restart is retried. */
const PORT_TAKEN_EXIT = 3;

/** An orchestrator slot: one incarnation at a time. */
export type Slot = string;
/** The slots of a cluster whose options name none. */
export const SLOTS: readonly Slot[] = ['a', 'b'];

/** The counters an orchestrator incarnation prints (`figures {…}`), from `metrics().extra.workflows`. */
export const Figures = z.object({
  running: z.number(),
  started: z.number(),
  finished: z.record(z.string(), z.number()),
  recovered: z.number(),
  leaseLosses: z.number(),
  fencedWrites: z.number(),
  compensationsRun: z.number(),
  compensationsFailed: z.number(),
  compensationsParked: z.number(),
});
export type Figures = z.infer<typeof Figures>;

/** `GET /metrics.json` of an orchestrator, as far as the test reads it. */
const OrchestratorMetrics = z.object({ extra: z.object({ workflows: Figures }) });

/** One orchestrator process, from spawn to exit. */
export interface Incarnation {
  /** `a#3`: slot and count. */
  readonly label: string;
  readonly slot: Slot;
  readonly child: ManagedChild;
  readonly journal: string;
  readonly log: string;
  /** Set once it serves. */
  url: string | undefined;
  instanceId: string | undefined;
  state: 'starting' | 'up' | 'stopped' | 'gone';
}

/** One process serving a peer node: the node's only one, or one of its replicas. */
interface Peer {
  readonly name: PeerName;
  /** `pay-2`: node and replica number. */
  readonly id: string;
  /** Incarnations the test killed. */
  readonly killed: Set<ManagedChild>;
  readonly storage: PeerStorage;
  readonly refusals: string;
  readonly log: string;
  port: number;
  child: ManagedChild;
  incarnations: number;
  /** A restart under way: a kill waits for it, so it never kills an incarnation that has not served yet. */
  restarting?: Promise<void>;
}

/** How the effect peers run. */
export interface ChaosPeerOptions {
  /**
   * Where the peers keep their ledgers and idempotency keys: absent, a SQLite file each; else this PostgreSQL schema,
   * shared by every replica (its ledger tables created beforehand, see `postgresLedgerSchema`).
   */
  readonly postgres?: PostgresTarget;
  /** Processes serving each node (PostgreSQL only: replicas share the schema). Default 1. */
  readonly replicas?: number;
  /** The delay of every operation, inside its transaction (default: mostly a few ms, sometimes tens). */
  readonly delay?: { readonly minMs: number; readonly maxMs: number };
}

/** Options of {@link ChaosCluster}. */
export interface ChaosClusterOptions {
  /** Folder of every file of the run (databases, journals, logs). */
  readonly dir: string;
  /** The orchestrators' workflow store. */
  readonly store: WorkflowStoreTarget;
  readonly leaseMs: number;
  readonly children: ChildProcesses;
  /** Orchestrator slots. Default {@link SLOTS}. */
  readonly slots?: readonly Slot[];
  /** The saga the orchestrators run; its peers are started. Default `order`. */
  readonly saga?: SagaName;
  readonly peers?: ChaosPeerOptions;
  /** The orchestrators' `maxConcurrentWorkflows` (default: the engine's). */
  readonly maxConcurrentWorkflows?: number;
  /** A store bug the orchestrators reintroduce on purpose (see {@link StoreMutant}). */
  readonly mutant?: StoreMutant;
}

/** Timeout of the test's own HTTP calls to an orchestrator (a stopped one never answers). */
const HTTP_TIMEOUT_MS = 5_000;

export class ChaosCluster {
  readonly incarnations: Incarnation[] = [];
  /** Processes that exited without being killed or shut down by the test: each a finding, with its output. */
  readonly unexpectedExits: string[] = [];
  readonly slots: readonly Slot[];
  /** The peer nodes the saga calls. */
  readonly peerNames: readonly PeerName[];
  #shuttingDown = false;
  readonly #options: ChaosClusterOptions;
  readonly #replicas: number;
  readonly #current = new Map<Slot, Incarnation>();
  readonly #counts = new Map<Slot, number>();
  /** By replica id (`pay-1`). */
  readonly #peers = new Map<string, Peer>();

  constructor(options: ChaosClusterOptions) {
    this.#options = options;
    this.slots = options.slots ?? SLOTS;
    this.peerNames = SAGAS[options.saga ?? 'order'].peers;
    this.#replicas = options.peers?.replicas ?? 1;
    if (this.#replicas > 1 && options.peers?.postgres === undefined) throw new Error('replicas of a peer node share a PostgreSQL schema: give peers.postgres');
  }

  /** Starts every peer process (each node's replicas) on free ports and waits until they serve. */
  async startPeers(seed: number): Promise<void> {
    const { dir, children } = this.#options;
    const replicas = this.peerNames.flatMap((name) => Array.from({ length: this.#replicas }, (_, i) => ({ name, id: `${name}-${i + 1}` })));
    await Promise.all(
      replicas.map(async ({ name, id }, i) => {
        const postgres = this.#options.peers?.postgres;
        const storage: PeerStorage = postgres ?? { kind: 'sqlite', db: join(dir, `peer-${name}.db`) };
        const refusals = join(dir, `peer-${id}.refusals.jsonl`);
        const log = join(dir, `peer-${id}.log`);
        const child = children.spawn(`peer ${id}#1`, PEER_SCRIPT, this.#peerArgs({ name, id, storage, refusals, log }, 0, seed + i));
        const peer: Peer = { name, id, killed: new Set(), storage, refusals, log, port: 0, child, incarnations: 1 };
        this.#watchPeer(peer, child);
        const [port] = await child.ready;
        peer.port = Number(port);
        this.#peers.set(id, peer);
      }),
    );
  }

  #peerArgs(peer: Pick<Peer, 'name' | 'id' | 'storage' | 'refusals' | 'log'>, port: number, seed: number): unknown {
    const delay = this.#options.peers?.delay;
    return { name: peer.name, replica: peer.id, storage: peer.storage, refusals: peer.refusals, log: peer.log, port, seed, ...(delay === undefined ? {} : { delay }) };
  }

  #unexpected(child: ManagedChild, exit: { readonly code: number | null; readonly signal: NodeJS.Signals | null }): void {
    this.unexpectedExits.push(`${child.label} exited by itself (code ${String(exit.code)}, signal ${String(exit.signal)}):\n${child.tail()}`);
  }

  /** Watches a peer process: an exit the test did not cause is reported. */
  #watchPeer(peer: Peer, child: ManagedChild): void {
    void child.exited.then((exit) => {
      if (!this.#shuttingDown && !peer.killed.has(child) && exit.code !== PORT_TAKEN_EXIT) this.#unexpected(child, exit);
    });
  }

  #peer(name: PeerName, replica = 1): Peer {
    const peer = this.#peers.get(`${name}-${replica}`);
    if (peer === undefined) throw new Error(`peer ${name}-${replica} was never started`);
    return peer;
  }

  /** The URLs of a node's replicas. */
  peerUrls(name: PeerName): string[] {
    return [...this.#peers.values()].filter((p) => p.name === name).map((p) => `http://127.0.0.1:${p.port}`);
  }

  /** The SQLite files of the peers (one per node). */
  peerFiles(): PeerFiles[] {
    return [...this.#peers.values()].map((peer) => {
      if (peer.storage.kind !== 'sqlite') throw new Error(`peer ${peer.id} keeps its ledger in PostgreSQL: read it with readPostgresLedger`);
      return { db: peer.storage.db, refusals: peer.refusals };
    });
  }

  /** Every replica's refusals file. */
  refusalFiles(): string[] {
    return [...this.#peers.values()].map((peer) => peer.refusals);
  }

  /** SIGKILLs a peer process and waits for its exit. */
  async killPeer(name: PeerName, replica = 1): Promise<void> {
    const peer = this.#peer(name, replica);
    // Faults overlap on a loaded machine (a planned peer kill while the last one's restart is still starting): the
    // kill waits for that incarnation to serve, as a real operator's second kill would meet a started process.
    await peer.restarting?.catch(() => undefined);
    peer.killed.add(peer.child);
    peer.child.signal('SIGKILL');
    await peer.child.exited;
  }

  /** Starts a killed peer process again on its port (retried while the port is still taken). */
  async restartPeer(name: PeerName, seed: number, replica = 1): Promise<void> {
    const peer = this.#peer(name, replica);
    const restarting = this.#restart(peer, seed);
    peer.restarting = restarting;
    try {
      await restarting;
    } finally {
      if (peer.restarting === restarting) delete peer.restarting;
    }
  }

  async #restart(peer: Peer, seed: number): Promise<void> {
    for (let attempt = 1; ; attempt += 1) {
      peer.incarnations += 1;
      const child = this.#options.children.spawn(`peer ${peer.id}#${peer.incarnations}`, PEER_SCRIPT, this.#peerArgs(peer, peer.port, seed + peer.incarnations));
      peer.child = child;
      this.#watchPeer(peer, child);
      try {
        await child.ready;
        return;
      } catch (error) {
        const exit = await child.exited;
        if (exit.code !== PORT_TAKEN_EXIT || attempt >= 20) throw error;
        await sleep(250);
      }
    }
  }

  /** Starts a new incarnation in `slot` (with the slot's stable instance id, or the engine's random default). */
  startOrchestrator(slot: Slot, stableId: boolean): Incarnation {
    const previous = this.#current.get(slot);
    if (previous !== undefined && previous.state !== 'gone') throw new Error(`slot ${slot} is still running (${previous.label})`);
    const count = (this.#counts.get(slot) ?? 0) + 1;
    this.#counts.set(slot, count);
    const { dir, store, leaseMs, children, saga, maxConcurrentWorkflows, mutant } = this.#options;
    const label = `${slot}#${count}`;
    const journal = join(dir, `journal-${slot}-${count}.jsonl`);
    const log = join(dir, `orchestrator-${slot}-${count}.log`);
    const child = children.spawn(`orchestrator ${label}`, ORCHESTRATOR_SCRIPT, {
      store,
      journal,
      log,
      ...(stableId ? { instanceId: `chaos-${slot}` } : {}),
      saga: saga ?? 'order',
      peers: Object.fromEntries(this.peerNames.map((name) => [name, this.peerUrls(name)])),
      leaseMs,
      ...(maxConcurrentWorkflows === undefined ? {} : { maxConcurrentWorkflows }),
      ...(mutant === undefined ? {} : { mutant }),
    });
    const incarnation: Incarnation = { label, slot, child, journal, log, url: undefined, instanceId: undefined, state: 'starting' };
    this.incarnations.push(incarnation);
    this.#current.set(slot, incarnation);
    void child.exited.then((exit) => {
      if (incarnation.state !== 'gone' && !this.#shuttingDown) this.#unexpected(child, exit);
      incarnation.state = 'gone';
    });
    return incarnation;
  }

  /** Waits until `incarnation` serves (rejects when it exits first). */
  async ready(incarnation: Incarnation): Promise<void> {
    const [port, instanceId] = await incarnation.child.ready;
    incarnation.url = `http://127.0.0.1:${port}`;
    incarnation.instanceId = instanceId;
    if (incarnation.state === 'starting') incarnation.state = 'up';
  }

  /** The slot's incarnation when it serves and is not stopped. */
  up(slot: Slot): Incarnation | undefined {
    const current = this.#current.get(slot);
    return current?.state === 'up' ? current : undefined;
  }

  upSlots(): Slot[] {
    return this.slots.filter((slot) => this.up(slot) !== undefined);
  }

  /** The slot's current incarnation, whatever its state. */
  current(slot: Slot): Incarnation | undefined {
    return this.#current.get(slot);
  }

  /** Starts whatever is down (a peer or slot that died by itself included) and waits until all of it serves. */
  async heal(seed: number): Promise<void> {
    await Promise.all([...this.#peers.values()].filter((peer) => !peer.child.alive).map((peer) => this.#restart(peer, seed)));
    await Promise.all(
      this.slots.map(async (slot) => {
        const current = this.#current.get(slot);
        if (current === undefined || current.state === 'gone') await this.ready(this.startOrchestrator(slot, false));
        else if (current.state === 'starting') await this.ready(current);
      }),
    );
  }

  /** SIGKILLs the slot's incarnation and waits for its exit. */
  async kill(slot: Slot): Promise<Incarnation> {
    const current = this.#current.get(slot);
    if (current === undefined) throw new Error(`slot ${slot} has no incarnation`);
    current.state = 'gone';
    current.child.signal('SIGKILL');
    await current.child.exited;
    return current;
  }

  /** SIGSTOPs the slot's incarnation: it stays alive, frozen, holding whatever it held. */
  stop(slot: Slot): Incarnation {
    const current = this.up(slot);
    if (current === undefined) throw new Error(`slot ${slot} is not up`);
    current.state = 'stopped';
    current.child.signal('SIGSTOP');
    return current;
  }

  /**
   * Has the slot's incarnation SIGSTOP itself with peer answers in hand (SIGUSR2 arms its stop trap, see
   * stop-trap.ts) and waits until it is stopped: answers the idempotency keys of the calls whose answers it holds and
   * the hrtime it stopped at (the journals' clock). Undefined when no answer came within `limitMs`: it is then
   * SIGSTOPped as it is.
   */
  async trapStop(slot: Slot, limitMs: number): Promise<{ readonly keys: readonly string[]; readonly at: bigint } | undefined> {
    const current = this.up(slot);
    if (current === undefined) throw new Error(`slot ${slot} is not up`);
    current.state = 'stopped';
    current.child.signal('SIGUSR2');
    const end = Date.now() + limitMs;
    for (;;) {
      const trapped = current.child.last('trapped');
      if (trapped !== undefined && isStopped(current.child.proc.pid)) {
        const [at = '0', keys = ''] = trapped.split(' ');
        return { keys: keys.split(','), at: BigInt(at) };
      }
      if (Date.now() >= end || !current.child.alive) break;
      await sleep(20);
    }
    current.child.signal('SIGSTOP');
    return undefined;
  }

  /** SIGCONTs a stopped incarnation. */
  resume(incarnation: Incarnation): void {
    incarnation.child.signal('SIGCONT');
    if (incarnation.state === 'stopped') incarnation.state = 'up';
  }

  /** The incarnation's counters: from `GET /metrics.json`, else (it does not answer) its last `figures` line. */
  async figures(incarnation: Incarnation): Promise<Figures | undefined> {
    if (incarnation.url !== undefined && incarnation.child.alive) {
      try {
        const response = await fetch(`${incarnation.url}/metrics.json`, { signal: AbortSignal.timeout(HTTP_TIMEOUT_MS) });
        if (response.ok) return OrchestratorMetrics.parse(await response.json()).extra.workflows;
      } catch {
        // Fall back to the last line it printed.
      }
    }
    return lastFigures(incarnation);
  }

  /**
   * Stops everything: orchestrators first (SIGTERM: a graceful shutdown that releases the leases; SIGKILL when it
   * takes longer than `timeoutMs`), then the peers.
   */
  async shutdown(timeoutMs: number): Promise<void> {
    this.#shuttingDown = true;
    const stopGracefully = async (child: ManagedChild): Promise<void> => {
      child.signal('SIGCONT');
      child.signal('SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), timeoutMs)));
      if ((await Promise.race([child.exited, late])) === 'late') {
        child.signal('SIGKILL');
        await child.exited;
      }
      clearTimeout(timer);
    };
    await Promise.all([...this.#current.values()].filter((i) => i.child.alive).map((i) => stopGracefully(i.child)));
    await Promise.all([...this.#peers.values()].filter((p) => p.child.alive).map((p) => stopGracefully(p.child)));
  }
}

/** True when the process is stopped (state `T` in /proc/<pid>/stat). */
function isStopped(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  // Without procfs (not Linux) the `trapped` line, written right before the stop, has to do.
  if (!existsSync('/proc/self/stat')) return true;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'T';
  } catch {
    return false;
  }
}

/** The last `figures` line an incarnation printed, parsed. */
export function lastFigures(incarnation: Incarnation): Figures | undefined {
  const line = incarnation.child.last('figures');
  return line === undefined ? undefined : Figures.parse(JSON.parse(line));
}
