import { COUPONS, SKUS, TAX_RATE_BPS, type Country, type SkuCode } from '../domain/catalog.js';
import type { Order } from '../domain/order.js';
import { seededRandom } from '../runtime/seeded-random.js';

/** Options of {@link generateOrders}. */
export interface GenerateOrdersOptions {
  readonly count: number;
  readonly seed: number;
  /** Prefix of the order ids (unique per run, so runs on kept data do not collide). */
  readonly prefix: string;
  /** Share of orders placed by customers the fraud check refuses. Default 0. */
  readonly fraudRate?: number;
  /** Share of orders asking for the scarce limited print. Default 0.05. */
  readonly scarceRate?: number;
}

const COMMON_SKUS = SKUS.filter((sku) => sku !== 'LIMITED-PRINT');
const COUNTRIES = Object.keys(TAX_RATE_BPS) as Country[];
const COUPON_CODES = Object.keys(COUPONS) as (keyof typeof COUPONS)[];

/** Deterministic, varied orders: 1–3 lines, a few coupons and big baskets, some scarce items and fraudsters. */
export function generateOrders(options: GenerateOrdersOptions): Order[] {
  const random = seededRandom(options.seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const orders: Order[] = [];
  for (let i = 1; i <= options.count; i += 1) {
    const lines: { sku: SkuCode; quantity: number }[] = [];
    const lineCount = 1 + Math.floor(random() * 3);
    for (let l = 0; l < lineCount; l += 1) lines.push({ sku: pick(COMMON_SKUS), quantity: 1 + Math.floor(random() * (random() < 0.1 ? 8 : 3)) });
    if (random() < (options.scarceRate ?? 0.05)) lines.push({ sku: 'LIMITED-PRINT', quantity: 1 });
    const fraud = random() < (options.fraudRate ?? 0);
    const coupon = random() < 0.15 ? pick(COUPON_CODES) : undefined;
    orders.push({
      orderId: `${options.prefix}-${String(i).padStart(4, '0')}`,
      customerId: `${fraud ? 'fraud' : 'cust'}-${1 + Math.floor(random() * 500)}`,
      country: pick(COUNTRIES),
      lines,
      ...(coupon === undefined ? {} : { coupon }),
    });
  }
  return orders;
}
