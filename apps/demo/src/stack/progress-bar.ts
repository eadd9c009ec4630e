/**
 * A one-line progress bar on a TTY (redrawn in place), or a plain line every 10 % elsewhere (CI logs).
 */
export class ProgressBar {
  readonly #stream: NodeJS.WriteStream;
  readonly #label: string;
  readonly #started = Date.now();
  #lastDecile = -1;
  #lastDraw = 0;
  #note = '';

  constructor(label: string, stream: NodeJS.WriteStream = process.stderr) {
    this.#label = label;
    this.#stream = stream;
  }

  /** A short status shown after the counts (e.g. "provider outage"). */
  note(text: string): void {
    this.#note = text;
  }

  /** Reports progress; draws at most every 50 ms on a TTY. */
  update(done: number, total: number): void {
    const ratio = total === 0 ? 1 : done / total;
    if (this.#stream.isTTY) {
      const now = Date.now();
      if (now - this.#lastDraw < 50 && done < total) return;
      this.#lastDraw = now;
      const width = 30;
      const filled = Math.round(ratio * width);
      const rate = done / Math.max(0.001, (now - this.#started) / 1000);
      const line = `${this.#label} [${'█'.repeat(filled)}${'░'.repeat(width - filled)}] ${done}/${total} ${(ratio * 100).toFixed(0).padStart(3)}% ${rate.toFixed(0)}/s ${this.#note}`;
      this.#stream.write(`\r${line.slice(0, (this.#stream.columns || 120) - 1)}\x1b[K`);
      return;
    }
    const decile = Math.floor(ratio * 10);
    if (decile > this.#lastDecile) {
      this.#lastDecile = decile;
      this.#stream.write(`${this.#label}: ${done}/${total} (${decile * 10}%)\n`);
    }
  }

  /** Ends the bar's line. */
  done(): void {
    if (this.#stream.isTTY) this.#stream.write('\n');
  }
}
