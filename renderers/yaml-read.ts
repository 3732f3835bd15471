import { isAlias, isMap, isScalar, LineCounter, parseAllDocuments, visit, type Document } from 'yaml';

/**
 * Reads YAML the user wrote (values files, manifests for `validate`) and says what is wrong in
 * meshwasm's words, each problem with its line and column:
 * - syntax errors from the parser, without its "at line …, column N:" tail and code snippet;
 * - duplicate keys, checked here in one pass with a Set (the parser's own uniqueKeys check
 *   compares every key with every earlier one: 40k keys took 7–11 s);
 * - aliases (*a) and merge keys (<<), which meshwasm refuses: an alias bomb expands a small file
 *   into gigabytes, and kubectl's go-yaml and the yaml package merge differently;
 * - for a values file, more than one document.
 */

export interface YamlFinding {
  line: number;
  column: number;
  message: string;
}

export interface YamlDocuments {
  /** The documents' data (null for an empty document) with the line each starts on. */
  documents: { value: unknown; line: number }[];
  findings: YamlFinding[];
}

const PARSE_OPTIONS = { strict: true, uniqueKeys: false, prettyErrors: false, merge: false } as const;

/** A short, printable form of a key for messages (keys can be long or hold control characters). */
function keyText(key: string): string {
  const shown = JSON.stringify(key.length > 60 ? `${key.slice(0, 60)}…` : key);
  return shown;
}

function parserMessage(code: string, message: string): string {
  switch (code) {
    case 'MULTIPLE_DOCS':
      return 'more than one YAML document; this file must hold one';
    case 'TAB_AS_INDENT':
      return 'a tab is used for indentation; YAML indents with spaces';
    default:
      return message.replace(/\.$/, '');
  }
}

function checkNodes(document: Document, counter: LineCounter, findings: YamlFinding[]): void {
  const at = (offset: number | undefined) => counter.linePos(offset ?? 0);
  visit(document, {
    Alias(_key, node) {
      const { line, col } = at(node.range?.[0]);
      findings.push({
        line,
        column: col,
        message: `alias *${node.source} is not supported; write the value out in full`,
      });
    },
    Map(_key, map) {
      const seen = new Map<string, number>();
      for (const pair of map.items) {
        const keyNode = pair.key;
        const offset =
          isScalar(keyNode) || isAlias(keyNode) || isMap(keyNode) ? keyNode.range?.[0] : undefined;
        const { line, col } = at(offset);
        if (isScalar(keyNode) && keyNode.value === '<<' && keyNode.type === 'PLAIN') {
          findings.push({ line, column: col, message: 'merge key << is not supported; write the keys out' });
          continue;
        }
        const key = isScalar(keyNode) ? String(keyNode.value) : String(keyNode);
        const first = seen.get(key);
        if (first === undefined) seen.set(key, line);
        else
          findings.push({
            line,
            column: col,
            message: `key ${keyText(key)} appears twice (first on line ${first}); keep one`,
          });
      }
    },
  });
}

/** Parses `text` (YAML 1.2, or `version`); `single`: a values file, so one document only. */
export function readYaml(
  text: string,
  options: { single?: boolean; version?: '1.1' | '1.2' } = {},
): YamlDocuments {
  const counter = new LineCounter();
  const parsed = parseAllDocuments(text, {
    ...PARSE_OPTIONS,
    lineCounter: counter,
    ...(options.version ? { version: options.version } : {}),
  });
  // parseAllDocuments returns an EmptyStream (an array with no documents) for empty text.
  const documents = Array.isArray(parsed) ? parsed : [parsed];
  const findings: YamlFinding[] = [];
  for (const document of documents) {
    for (const error of [...document.errors, ...document.warnings]) {
      const { line, col } = counter.linePos(error.pos[0]);
      findings.push({ line, column: col, message: parserMessage(error.code, error.message) });
    }
  }
  if (options.single && documents.length > 1) {
    const { line, col } = counter.linePos(documents[1].range[0]);
    findings.push({
      line,
      column: col,
      message: `a second YAML document starts here; a values file is one mapping (drop the ---)`,
    });
  }
  if (findings.length === 0) for (const document of documents) checkNodes(document, counter, findings);
  findings.sort((a, b) => a.line - b.line || a.column - b.column);
  if (findings.length > 0) return { documents: [], findings };
  return {
    documents: documents.map((document) => ({
      value: document.toJS({ maxAliasCount: 0 }) as unknown,
      line: counter.linePos(document.contents?.range[0] ?? document.range[0]).line,
    })),
    findings,
  };
}
