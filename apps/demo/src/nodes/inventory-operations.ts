import { createHash } from 'node:crypto';
import { ErrorCode, OnexError } from '@onex/core';
import { defineOperation, type OperationContext } from '@onex/effect';
import type { SqliteTransaction } from '@onex/effect/sqlite';
import type Database from 'better-sqlite3';
import { CATALOG, SKUS } from '../domain/catalog.js';
import type {
  StockLevel} from '../domain/inventory.js';
import {
  CommitInput,
  CommitOutput,
  ReleaseInput,
  ReleaseOutput,
  Reservation,
  ReservationStatus,
  ReserveInput,
  ReserveOutput,
  StockInput,
  StockOutput,
} from '../domain/inventory.js';
import type { OrderLine } from '../domain/order.js';

type Tx = OperationContext<SqliteTransaction>;

interface ReservationRow {
  order_id: string;
  reservation_id: string;
  status: ReservationStatus;
  lines: string;
}

/** Creates the inventory tables and seeds the stock from the catalogue (only SKUs not there yet). */
export function prepareInventoryDatabase(db: Database.Database): void {
  db.exec(`
    CREATE TABLE IF NOT EXISTS stock (
      sku TEXT PRIMARY KEY,
      initial INTEGER NOT NULL,
      available INTEGER NOT NULL CHECK (available >= 0),
      reserved INTEGER NOT NULL CHECK (reserved >= 0),
      committed INTEGER NOT NULL CHECK (committed >= 0)
    );
    CREATE TABLE IF NOT EXISTS reservations (
      order_id TEXT PRIMARY KEY,
      reservation_id TEXT NOT NULL,
      status TEXT NOT NULL,
      lines TEXT NOT NULL,
      updated_at INTEGER NOT NULL
    );
  `);
  const seed = db.prepare('INSERT OR IGNORE INTO stock (sku, initial, available, reserved, committed) VALUES (?, ?, ?, 0, 0)');
  db.transaction(() => {
    for (const sku of SKUS) seed.run(sku, CATALOG[sku].initialStock, CATALOG[sku].initialStock);
  })();
}

/** Quantities per SKU (an order may name a SKU on several lines). */
function quantities(lines: readonly OrderLine[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of lines) out.set(line.sku, (out.get(line.sku) ?? 0) + line.quantity);
  return out;
}

function reservationOf(tx: SqliteTransaction, orderId: string): ReservationRow | undefined {
  return tx.get<ReservationRow>('SELECT order_id, reservation_id, status, lines FROM reservations WHERE order_id = ?', orderId);
}

function conflict(message: string, context: Record<string, unknown>): OnexError {
  return new OnexError(ErrorCode.Conflict, message, { context });
}

/**
 * `reserve`: all lines or none. Idempotent by the orchestrator's key (the effect node's store) and by order (a second
 * reserve of a reserved order answers the same reservation). Out of stock, or an order already released (the saga
 * compensated it before this reserve arrived), fails with a non-retryable `CONFLICT`.
 */
export const reserve = defineOperation({
  name: 'reserve',
  description: 'Reserves the stock of every line of an order, all or nothing',
  input: ReserveInput,
  output: ReserveOutput,
  transactional: true,
  timeoutMs: 2_000,
  retry: { maxAttempts: 2, initialDelayMs: 20 },
  breaker: false,
  run: async ({ orderId, lines }, ctx: Tx) => {
    const items = lines.reduce((sum, line) => sum + line.quantity, 0);
    const existing = reservationOf(ctx.tx, orderId);
    if (existing?.status === ReservationStatus.Released) {
      throw conflict(`Order ${orderId} was already released`, { reason: 'RESERVATION_RELEASED', orderId });
    }
    if (existing !== undefined) return { orderId, reservationId: existing.reservation_id, items };
    const wanted = quantities(lines);
    for (const [sku, quantity] of wanted) {
      const row = ctx.tx.get<{ available: number }>('SELECT available FROM stock WHERE sku = ?', sku);
      const available = row?.available ?? 0;
      if (available < quantity) throw conflict(`Out of stock: ${sku}`, { reason: 'OUT_OF_STOCK', sku, available, requested: quantity });
    }
    for (const [sku, quantity] of wanted) {
      ctx.tx.run('UPDATE stock SET available = available - ?, reserved = reserved + ? WHERE sku = ?', quantity, quantity, sku);
    }
    const reservationId = `res_${orderId}`;
    ctx.tx.run(
      'INSERT INTO reservations (order_id, reservation_id, status, lines, updated_at) VALUES (?, ?, ?, ?, ?)',
      orderId,
      reservationId,
      ReservationStatus.Reserved,
      JSON.stringify(lines),
      Date.now(),
    );
    return { orderId, reservationId, items };
  },
});

/**
 * `release`: puts a reservation's stock back (also a committed one: the goods come back). Safe for work that never
 * happened: releasing an unknown order records a tombstone, so a reserve arriving later is refused, not applied.
 */
