// Unified diffs (as the core renders them with `similar`) parsed for display: numbered lines,
// side-by-side rows, and YAML tokens for colouring. Pure functions; the DiffView renders them.

export type LineKind = 'header' | 'hunk' | 'context' | 'add' | 'delete';

export interface DiffLine {
  kind: LineKind;
  /** The line without its diff marker. */
  text: string;
  /** 1-based line numbers on each side (null where the line does not exist). */
  oldNo: number | null;
  newNo: number | null;
}

const HUNK = /^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@/;

/** Parses a unified diff into numbered lines. Unknown lines are kept as context. */
export function parseUnifiedDiff(diff: string): DiffLine[] {
  const lines: DiffLine[] = [];
  let oldNo = 0;
  let newNo = 0;
  const raw = diff.split('\n');
  if (raw.length > 0 && raw[raw.length - 1] === '') raw.pop();
  for (const line of raw) {
    if (line.startsWith('--- ') || line.startsWith('+++ ')) {
      lines.push({ kind: 'header', text: line, oldNo: null, newNo: null });
      continue;
    }
    const hunk = HUNK.exec(line);
    if (hunk) {
      oldNo = Number(hunk[1]);
      newNo = Number(hunk[3]);
      lines.push({ kind: 'hunk', text: line, oldNo: null, newNo: null });
      continue;
    }
    if (line.startsWith('\\')) continue; // "\ No newline at end of file"
    const marker = line[0];
    const text = line.slice(1);
    if (marker === '+') {
      lines.push({ kind: 'add', text, oldNo: null, newNo: newNo++ });
    } else if (marker === '-') {
      lines.push({ kind: 'delete', text, oldNo: oldNo++, newNo: null });
    } else {
      lines.push({ kind: 'context', text: marker === ' ' ? text : line, oldNo: oldNo++, newNo: newNo++ });
    }
  }
  return lines;
}

export interface SideBySideRow {
  left: DiffLine | null;
  right: DiffLine | null;
}

/** Pairs each run of deletions with the additions that follow it, row by row. */
export function sideBySide(lines: DiffLine[]): SideBySideRow[] {
  const rows: SideBySideRow[] = [];
  let deletes: DiffLine[] = [];
  let adds: DiffLine[] = [];
  const flush = () => {
    const n = Math.max(deletes.length, adds.length);
    for (let i = 0; i < n; i++) rows.push({ left: deletes[i] ?? null, right: adds[i] ?? null });
    deletes = [];
    adds = [];
  };
  for (const line of lines) {
    if (line.kind === 'delete') {
      if (adds.length > 0) flush();
      deletes.push(line);
    } else if (line.kind === 'add') {
      adds.push(line);
    } else {
      flush();
      if (line.kind === 'header') continue;
      rows.push({ left: line, right: line });
    }
  }
  flush();
  return rows;
}

export interface DiffStats {
  added: number;
  deleted: number;
}

export function diffStats(lines: DiffLine[]): DiffStats {
  return {
    added: lines.filter((l) => l.kind === 'add').length,
    deleted: lines.filter((l) => l.kind === 'delete').length,
  };
}

export type TokenClass = 'key' | 'string' | 'number' | 'bool' | 'null' | 'comment' | 'punct' | 'plain';

export interface Token {
  cls: TokenClass;
  text: string;
}

const KEY = /^(\s*(?:- )*)((?!- )[^\s#'"][^:#'"]*?|"[^"]*"|'[^']*')(:)(\s|$)/;

/** Splits one YAML line into coloured tokens; the texts concatenate back to the line. */
export function highlightYaml(line: string): Token[] {
  const tokens: Token[] = [];
  let rest = line;
  const key = KEY.exec(rest);
  if (key) {
    const [, indent = '', name = '', colon = ''] = key;
    if (indent) tokens.push(...splitDashes(indent));
    tokens.push({ cls: 'key', text: name }, { cls: 'punct', text: colon });
    rest = rest.slice(indent.length + name.length + colon.length);
  } else {
    const dash = /^(\s*(?:- )+)/.exec(rest);
    if (dash?.[1]) {
      tokens.push(...splitDashes(dash[1]));
      rest = rest.slice(dash[1].length);
    }
  }
  if (rest) tokens.push(...scalar(rest));
  return tokens;
}

function splitDashes(prefix: string): Token[] {
  return prefix.includes('-') ? [{ cls: 'punct', text: prefix }] : [{ cls: 'plain', text: prefix }];
}

function scalar(text: string): Token[] {
  const lead = /^\s*/.exec(text)?.[0] ?? '';
  let body = text.slice(lead.length);
  let comment = '';
  const hash = body.search(/(^|\s)#/);
  if (hash >= 0 && !/^["']/.test(body)) {
    comment = body.slice(hash);
    body = body.slice(0, hash);
  }
  const tokens: Token[] = [];
  if (lead) tokens.push({ cls: 'plain', text: lead });
  if (body) tokens.push({ cls: classify(body.trim()), text: body });
  if (comment) tokens.push({ cls: 'comment', text: comment });
  return tokens;
}

function classify(value: string): TokenClass {
  if (/^(true|false)$/i.test(value)) return 'bool';
  if (/^(null|~)$/i.test(value)) return 'null';
  if (/^[-+]?(\d[\d_]*)(\.\d+)?([eE][-+]?\d+)?$/.test(value)) return 'number';
  if (/^[[\]{}|>,]+$/.test(value)) return 'punct';
  return 'string';
}
