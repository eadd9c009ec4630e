/**
 * The demo's product catalogue: what pricing charges and what inventory stocks at start. Prices are integer cents
 * (never floats for money).
 */
export const CATALOG = {
  'BOOK-TS': { name: 'Effective TypeScript', priceCents: 3_990, initialStock: 2_000 },
  'MUG-ONEX': { name: 'ONEX mug', priceCents: 1_250, initialStock: 3_000 },
  'SHIRT-M': { name: 'T-shirt, size M', priceCents: 2_200, initialStock: 1_500 },
  'STICKERS': { name: 'Sticker pack', priceCents: 450, initialStock: 5_000 },
  'KEYBOARD': { name: 'Mechanical keyboard', priceCents: 11_900, initialStock: 800 },
  'HEADSET': { name: 'Wireless headset', priceCents: 8_900, initialStock: 800 },
  'LAMP': { name: 'Desk lamp', priceCents: 3_400, initialStock: 1_000 },
  // Scarce on purpose: some orders run out of stock, which the saga turns into a clean cancellation.
  'LIMITED-PRINT': { name: 'Signed limited print', priceCents: 24_900, initialStock: 12 },
} as const satisfies Readonly<Record<string, { readonly name: string; readonly priceCents: number; readonly initialStock: number }>>;

/** A catalogue SKU. */
export type SkuCode = keyof typeof CATALOG;

/** Every SKU, in catalogue order. */
export const SKUS = Object.keys(CATALOG) as [SkuCode, ...SkuCode[]];

/** VAT by destination country, in basis points (2 000 = 20 %). */
export const TAX_RATE_BPS = { FR: 2_000, DE: 1_900, NL: 2_100, GB: 2_000, US: 0 } as const;

/** A destination country the shop ships to. */
export type Country = keyof typeof TAX_RATE_BPS;

/** Coupon codes and their discount, in basis points of the subtotal. */
export const COUPONS = { WELCOME10: 1_000, ONEX20: 2_000 } as const;
