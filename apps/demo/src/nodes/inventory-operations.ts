import { createHash } from 'node:crypto';
import { ErrorCode, OnexError } from '@onex/core';
import { defineEffectNode, defineOperation, type OperationContext } from '@onex/effect';
import { CATALOG, SKUS } from '../domain/catalog.js';
import {
  CommitOperation,
  ReleaseOperation,
  Reservation,
  ReservationStatus,
  ReserveOperation,
  StockOperation,
  type StockLevel,
} from '../domain/inventory.js';
import { CONTRACT_VERSION, PeerName } from '../domain/peers.js';
import type { OrderLine } from '../domain/order.js';
import type { SqlTransaction } from '../runtime/sql-transaction.js';

/** The SQL of the transaction an operation runs in (`ctx.tx`): the store file knows which kind it is. */
export type SqlOf = (tx: unknown) => SqlTransaction;

type Tx = OperationContext<unknown>;

interface ReservationRow {
  order_id: string;
  reservation_id: string;
  status: ReservationStatus;
  lines: string;
}

/**
 * Creates the inventory tables (in the node's schema on PostgreSQL) and seeds the stock from the catalogue (only SKUs
 * not there yet). Replicas starting together serialise on a lock, so the tables are created once.
 */
export async function prepareInventoryDatabase(sql: SqlTransaction): Promise<void> {
  await sql.lock(['inventory:schema']);
  // BIGINT: `updated_at` is epoch ms, past PostgreSQL's 32-bit INTEGER (SQLite stores either the same way).
  await sql.run(`CREATE TABLE IF NOT EXISTS stock (
      sku TEXT PRIMARY KEY,
      initial INTEGER NOT NULL,
      available INTEGER NOT NULL CHECK (available >= 0),
      reserved INTEGER NOT NULL CHECK (reserved >= 0),
      committed INTEGER NOT NULL CHECK (committed >= 0)
    )`);
  await sql.run(`CREATE TABLE IF NOT EXISTS reservations (
      order_id TEXT PRIMARY KEY,
      reservation_id TEXT NOT NULL,
      status TEXT NOT NULL,
      lines TEXT NOT NULL,
      updated_at BIGINT NOT NULL
    )`);
  for (const sku of SKUS) {
    await sql.run('INSERT INTO stock (sku, initial, available, reserved, committed) VALUES (?, ?, ?, 0, 0) ON CONFLICT (sku) DO NOTHING', sku, CATALOG[sku].initialStock, CATALOG[sku].initialStock);
  }
}

/** Quantities per SKU (an order may name a SKU on several lines). */
function quantities(lines: readonly OrderLine[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of lines) out.set(line.sku, (out.get(line.sku) ?? 0) + line.quantity);
  return out;
}

/**
 * The order's reservation, once this transaction holds the order's lock and the locks of `skus`: two replicas
 * working on one order (a late reserve and its compensation) or one SKU run one after the other.
 */
async function lockedReservation(sql: SqlTransaction, orderId: string, skus: Iterable<string> = []): Promise<ReservationRow | undefined> {
  await sql.lock([`order:${orderId}`, ...[...skus].map((sku) => `sku:${sku}`)]);
  return sql.get<ReservationRow>('SELECT order_id, reservation_id, status, lines FROM reservations WHERE order_id = ?', orderId);
}

function conflict(message: string, context: Record<string, unknown>): OnexError {
  return new OnexError(ErrorCode.Conflict, message, { context });
}

/**
 * `reserve`: all lines or none. Idempotent by the orchestrator's key (the effect node's store) and by order (a second
 * reserve of a reserved order answers the same reservation). Out of stock, or an order already released (the saga
 * compensated it before this reserve arrived), fails with a non-retryable `CONFLICT`.
 */
