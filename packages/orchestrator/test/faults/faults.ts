// What the campaign injects, how often, and the tally of what it did inject.

/** The kinds of fault the campaign injects (the summary line counts each). */
export const FaultKind = {
  /** A store call rejected before it was applied. */
  StoreError: 'storeError',
  /** A store call applied, then its answer lost (the caller sees an error). */
  StoreAckLost: 'storeAckLost',
  /** A store call delayed by a few tens of ms. */
  StoreSlow: 'storeSlow',
  /** Every store call of one instance held for a while (a GC pause, a partition). */
  StorePause: 'storePause',
  /** An instance dropped without shutdown: it makes no more store writes nor peer calls. */
  Crash: 'crash',
  /** A replacement instance started after a crash (same or new instance id). */
  Restart: 'restart',
  /** One instance's store events dropped for a while (its LISTEN connection lost), then `resync` once back. */
  EventGap: 'eventGap',
  /** The shared clock jumped forward by more than a lease. */
  ClockJump: 'clockJump',
  /** A peer call refused before it was sent (UNAVAILABLE). */
  PeerRefuse: 'peerRefuse',
  /** A peer call that never got an answer, and was never delivered. */
  PeerHang: 'peerHang',
  /** A peer call delivered and applied, whose answer never came (the caller times out). */
  PeerTimeoutAfterApply: 'peerTimeoutAfterApply',
  /** A peer answer that breaks the contract (CONTRACT), whether or not the peer applied the call. */
  PeerGarbage: 'peerGarbage',
  /** A definite business refusal by a peer (non-retryable), planned per workflow. */
  Refusal: 'refusal',
  /** A cancellation request. */
  Cancel: 'cancel',
} as const;
/** One of the {@link FaultKind} values. */
export type FaultKind = (typeof FaultKind)[keyof typeof FaultKind];

/** How many faults of each kind were injected. */
export class FaultTally {
  readonly #counts = new Map<FaultKind, number>();

  add(kind: FaultKind, n = 1): void {
    this.#counts.set(kind, (this.#counts.get(kind) ?? 0) + n);
  }

  get(kind: FaultKind): number {
    return this.#counts.get(kind) ?? 0;
  }

  /** Adds every count of `other` to this tally. */
  merge(other: FaultTally): void {
    for (const kind of Object.values(FaultKind)) this.add(kind, other.get(kind));
  }

  /** `{storeError:3, …}` in {@link FaultKind} order, zeros included. */
  format(): string {
    return `{${Object.values(FaultKind)
      .map((kind) => `${kind}:${this.get(kind)}`)
      .join(', ')}}`;
  }
}

/** Probabilities per call of the faults the store wrappers and peer clients inject while faults are on. */
export interface FaultRates {
  readonly storeError: number;
  readonly storeAckLost: number;
  readonly storeSlow: number;
  /** Range of a slow store call, ms. */
  readonly storeSlowMs: readonly [number, number];
  readonly peerRefuse: number;
  readonly peerHang: number;
  readonly peerTimeoutAfterApply: number;
  readonly peerGarbage: number;
}

/** Default rates: a few percent each, enough for hundreds of faults per seed of 1,000 workflows. */
export const DEFAULT_FAULT_RATES: FaultRates = {
  storeError: 0.01,
  storeAckLost: 0.01,
  storeSlow: 0.03,
  storeSlowMs: [5, 30],
  peerRefuse: 0.02,
  peerHang: 0.01,
  peerTimeoutAfterApply: 0.015,
  peerGarbage: 0.01,
};

/** The campaign-wide switch the wrappers read: faults are injected only while `enabled` (until the campaign heals). */
export class FaultSwitch {
  enabled = true;
  readonly rates: FaultRates;
  readonly tally: FaultTally;

  constructor(rates: FaultRates, tally: FaultTally) {
    this.rates = rates;
    this.tally = tally;
  }
}
