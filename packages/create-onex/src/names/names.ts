/**
 * The names a generated node or project is known by, all derived from one kebab-case name the user gives.
 *
 * @example
 * ```ts
 * const names = nodeNames('order-total');
 * names.pascal; // 'OrderTotal' (class `OrderTotalNode`)
 * names.camel; // 'orderTotal' (`orderTotalContract`)
 * names.constant; // 'ORDER_TOTAL' (env `ORDER_TOTAL_PORT`)
 * ```
 */
export interface NodeNames {
  /** As given: kebab-case, the node's contract name, folder and file prefix (`order-total`). */
  readonly kebab: string;
  /** PascalCase, for classes and schemas (`OrderTotal`). */
  readonly pascal: string;
  /** camelCase, for values (`orderTotal`). */
  readonly camel: string;
  /** CONSTANT_CASE, for environment variables and constants (`ORDER_TOTAL`). */
  readonly constant: string;
}

/** Thrown for a name that cannot be used; the message says why and, when it can, what would work. */
export class InvalidNameError extends Error {
  /** What was being named (`node name`, `domain`, `project name`). */
  readonly subject: string;
  /** The name as given. */
  readonly value: string;

  constructor(subject: string, value: string, reason: string) {
    super(`Invalid ${subject} '${value}': ${reason}`);
    this.name = 'InvalidNameError';
    this.subject = subject;
    this.value = value;
  }
}

/** Longest node name: a reducer's state machine is named after its node, and machine names stop at 40. */
export const MAX_NODE_NAME_LENGTH = 40;
/** Longest domain or project name (npm allows 214 for the whole package name). */
export const MAX_SCOPE_NAME_LENGTH = 64;

const KEBAB = /^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/;

/**
 * Words a name may not be: JavaScript reserved words and literals (the name becomes identifiers), and names
 * Windows cannot give a folder.
 */
const RESERVED = new Set([
  // ECMAScript reserved words, strict-mode and contextual ones.
  'await', 'break', 'case', 'catch', 'class', 'const', 'continue', 'debugger', 'default', 'delete', 'do', 'else',
  'enum', 'export', 'extends', 'false', 'finally', 'for', 'function', 'if', 'implements', 'import', 'in',
  'instanceof', 'interface', 'let', 'new', 'null', 'package', 'private', 'protected', 'public', 'return', 'static',
  'super', 'switch', 'this', 'throw', 'true', 'try', 'typeof', 'var', 'void', 'while', 'with', 'yield',
  'arguments', 'eval', 'undefined', 'nan', 'infinity',
  // Windows device names.
  'con', 'prn', 'aux', 'nul', 'com1', 'com2', 'com3', 'com4', 'lpt1', 'lpt2', 'lpt3',
  // npm refuses these as package names.
  'node-modules', 'favicon-ico',
]);

/** The nearest kebab-case spelling of `value`, for "did you mean" hints; empty when there is none. */
export function toKebabCase(value: string): string {
  return value
    .trim()
    .replace(/([a-z0-9])([A-Z])/g, '$1-$2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1-$2')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^[-0-9]+|-+$/g, '');
}

/**
 * Checks a kebab-case name and says precisely what is wrong with a bad one.
 *
 * @throws InvalidNameError when the name is empty, a path, not kebab-case, starts with a digit, is too long or is
 * reserved.
 */
export function validateKebabName(subject: string, value: string, maxLength: number): string {
  if (value.trim() === '') throw new InvalidNameError(subject, value, 'it is empty; give a kebab-case name such as `order-total`');
  if (/[/\\]/.test(value) || value === '.' || value === '..' || value.includes('..')) {
    throw new InvalidNameError(subject, value, 'it must be a plain name, not a path');
  }
  if (/^[0-9]/.test(value)) throw new InvalidNameError(subject, value, 'it must start with a letter');
  if (/[A-Z]/.test(value)) throw new InvalidNameError(subject, value, `it must be lowercase kebab-case${hint(value)}`);
  if (!KEBAB.test(value)) {
    throw new InvalidNameError(subject, value, `it must be kebab-case: lowercase letters and digits in words joined by single hyphens${hint(value)}`);
  }
  if (value.length > maxLength) throw new InvalidNameError(subject, value, `it is ${value.length} characters long; the limit is ${maxLength}`);
  if (RESERVED.has(value)) {
    throw new InvalidNameError(subject, value, 'it is a reserved word; pick a name that says what the node does, e.g. `order-total`');
  }
  return value;
}

function hint(value: string): string {
  const suggestion = toKebabCase(value);
  return suggestion !== '' && suggestion !== value && KEBAB.test(suggestion) ? ` (did you mean '${suggestion}'?)` : '';
}

/**
 * Validates a node name and derives the file, class, value and constant names from it.
 *
 * @throws InvalidNameError for a bad name.
 * @example
 * ```ts
 * nodeNames('price-quote').pascal; // 'PriceQuote'
 * try {
 *   nodeNames('../x');
 * } catch (error) {
 *   console.log(String(error)); // InvalidNameError: Invalid node name '../x': it must be a plain name, not a path
 * }
 * ```
 */
export function nodeNames(name: string): NodeNames {
  const kebab = validateKebabName('node name', name, MAX_NODE_NAME_LENGTH);
  const words = kebab.split('-');
  const pascal = words.map((word) => word.charAt(0).toUpperCase() + word.slice(1)).join('');
  return {
    kebab,
    pascal,
    camel: pascal.charAt(0).toLowerCase() + pascal.slice(1),
    constant: words.map((word) => word.toUpperCase()).join('_'),
  };
}

/**
 * Validates a domain (the npm scope of a project's package and the `owner` of its nodes' manifests).
 *
 * @throws InvalidNameError for a bad domain.
 */
export function validateDomain(domain: string): string {
  return validateKebabName('domain', domain, MAX_SCOPE_NAME_LENGTH);
}

/**
 * Validates a project name (the last segment of its folder, which becomes its package name).
 *
 * @throws InvalidNameError for a bad project name.
 */
export function validateProjectName(name: string): string {
  return validateKebabName('project name', name, MAX_SCOPE_NAME_LENGTH);
}