const reserveOperation = (sqlOf: SqlOf) => defineOperation({
  ...ReserveOperation,
  transactional: true,
  run: async ({ orderId, lines }, ctx: Tx) => {
    const items = lines.reduce((sum, line) => sum + line.quantity, 0);
    const sql = sqlOf(ctx.tx);
    const wanted = quantities(lines);
    const existing = await lockedReservation(sql, orderId, wanted.keys());
    if (existing?.status === ReservationStatus.Released) {
      throw conflict(`Order ${orderId} was already released`, { reason: 'RESERVATION_RELEASED', orderId });
    }
    if (existing !== undefined) return { orderId, reservationId: existing.reservation_id, items };
    for (const [sku, quantity] of wanted) {
      const row = await sql.get<{ available: number }>('SELECT available FROM stock WHERE sku = ?', sku);
      const available = row?.available ?? 0;
      if (available < quantity) throw conflict(`Out of stock: ${sku}`, { reason: 'OUT_OF_STOCK', sku, available, requested: quantity });
    }
    for (const [sku, quantity] of wanted) {
      await sql.run('UPDATE stock SET available = available - ?, reserved = reserved + ? WHERE sku = ?', quantity, quantity, sku);
    }
    const reservationId = `res_${orderId}`;
    await sql.run(
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
const releaseOperation = (sqlOf: SqlOf) => defineOperation({
  ...ReleaseOperation,
  transactional: true,
  run: async ({ orderId }, ctx: Tx) => {
    const sql = sqlOf(ctx.tx);
    let existing = await lockedReservation(sql, orderId);
    if (existing === undefined) {
      await sql.run(
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
    const lines = quantities(JSON.parse(existing.lines) as OrderLine[]);
    // The SKUs are known now: lock them too (after the order, as reserve and commit do), then read again.
    existing = (await lockedReservation(sql, orderId, lines.keys())) ?? existing;
    const column = existing.status === ReservationStatus.Committed ? 'committed' : 'reserved';
    for (const [sku, quantity] of lines) {
      await sql.run(`UPDATE stock SET available = available + ?, ${column} = ${column} - ? WHERE sku = ?`, quantity, quantity, sku);
    }
    await sql.run('UPDATE reservations SET status = ?, updated_at = ? WHERE order_id = ?', ReservationStatus.Released, Date.now(), orderId);
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
const commitOperation = (warehouse: WarehouseConfig, sqlOf: SqlOf) => defineOperation({
  ...CommitOperation,
  transactional: true,
  run: async ({ orderId }, ctx: Tx) => {
    const sql = sqlOf(ctx.tx);
    const found = await lockedReservation(sql, orderId);
    const lines = found === undefined ? new Map<string, number>() : quantities(JSON.parse(found.lines) as OrderLine[]);
    const existing = lines.size === 0 ? found : await lockedReservation(sql, orderId, lines.keys());
    const shipmentId = `shp_${orderId}`;
    if (existing?.status === ReservationStatus.Committed) return { orderId, shipmentId };
    if (existing?.status !== ReservationStatus.Reserved) {
      throw conflict(`Order ${orderId} holds no reservation`, { reason: 'NOT_RESERVED', orderId, status: existing?.status ?? 'none' });
    }
    if (orderHash(orderId) < warehouse.damageRate) throw conflict(`Goods of order ${orderId} were found damaged`, { reason: 'DAMAGED', orderId });
    for (const [sku, quantity] of quantities(JSON.parse(existing.lines) as OrderLine[])) {
      await sql.run('UPDATE stock SET reserved = reserved - ?, committed = committed + ? WHERE sku = ?', quantity, quantity, sku);
    }
    await sql.run('UPDATE reservations SET status = ?, updated_at = ? WHERE order_id = ?', ReservationStatus.Committed, Date.now(), orderId);
    return { orderId, shipmentId };
  },
});

/** Reads the stock levels of every SKU. */
export function readStock(sql: SqlTransaction): Promise<StockLevel[]> {
  return sql.all<StockLevel>('SELECT sku, initial, available, reserved, committed FROM stock ORDER BY sku');
}

/** Reads every reservation. */
export async function readReservations(sql: SqlTransaction): Promise<Reservation[]> {
  const rows = await sql.all<ReservationRow>('SELECT order_id, reservation_id, status, lines FROM reservations ORDER BY order_id');
  return rows.map((r) => Reservation.parse({ orderId: r.order_id, reservationId: r.reservation_id, status: r.status, lines: JSON.parse(r.lines) as unknown }));
}

/** `stock`: the stock levels (`initial = available + reserved + committed` per SKU). */
const stockOperation = (sqlOf: SqlOf) => defineOperation({
  ...StockOperation,
  transactional: true,
  run: async (_input, ctx: Tx) => ({ items: await readStock(sqlOf(ctx.tx)) }),
});

/**
 * The inventory node's definition: its operations over the SQL of the transactions its store runs, every one with
 * a 2 s timeout, one quick retry and no breaker of its own (the definition's defaults).
 */
export function inventoryDefinition(warehouse: WarehouseConfig, sqlOf: SqlOf) {
  return defineEffectNode({
    name: PeerName.Inventory,
    version: CONTRACT_VERSION,
    operations: [reserveOperation(sqlOf), releaseOperation(sqlOf), commitOperation(warehouse, sqlOf), stockOperation(sqlOf)],
    defaults: { timeoutMs: 2_000, retry: { maxAttempts: 2, initialDelayMs: 20 }, breaker: false },
  });
}
