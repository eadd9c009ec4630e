import { ErrorCode, OnexError } from '@onex/core';
import type { Context } from 'hono';
import { streamSSE, type SSEStreamingApi } from 'hono/streaming';
import type { Orchestrator } from '../engine/orchestrator.js';
import type { WorkflowChange } from '../engine/workflow-changes.js';

/** Settings of {@link LiveUpdates}. */
export interface LiveUpdatesOptions {
  /** Open event streams at once; one more is answered 503 OVERLOADED. */
  readonly maxConnections: number;
  /** How often every stream gets a comment line, ms: keeps proxies from closing it, and finds dead sockets. */
  readonly heartbeatMs: number;
  /** Changes one slow stream holds before it drops them for a single `resync`. */
  readonly maxPending: number;
}

/** One open event stream: changes coalesce by id until the stream takes them. */
class Connection {
  readonly #pending = new Map<string, WorkflowChange>();
  readonly #maxPending: number;
  #overflow = false;
  #ping = false;
  #closed = false;
  #wake: (() => void) | undefined;

  constructor(maxPending: number) {
    this.#maxPending = maxPending;
  }

  get closed(): boolean {
    return this.#closed;
  }

  note(change: WorkflowChange): void {
    if (this.#closed || this.#overflow) return;
    if (!this.#pending.has(change.id) && this.#pending.size >= this.#maxPending) {
      // Too far behind: forget the details, the client reads the whole state again.
      this.#pending.clear();
      this.#overflow = true;
    } else {
      this.#pending.set(change.id, change);
    }
    this.#poke();
  }

  ping(): void {
    this.#ping = true;
    this.#poke();
  }

  close(): void {
    this.#closed = true;
    this.#pending.clear();
    this.#poke();
  }

  /** Writes what is pending until the stream closes. Every write waits for the client to take the last one. */
  async pump(stream: SSEStreamingApi): Promise<void> {
    while (!this.#closed) {
      if (this.#pending.size === 0 && !this.#overflow && !this.#ping) {
        await new Promise<void>((resolve) => {
          this.#wake = resolve;
        });
        this.#wake = undefined;
        continue;
      }
      if (this.#overflow) {
        this.#overflow = false;
        await stream.writeSSE({ event: 'resync', data: '{}' });
      }
      if (this.#pending.size > 0) {
        // Everything that changed since the last write, in one event: one write per batch, not per change.
        const changes = [...this.#pending.values()];
        this.#pending.clear();
        await stream.writeSSE({ event: 'change', data: JSON.stringify(changes) });
      }
      if (this.#ping) {
        this.#ping = false;
        await stream.write(': ping\n\n');
      }
    }
  }

  #poke(): void {
    this.#wake?.();
  }
}

/**
 * The dashboard's server-sent events: one bounded stream per open page, fed by the orchestrator's in-process change
 * feed ({@link Orchestrator.watch}). A stream is removed, and its watcher with it, as soon as its client disconnects
 * (or the server closes it); one shared heartbeat timer runs while any stream is open. No timer per workflow or per
 * stream, no memory growing with the changes: a stream keeps at most `maxPending` changes, coalesced by id.
 */
export class LiveUpdates {
  readonly #orchestrator: Orchestrator;
  readonly #options: LiveUpdatesOptions;
  readonly #connections = new Set<Connection>();
  #heartbeat: NodeJS.Timeout | undefined;

  constructor(orchestrator: Orchestrator, options: LiveUpdatesOptions) {
    this.#orchestrator = orchestrator;
    this.#options = options;
  }

  /** Streams open now. */
  get connections(): number {
    return this.#connections.size;
  }

  /**
   * Answers an event stream of the changes `accept` lets through: `event: change` with the array of `{ id, status? }`
   * changed since the last event (coalesced by id) as data, `event: resync` when the client fell too far behind (it
   * reads the whole state again).
   *
   * @throws OnexError `OVERLOADED` when `maxConnections` streams are open (or the change feed is full).
   */
  respond(c: Context, accept: (change: WorkflowChange) => boolean): Response {
    if (this.#connections.size >= this.#options.maxConnections) {
      throw new OnexError(ErrorCode.Overloaded, `Too many open dashboard streams (at most ${this.#options.maxConnections})`, { retryAfterMs: 5_000 });
    }
    const connection = new Connection(this.#options.maxPending);
    const unwatch = this.#orchestrator.watch((change) => {
      if (accept(change)) connection.note(change);
    });
    this.#connections.add(connection);
    this.#startHeartbeat();
    const onAbort = (): void => connection.close();
    c.req.raw.signal.addEventListener('abort', onAbort, { once: true });
    const cleanup = (): void => {
      connection.close();
      unwatch();
      c.req.raw.signal.removeEventListener('abort', onAbort);
      this.#connections.delete(connection);
      if (this.#connections.size === 0) this.#stopHeartbeat();
    };
    c.header('x-accel-buffering', 'no');
    return streamSSE(
      c,
      async (stream) => {
        stream.onAbort(onAbort);
        try {
          if (stream.aborted) return;
          await stream.writeSSE({ event: 'ready', data: '{}', retry: 3_000 });
          await connection.pump(stream);
        } finally {
          cleanup();
        }
      },
      async () => {
        cleanup();
      },
    );
  }

  #startHeartbeat(): void {
    if (this.#heartbeat !== undefined) return;
    this.#heartbeat = setInterval(() => {
      for (const connection of this.#connections) connection.ping();
    }, this.#options.heartbeatMs);
    this.#heartbeat.unref();
  }

  #stopHeartbeat(): void {
    clearInterval(this.#heartbeat);
    this.#heartbeat = undefined;
  }
}
