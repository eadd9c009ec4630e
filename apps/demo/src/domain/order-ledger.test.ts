import { reduce } from '@onex/reducer';
import { describe, expect, it } from 'vitest';
import { expectedLedgerState, orderLedgerMachine } from './order-ledger.js';

type Event = Parameters<typeof reduce<typeof orderLedgerMachine>>[2];

function run(events: readonly Event[]): string {
  let snapshot = orderLedgerMachine.initialSnapshot();
  for (const event of events) {
    const result = reduce(orderLedgerMachine, snapshot, event);
    if (!result.ok) throw result.error;
    snapshot = { state: result.value.state, context: result.value.context };
  }
  return snapshot.state;
}

const OPEN: Event = { type: 'OPEN', payload: { customerId: 'c-1' } };
const PRICE: Event = { type: 'PRICE', payload: { totalCents: 1_000 } };
const RESERVE: Event = { type: 'RESERVE', payload: { reservationId: 'res_1' } };
const PAY: Event = { type: 'PAY', payload: { chargeId: 'ch_1', amountCents: 1_000 } };
const CANCEL: Event = { type: 'CANCEL', payload: { reason: 'saga' } };

describe('order ledger', () => {
  it('walks the happy path to fulfilled', () => {
    expect(run([OPEN, PRICE, RESERVE, PAY, { type: 'FULFIL', payload: { shipmentId: 'shp_1' } }])).toBe('fulfilled');
  });

  it('ends cancelled when the saga cancels before the payment, refunded after it', () => {
    expect(run([OPEN, CANCEL])).toBe('cancelled');
    expect(run([OPEN, PRICE, RESERVE, CANCEL])).toBe('cancelled');
    expect(run([OPEN, PRICE, RESERVE, PAY, CANCEL])).toBe('refunded');
  });

  it('refuses an event the state does not allow, with CONFLICT', () => {
    const result = reduce(orderLedgerMachine, orderLedgerMachine.initialSnapshot(), PAY);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error.code).toBe('CONFLICT');
  });

  it('maps each final workflow status to the ledger state it implies', () => {
    const steps = (paid: boolean) => ({ 'ledger-paid': { status: paid ? 'completed' : 'pending' } });
    expect(expectedLedgerState({ status: 'completed', steps: steps(true) })).toBe('fulfilled');
    expect(expectedLedgerState({ status: 'compensated', steps: steps(false) })).toBe('cancelled');
    expect(expectedLedgerState({ status: 'compensated', steps: steps(true) })).toBe('refunded');
    expect(expectedLedgerState({ status: 'cancelled', steps: steps(true) })).toBe('refunded');
    expect(expectedLedgerState({ status: 'failed', steps: {} })).toBe('absent');
    expect(expectedLedgerState({ status: 'compensation_failed', steps: {} })).toBeUndefined();
  });
});
