import { createRequire } from 'node:module';
import type * as PromClient from 'prom-client';
import type { Registry, RegistryContentType } from 'prom-client';
import { ErrorCode } from '../errors/error-codes.js';
import { OnexError } from '../errors/onex-error.js';
import type { BucketStats } from './bucket-histogram.js';

/** A prom-client registry of either exposition format. */
export type AnyRegistry = Registry<RegistryContentType>;

/** The label every ONEX metric carries: the node whose figures a series shows. */
export const NODE_LABEL = 'node';

/** What a node hands a family at scrape time: one sample per label set. */
export type SampleSink<TValue> = (labels: Readonly<Record<string, string>>, value: TValue) => void;

/** One node's contribution to a family: its label value and what it reads at scrape time. */
export interface FamilySource<TValue> {
  /** The `node` label of its series. */
  readonly node: string;
  /** False once the node stopped: another node may then take its label in a shared registry. */
  live(): boolean;
  collect(sink: SampleSink<TValue>): void | Promise<void>;
}

/** The kinds of families: collected counters and gauges (a number per series), collected histograms (a snapshot). */
export type FamilyType = 'counter' | 'gauge' | 'histogram';

/** What a family is: two nodes may share it only when they agree on all of it. */
export interface FamilyShape {
  readonly type: FamilyType;
  readonly name: string;
  readonly help: string;
  /** Label names besides `node`. */
  readonly labelNames: readonly string[];
  /** Histogram upper bounds, seconds. */
  readonly buckets?: readonly number[];
}

interface Family {
  readonly shape: FamilyShape;
  readonly sources: Map<string, FamilySource<never>>;
}

// Symbol.for: two copies of @onex/core in one process still find each other's families in a shared registry.
const FAMILY = Symbol.for('@onex/core/metrics-family');

function familyOf(metric: object): Family | undefined {
  return (metric as { [FAMILY]?: Family })[FAMILY];
}

function sameShape(a: FamilyShape, b: FamilyShape): boolean {
  return (
    a.type === b.type &&
    a.labelNames.length === b.labelNames.length &&
    a.labelNames.every((l, i) => l === b.labelNames[i]) &&
    (a.buckets ?? []).length === (b.buckets ?? []).length &&
    (a.buckets ?? []).every((v, i) => v === b.buckets?.[i])
  );
}

/** Runs every live source's collect and gathers its samples with the `node` label, before any is applied. */
async function gather<TValue>(family: Family): Promise<[Record<string, string>, TValue][]> {
  const samples: [Record<string, string>, TValue][] = [];
  await Promise.all(
    Array.from(family.sources.values(), async (source) => {
      const typed = source as unknown as FamilySource<TValue>;
      await typed.collect((labels, value) => samples.push([{ ...labels, [NODE_LABEL]: typed.node }, value]));
    }),
  );
  return samples;
}

