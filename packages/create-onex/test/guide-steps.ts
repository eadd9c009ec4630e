/** One executable step of a guide: a shell command to run, or a file to write, in document order. */
export type GuideStep =
  | { readonly kind: 'run'; readonly command: string; readonly line: number }
  | { readonly kind: 'file'; readonly path: string; readonly content: string; readonly line: number };

const FENCE = /^```([\w-]*)[ \t]*(.*)$/;

/**
 * The executable steps of a Markdown guide: every line of a block whose info string is `run` (```sh run) that is
 * not blank or a comment, and every block with `file=<path>` (```ts file=src/x.ts). Other blocks are prose.
 *
 * @example
 * ```ts
 * readGuideSteps('```sh run\nnpm test\n```\n'); // [{ kind: 'run', command: 'npm test', line: 2 }]
 * ```
 */
export function readGuideSteps(markdown: string): readonly GuideStep[] {
  const lines = markdown.split('\n');
  const steps: GuideStep[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = FENCE.exec(lines[i] ?? '');
    if (open === null) continue;
    const info = open[2]?.trim() ?? '';
    const start = i + 1;
    let end = start;
    while (end < lines.length && !/^```\s*$/.test(lines[end] ?? '')) end++;
    if (end >= lines.length) throw new Error(`Unclosed code block at line ${i + 1}`);
    const body = lines.slice(start, end);
    const file = /(?:^|\s)file=(\S+)/.exec(info)?.[1];
    if (file !== undefined) {
      steps.push({ kind: 'file', path: file, content: `${body.join('\n')}\n`, line: i + 1 });
    } else if (info.split(/\s+/).includes('run')) {
      body.forEach((command, k) => {
        const trimmed = command.trim();
        if (trimmed !== '' && !trimmed.startsWith('#')) steps.push({ kind: 'run', command: trimmed, line: start + k + 1 });
      });
    }
    i = end;
  }
  return steps;
}
