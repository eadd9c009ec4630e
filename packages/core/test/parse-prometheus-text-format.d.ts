// Types of parse-prometheus-text-format (it ships none): the prom2json-compatible shape its README documents.
declare module 'parse-prometheus-text-format' {
  /** One series: a value for counters and gauges; buckets, count and sum for histograms. Numbers as written. */
  export interface ParsedSample {
    readonly value?: string;
    readonly labels?: Readonly<Record<string, string>>;
    readonly buckets?: Readonly<Record<string, string>>;
    readonly quantiles?: Readonly<Record<string, string>>;
    readonly count?: string;
    readonly sum?: string;
    readonly timestamp_ms?: string;
  }
  /** One metric family: its `# HELP`, its `# TYPE` (upper case), its series. */
  export interface ParsedFamily {
    readonly name: string;
    readonly help: string;
    readonly type: 'COUNTER' | 'GAUGE' | 'HISTOGRAM' | 'SUMMARY' | 'UNTYPED';
    readonly metrics: readonly ParsedSample[];
  }
  /** Parses the Prometheus text exposition format; throws on a line it cannot read. */
  export default function parsePrometheusTextFormat(text: string): ParsedFamily[];
}
