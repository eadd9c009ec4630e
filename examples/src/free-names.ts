import ts from 'typescript';

/** The names a block of code uses and declares, read from its syntax alone. */
export interface BlockNames {
  /** Identifiers used as values or types (not property names, not declaration names). */
  readonly referenced: ReadonlySet<string>;
  /** Names the block declares anywhere: imports, variables, parameters, functions, classes, types. */
  readonly declared: ReadonlySet<string>;
  /** Whether a top-level statement is `declare`d (`declare const orchestrator: Orchestrator;`): a fragment. */
  readonly ambient: boolean;
}

/** A declaration kind whose `name` is the declared identifier. */
function declares(parent: ts.Node): boolean {
  return (
    ts.isVariableDeclaration(parent) ||
    ts.isParameter(parent) ||
    ts.isBindingElement(parent) ||
    ts.isFunctionDeclaration(parent) ||
    ts.isFunctionExpression(parent) ||
    ts.isClassDeclaration(parent) ||
    ts.isClassExpression(parent) ||
    ts.isInterfaceDeclaration(parent) ||
    ts.isTypeAliasDeclaration(parent) ||
    ts.isEnumDeclaration(parent) ||
    ts.isModuleDeclaration(parent) ||
    ts.isTypeParameterDeclaration(parent) ||
    ts.isImportClause(parent) ||
    ts.isNamespaceImport(parent) ||
    ts.isImportSpecifier(parent) ||
    ts.isImportEqualsDeclaration(parent)
  );
}

/** Whether an identifier refers to something in scope (rather than naming a property, a label or a declaration). */
function isReference(id: ts.Identifier): boolean {
  const parent = id.parent;
  if (ts.isShorthandPropertyAssignment(parent)) return parent.name === id;
  if (ts.isPropertyAccessExpression(parent)) return parent.expression === id;
  if (ts.isQualifiedName(parent)) return parent.left === id;
  if (ts.isImportSpecifier(parent) || ts.isExportSpecifier(parent) || ts.isMetaProperty(parent)) return false;
  if (ts.isLabeledStatement(parent) || ts.isBreakOrContinueStatement(parent)) return false;
  const named = parent as ts.Node & { readonly name?: ts.Node; readonly propertyName?: ts.Node };
  return named.name !== id && named.propertyName !== id;
}

/**
 * The names a block uses and declares. A name declared anywhere in the block (even in an inner scope) counts as
 * declared: the prelude never binds a name the block itself gives a meaning to.
 *
 * @example
 * ```ts
 * const names = blockNames('const served = await serveNode(node); served.url;');
 * // referenced: serveNode, node, served; declared: served
 * ```
 */
export function blockNames(code: string): BlockNames {
  const source = ts.createSourceFile('block.ts', code, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const referenced = new Set<string>();
  const declared = new Set<string>();
  const visit = (node: ts.Node): void => {
    if (ts.isIdentifier(node)) {
      if (declares(node.parent) && (node.parent as ts.Node & { readonly name?: ts.Node }).name === node) declared.add(node.text);
      else if (isReference(node)) referenced.add(node.text);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  const ambient = source.statements.some((s) => ts.canHaveModifiers(s) && (ts.getModifiers(s) ?? []).some((m) => m.kind === ts.SyntaxKind.DeclareKeyword));
  return { referenced, declared, ambient };
}
