// Reads a Prometheus scrape with a real exposition-format parser (parse-prometheus-text-format, a port of the
// Prometheus Python client's parser), checks what every scrape must satisfy, and looks series up by labels.
//
// The parser reads every line, but groups the series of a histogram wrongly when they carry labels: it merges the
// buckets of all series into one and drops their _sum and _count (yunyu/parse-prometheus-text-format#13, fix in the
// unmerged #8). So histograms are read a second time with their `# TYPE` line taken out: the parser then returns
// their _bucket, _sum and _count samples as plain series, with every label, and this file groups them.
import parsePrometheusTextFormat, { type ParsedFamily, type ParsedSample } from 'parse-prometheus-text-format';

/** A histogram series: cumulative counts by `le`, total and sum. */
export interface ScrapedHistogram {
  readonly buckets: ReadonlyMap<string, number>;
  readonly count: number;
  readonly sum: number;
}

/** A parsed scrape. */
export interface Scrape {
  readonly families: readonly ParsedFamily[];
  /** The family `name`; throws when the scrape has none. */
  family(name: string): ParsedFamily;
  /** The value of the counter or gauge series of `name` whose labels are exactly `labels`, or undefined. */
  value(name: string, labels: Readonly<Record<string, string>>): number | undefined;
  /** The label sets of the series of `name` (histograms: without `le`). */
  series(name: string): readonly Readonly<Record<string, string>>[];
  /** The histogram series of `name` whose labels (without `le`) are exactly `labels`, or undefined. */
  histogram(name: string, labels: Readonly<Record<string, string>>): ScrapedHistogram | undefined;
}

type Labels = Readonly<Record<string, string>>;

/** Labels as a comparable key; Prometheus reads an empty label value as no label, and so does this. */
function keyOf(labels: Labels | undefined, without?: string): string {
  const entries = Object.entries(labels ?? {}).filter(([name, v]) => v !== '' && name !== without);
  entries.sort(([a], [b]) => (a < b ? -1 : 1));
  return JSON.stringify(entries);
}

function number(sample: ParsedSample | undefined, what: string): number {
  if (sample?.value === undefined) throw new Error(`${what}: no value`);
  return Number(sample.value);
}

/**
 * Parses `text` and checks it: every family has a `# HELP` and a `# TYPE` (none is untyped), names are unique, and
 * every histogram series has ascending cumulative buckets ending with `+Inf` equal to its count, and a sum.
 */
export function parseScrape(text: string): Scrape {
  const families = parsePrometheusTextFormat(text);
  const names = new Set<string>();
  for (const family of families) {
    if (names.has(family.name)) throw new Error(`family ${family.name} appears twice`);
    names.add(family.name);
    if (family.type === 'UNTYPED' || family.help === '') throw new Error(`family ${family.name} has no # TYPE or # HELP`);
  }
  const histograms = new Set(families.filter((f) => f.type === 'HISTOGRAM').map((f) => f.name));
  // Untyped, each series' _bucket, _sum and _count lines come out as families of their own, once per series.
  const flat = new Map<string, ParsedSample[]>();
  for (const f of parsePrometheusTextFormat(text.replace(/^# TYPE \S+ histogram$/gm, ''))) flat.set(f.name, [...(flat.get(f.name) ?? []), ...f.metrics]);

  const family = (name: string): ParsedFamily => {
    const found = families.find((f) => f.name === name);
    if (found === undefined) throw new Error(`no family ${name} in the scrape`);
    return found;
  };
  const histogram = (name: string, labels: Labels): ScrapedHistogram | undefined => {
    const key = keyOf(labels);
    const buckets = (flat.get(`${name}_bucket`) ?? []).filter((s) => keyOf(s.labels, 'le') === key);
    if (buckets.length === 0) return undefined;
    const pick = (suffix: string) => (flat.get(`${name}${suffix}`) ?? []).find((s) => keyOf(s.labels) === key);
    return {
      buckets: new Map(buckets.map((s) => [s.labels?.['le'] ?? '', number(s, `${name}_bucket`)])),
      count: number(pick('_count'), `${name}_count ${key}`),
      sum: number(pick('_sum'), `${name}_sum ${key}`),
    };
  };
  const series = (name: string): Labels[] => {
    const samples = histograms.has(name) ? (flat.get(`${name}_count`) ?? []) : family(name).metrics;
    return samples.map((s) => s.labels ?? {});
  };

  for (const name of histograms) {
    for (const labels of series(name)) {
      const h = histogram(name, labels);
      if (h === undefined) throw new Error(`${name} ${keyOf(labels)}: _count without buckets`);
      const bounds = [...h.buckets].map(([le, v]) => [le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le), v] as const).sort(([a], [b]) => a - b);
      bounds.forEach(([, v], i) => {
        if (i > 0 && v < bounds[i - 1]![1]) throw new Error(`${name} ${keyOf(labels)}: buckets are not cumulative`);
      });
      const last = bounds.at(-1);
      if (last?.[0] !== Number.POSITIVE_INFINITY || last[1] !== h.count) throw new Error(`${name} ${keyOf(labels)}: +Inf bucket missing or not the count`);
    }
  }

  return {
    families,
    family,
    series,
    histogram,
    value: (name, labels) => {
      const key = keyOf(labels);
      const sample = family(name).metrics.find((m) => keyOf(m.labels) === key);
      return sample === undefined ? undefined : number(sample, name);
    },
  };
}