export const release = defineOperation({
  name: 'release',
  description: 'Releases an order’s reservation; a no-op (plus a tombstone) when there is none',
  input: ReleaseInput,
  output: ReleaseOutput,
  transactional: true,
  timeoutMs: 2_000,
  retry: { maxAttempts: 2, initialDelayMs: 20 },
  breaker: false,
  run: async ({ orderId }, ctx: Tx) => {
    const existing = reservationOf(ctx.tx, orderId);
    if (existing === undefined) {
      ctx.tx.run(
        'INSERT INTO reservations (order_id, reservation_id, status, lines, updated_at) VALUES (?, ?, ?, ?, ?)',
        orderId,
        `res_${orderId}`,
        ReservationStatus.Released,
        '[]',
        Date.now(),
      );
      return { orderId, released: false, previous: 'none' as const };
    }
    if (existing.status === ReservationStatus.Released) return { orderId, released: false, previous: 'released' as const };
    const column = existing.status === ReservationStatus.Committed ? 'committed' : 'reserved';
    for (const [sku, quantity] of quantities(JSON.parse(existing.lines) as OrderLine[])) {
      ctx.tx.run(`UPDATE stock SET available = available + ?, ${column} = ${column} - ? WHERE sku = ?`, quantity, quantity, sku);
    }
    ctx.tx.run('UPDATE reservations SET status = ?, updated_at = ? WHERE order_id = ?', ReservationStatus.Released, Date.now(), orderId);
    return { orderId, released: true, previous: existing.status };
  },
});

/** What the warehouse gets wrong on purpose (changeable at run time through `POST /admin/config`). */
export interface WarehouseConfig {
  /** Share of orders found damaged when they ship (decided by the order id, so every retry agrees), 0–1. */
  damageRate: number;
}

/** A stable, well-spread number in [0, 1) for an order id. */
export function orderHash(orderId: string): number {
  return createHash('sha256').update(orderId).digest().readUInt32BE(0) / 4_294_967_296;
}

/**
 * `commit`: the reserved goods ship. Fails with a non-retryable `CONFLICT` when the order holds no reservation, or
 * when the goods turn out damaged (`reason: 'DAMAGED'`): the saga then refunds the charge and releases the stock.
 */
const commitOperation = (warehouse: WarehouseConfig) => defineOperation({
  name: 'commit',
  description: 'Ships a reserved order: its stock leaves the warehouse',
  input: CommitInput,
  output: CommitOutput,
  transactional: true,
  timeoutMs: 2_000,
  retry: { maxAttempts: 2, initialDelayMs: 20 },
  breaker: false,
  run: async ({ orderId }, ctx: Tx) => {
    const existing = reservationOf(ctx.tx, orderId);
    const shipmentId = `shp_${orderId}`;
    if (existing?.status === ReservationStatus.Committed) return { orderId, shipmentId };
    if (existing?.status !== ReservationStatus.Reserved) {
      throw conflict(`Order ${orderId} holds no reservation`, { reason: 'NOT_RESERVED', orderId, status: existing?.status ?? 'none' });
    }
    if (orderHash(orderId) < warehouse.damageRate) throw conflict(`Goods of order ${orderId} were found damaged`, { reason: 'DAMAGED', orderId });
    for (const [sku, quantity] of quantities(JSON.parse(existing.lines) as OrderLine[])) {
      ctx.tx.run('UPDATE stock SET reserved = reserved - ?, committed = committed + ? WHERE sku = ?', quantity, quantity, sku);
    }
    ctx.tx.run('UPDATE reservations SET status = ?, updated_at = ? WHERE order_id = ?', ReservationStatus.Committed, Date.now(), orderId);
    return { orderId, shipmentId };
  },
});

/** Reads the stock levels of every SKU. */
export function readStock(db: Pick<Database.Database, 'prepare'>): StockLevel[] {
  return db.prepare('SELECT sku, initial, available, reserved, committed FROM stock ORDER BY sku').all() as StockLevel[];
}

/** Reads reservations, all of them or those of some orders. */
export function readReservations(db: Pick<Database.Database, 'prepare'>): Reservation[] {
  const rows = db.prepare('SELECT order_id, reservation_id, status, lines FROM reservations ORDER BY order_id').all() as ReservationRow[];
  return rows.map((r) => Reservation.parse({ orderId: r.order_id, reservationId: r.reservation_id, status: r.status, lines: JSON.parse(r.lines) as unknown }));
}

/** `stock`: the stock levels (`initial = available + reserved + committed` per SKU). */
export const stock = defineOperation({
  name: 'stock',
  description: 'Stock levels of every SKU',
  input: StockInput,
  output: StockOutput,
  transactional: true,
  breaker: false,
  run: async (_input, ctx: Tx) => ({ items: ctx.tx.all<StockLevel>('SELECT sku, initial, available, reserved, committed FROM stock ORDER BY sku') }),
});

/** The inventory node's operations. */
export function inventoryOperations(warehouse: WarehouseConfig) {
  return [reserve, release, commitOperation(warehouse), stock] as const;
}