/** One sample of a histogram as prom-client's registry formats it: series labels shared, `le` its own. */
interface HistogramSample {
  readonly metricName: string;
  readonly labels: Readonly<Record<string, string | number>>;
  readonly sharedLabels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** What a collected histogram answers prom-client's registry. */
interface HistogramForPromString {
  name: string;
  help: string;
  type: 'histogram';
  aggregator: 'sum';
  values: HistogramSample[];
}

/**
 * A histogram whose figures are read at scrape time from {@link BucketHistogram}s rather than observed: nodes count
 * into their own fixed buckets on the call path, and prom-client formats what this answers.
 *
 * prom-client's registry reads a metric through `getForPromString()` when it has one (its Histogram does, and its
 * `get()` reads that too, for the JSON view): this class answers there, in the shape prom-client's own histogram
 * does. Pinned by the exposition-format tests (`prometheus-metrics.test.ts`), which parse the output. Defined once
 * prom-client is loaded (it extends prom-client's Histogram).
 */
function collectedHistogramClass(client: typeof PromClient): new (registry: AnyRegistry, family: Family) => object {
  return class CollectedHistogram extends client.Histogram<string> {
    readonly #family: Family;

    constructor(registry: AnyRegistry, family: Family) {
      const { name, help, labelNames, buckets } = family.shape;
      super({ name, help, labelNames: [NODE_LABEL, ...labelNames], buckets: [...(buckets ?? [])], registers: [registry] });
      this.#family = family;
    }

    async getForPromString(): Promise<HistogramForPromString> {
      const { name, help } = this.#family.shape;
      const bucket = `${name}_bucket`;
      const values: HistogramSample[] = [];
      for (const [sharedLabels, snapshot] of await gather<BucketStats>(this.#family)) {
        snapshot.bounds.forEach((le, i) => values.push({ metricName: bucket, labels: { le }, sharedLabels, value: snapshot.cumulative[i] ?? 0 }));
        values.push({ metricName: bucket, labels: { le: '+Inf' }, sharedLabels, value: snapshot.count });
        values.push({ metricName: `${name}_sum`, labels: {}, sharedLabels, value: snapshot.sumSeconds });
        values.push({ metricName: `${name}_count`, labels: {}, sharedLabels, value: snapshot.count });
      }
      return { name, help, type: 'histogram', aggregator: 'sum', values };
    }
  };
}

interface LoadedClient {
  readonly client: typeof PromClient;
  readonly CollectedHistogram: new (registry: AnyRegistry, family: Family) => object;
}

let loaded: LoadedClient | undefined;

/**
 * prom-client, loaded on first use rather than at `@onex/core`'s import: its 32 CommonJS files are ~15–20 ms of a
 * node's cold start, and a node that nobody scrapes never needs them. Loaded through `require`, so it is the same
 * module instance an application's own `import 'prom-client'` gets (one registry class, one global registry).
 */
function load(): LoadedClient {
  if (loaded === undefined) {
    const client = createRequire(import.meta.url)('prom-client') as typeof PromClient;
    loaded = { client, CollectedHistogram: collectedHistogramClass(client) };
  }
  return loaded;
}

/**
 * A new, empty prom-client registry (loading prom-client on first use).
 *
 * @internal
 */
export function newRegistry(): AnyRegistry {
  return new (load().client.Registry)();
}

function createMetric(registry: AnyRegistry, family: Family): object {
  const { client, CollectedHistogram } = load();
  const { type, name, help, labelNames } = family.shape;
  const config = { name, help, labelNames: [NODE_LABEL, ...labelNames], registers: [registry] };
  switch (type) {
    case 'counter':
      return new client.Counter<string>({
        ...config,
        // Samples are gathered first, then applied at once: two scrapes at a time cannot interleave their resets.
        async collect() {
          const samples = await gather<number>(family);
          this.reset();
          for (const [labels, value] of samples) this.inc(labels, value);
        },
      });
    case 'gauge':
      return new client.Gauge<string>({
        ...config,
        async collect() {
          const samples = await gather<number>(family);
          this.reset();
          for (const [labels, value] of samples) this.set(labels, value);
        },
      });
    case 'histogram':
      return new CollectedHistogram(registry, family);
  }
}

/**
 * Adds `source` to the family `shape` of `registry`, registering the family on first use. Nodes sharing a registry
 * share its families, each with its own `node` label.
 *
 * @throws OnexError `VALIDATION` when the registry holds a metric of that name that is not this family (another
 *   library's, or an ONEX family of another type, labels or buckets), or when a live node with the same `node`
 *   label already reports to it.
 */
export function attachSource<TValue>(registry: AnyRegistry, shape: FamilyShape, source: FamilySource<TValue>): void {
  const existing = registry.getSingleMetric(shape.name);
  let family = existing === undefined ? undefined : familyOf(existing);
  if (existing !== undefined && (family === undefined || !sameShape(family.shape, shape))) {
    throw new OnexError(ErrorCode.Validation, `The metrics registry already holds a different metric named '${shape.name}'`, { context: { metric: shape.name } });
  }
  if (family === undefined) {
    family = { shape, sources: new Map() };
    const metric = createMetric(registry, family);
    Object.defineProperty(metric, FAMILY, { value: family });
  }
  const current = family.sources.get(source.node);
  if (current !== undefined && current.live()) {
    throw new OnexError(
      ErrorCode.Validation,
      `A node labelled '${source.node}' already reports '${shape.name}' to this metrics registry: give each node its own registry, or a distinct metrics.node label`,
      { context: { metric: shape.name, node: source.node } },
    );
  }
  family.sources.set(source.node, source as unknown as FamilySource<never>);
}
