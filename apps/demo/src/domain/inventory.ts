import type { OperationSignature } from '@onex/effect';
import { z } from 'zod';
import { SKUS } from './catalog.js';
import { OrderLine } from './order.js';

const OrderId = z.string().min(1).max(64);

/** Where a reservation is in its life: `released` also marks a release that came before any reserve. */
export const ReservationStatus = { Reserved: 'reserved', Committed: 'committed', Released: 'released' } as const;
/** One of the {@link ReservationStatus} values. */
export type ReservationStatus = (typeof ReservationStatus)[keyof typeof ReservationStatus];

/** Input of `reserve`: take stock for every line, all or nothing. */
export const ReserveInput = z.object({ orderId: OrderId, lines: z.array(OrderLine).min(1) });
/** Output of `reserve`. */
export const ReserveOutput = z.object({ orderId: OrderId, reservationId: z.string(), items: z.int().positive() });

/** Input of `release`: put a reservation's stock back (safe when there is none). */
export const ReleaseInput = z.object({ orderId: OrderId });
/** Output of `release`. */
export const ReleaseOutput = z.object({
  orderId: OrderId,
  released: z.boolean(),
  previous: z.enum(['none', 'reserved', 'committed', 'released']),
});

/** Input of `commit`: the reserved goods leave the warehouse (the order is fulfilled). */
export const CommitInput = z.object({ orderId: OrderId });
/** Output of `commit`. */
export const CommitOutput = z.object({ orderId: OrderId, shipmentId: z.string() });

/** Stock of one SKU: `initial = available + reserved + committed` always holds. */
export const StockLevel = z.object({
  sku: z.enum(SKUS),
  initial: z.int().nonnegative(),
  available: z.int().nonnegative(),
  reserved: z.int().nonnegative(),
  committed: z.int().nonnegative(),
});
/** Stock of one SKU. */
export type StockLevel = z.infer<typeof StockLevel>;

/** Input of `stock`. */
export const StockInput = z.object({}).strict();
/** Output of `stock`. */
export const StockOutput = z.object({ items: z.array(StockLevel) });

/** `inventory` → `reserve`, as the node and its callers both know it: its name and schemas. */
export const ReserveOperation = {
  name: 'reserve',
  description: 'Reserves the stock of every line of an order, all or nothing',
  input: ReserveInput,
  output: ReserveOutput,
} as const satisfies OperationSignature;

/** `inventory` → `release`. */
export const ReleaseOperation = {
  name: 'release',
  description: 'Releases an order’s reservation; a no-op (plus a tombstone) when there is none',
  input: ReleaseInput,
  output: ReleaseOutput,
} as const satisfies OperationSignature;

/** `inventory` → `commit`. */
export const CommitOperation = {
  name: 'commit',
  description: 'Ships a reserved order: its stock leaves the warehouse',
  input: CommitInput,
  output: CommitOutput,
} as const satisfies OperationSignature;

/** `inventory` → `stock`. */
export const StockOperation = { name: 'stock', description: 'Stock levels of every SKU', input: StockInput, output: StockOutput } as const satisfies OperationSignature;

/** The inventory node's operations as its callers know them (the node adds the code that runs them). */
export const inventorySignatures = [ReserveOperation, ReleaseOperation, CommitOperation, StockOperation] as const;

/** One reservation, as `GET /v1/reservations` lists it. */
export const Reservation = z.object({
  orderId: OrderId,
  reservationId: z.string(),
  status: z.enum([ReservationStatus.Reserved, ReservationStatus.Committed, ReservationStatus.Released]),
  lines: z.array(OrderLine),
});
/** One reservation. */
export type Reservation = z.infer<typeof Reservation>;

/** Body of the inventory's `POST /admin/config`: failure injection for scenarios. */
export const WarehouseConfigPatch = z.object({ damageRate: z.number().min(0).max(1) }).partial().strict();
