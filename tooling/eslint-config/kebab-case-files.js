// A tiny local rule: file names are kebab-case (STYLE.md rule 8). eslint-plugin-unicorn would do it,
// but its current major requires Node >= 22.
import path from 'node:path';

const KEBAB = /^[a-z0-9]+(?:-[a-z0-9]+)*(?:\.[a-z0-9-]+)*$/;

/** @type {import('eslint').Rule.RuleModule} */
export const kebabCaseFiles = {
  meta: {
    type: 'suggestion',
    docs: { description: 'require kebab-case file names' },
    schema: [],
    messages: { notKebab: "File name '{{name}}' is not kebab-case." },
  },
  create(context) {
    return {
      Program(node) {
        const name = path.basename(context.filename);
        if (!KEBAB.test(name)) context.report({ node, messageId: 'notKebab', data: { name } });
      },
    };
  },
};
