import { describe, expect, it } from 'vitest';
import { diffStats, highlightYaml, parseUnifiedDiff, sideBySide } from './diff';

// The shape the core renders (similar's unified diff with live/after-sync headers).
const UPDATE = `--- live: ConfigMap iris-dev/iris-server-config
+++ after sync: ConfigMap iris-dev/iris-server-config
@@ -1,7 +1,7 @@
 apiVersion: v1
 data:
   BATCH_TIMEOUT_MS: "5"
   INFERENCE_THREADS: "2"
-  LOG_LEVEL: debug
+  LOG_LEVEL: trace
   MAX_BATCH_SIZE: "32"
 kind: ConfigMap
`;

describe('parseUnifiedDiff', () => {
  it('numbers lines on both sides from the hunk header', () => {
    const lines = parseUnifiedDiff(UPDATE);
    expect(lines.map((l) => l.kind)).toEqual([
      'header', 'header', 'hunk', 'context', 'context', 'context', 'context', 'delete', 'add', 'context', 'context',
    ]);
    const deleted = lines.find((l) => l.kind === 'delete');
    const added = lines.find((l) => l.kind === 'add');
    expect(deleted).toEqual({ kind: 'delete', text: '  LOG_LEVEL: debug', oldNo: 5, newNo: null });
    expect(added).toEqual({ kind: 'add', text: '  LOG_LEVEL: trace', oldNo: null, newNo: 5 });
    expect(lines[lines.length - 1]).toMatchObject({ text: 'kind: ConfigMap', oldNo: 7, newNo: 7 });
  });

  it('reads a create (empty old side) and several hunks', () => {
    const create = '--- live: X\n+++ after sync: X\n@@ -0,0 +1,2 @@\n+a: 1\n+b: 2\n';
    expect(parseUnifiedDiff(create).filter((l) => l.kind === 'add').map((l) => l.newNo)).toEqual([1, 2]);
    const twoHunks = '@@ -1,1 +1,1 @@\n-a\n+b\n@@ -10,2 +10,2 @@\n x\n-y\n+z\n';
    const lines = parseUnifiedDiff(twoHunks);
    expect(lines.find((l) => l.text === 'y')?.oldNo).toBe(11);
    expect(lines.find((l) => l.text === 'z')?.newNo).toBe(11);
  });

  it('gives nothing for an empty diff and skips no-newline markers', () => {
    expect(parseUnifiedDiff('')).toEqual([]);
    expect(parseUnifiedDiff('@@ -1 +1 @@\n-a\n\\ No newline at end of file\n+b\n').map((l) => l.kind)).toEqual(['hunk', 'delete', 'add']);
  });

  it('counts additions and deletions', () => {
    expect(diffStats(parseUnifiedDiff(UPDATE))).toEqual({ added: 1, deleted: 1 });
  });
});

describe('sideBySide', () => {
  it('pairs a deletion with the addition that replaces it and mirrors context', () => {
    const rows = sideBySide(parseUnifiedDiff(UPDATE));
    expect(rows.some((r) => r.left?.kind === 'header')).toBe(false);
    const changed = rows.find((r) => r.left?.kind === 'delete');
    expect(changed?.left?.text).toBe('  LOG_LEVEL: debug');
    expect(changed?.right?.text).toBe('  LOG_LEVEL: trace');
    const context = rows.find((r) => r.left?.text === 'apiVersion: v1');
    expect(context?.right).toBe(context?.left);
  });

  it('leaves the other side empty when runs differ in length', () => {
    const rows = sideBySide(parseUnifiedDiff('@@ -1,2 +1,1 @@\n-a\n-b\n+c\n'));
    expect(rows.slice(1).map((r) => [r.left?.text ?? null, r.right?.text ?? null])).toEqual([
      ['a', 'c'],
      ['b', null],
    ]);
  });

  it('does not pair an addition with a later deletion', () => {
    const rows = sideBySide(parseUnifiedDiff('@@ -1,1 +1,1 @@\n+x\n-y\n'));
    expect(rows.slice(1).map((r) => [r.left?.text ?? null, r.right?.text ?? null])).toEqual([
      [null, 'x'],
      ['y', null],
    ]);
  });
});

describe('highlightYaml', () => {
  const classes = (line: string) => highlightYaml(line).map((t) => [t.cls, t.text]);

  it('colours keys, scalars by type, and comments; tokens rebuild the line', () => {
    expect(classes('  replicas: 3')).toEqual([['plain', '  '], ['key', 'replicas'], ['punct', ':'], ['plain', ' '], ['number', '3']]);
    expect(classes('enabled: true # on')).toEqual([['key', 'enabled'], ['punct', ':'], ['plain', ' '], ['bool', 'true'], ['comment', ' # on']]);
    expect(classes('- name: server')[0]).toEqual(['punct', '- ']);
    expect(classes('  MAX_BATCH_SIZE: "32"').at(-1)).toEqual(['string', '"32"']);
    for (const line of ['  - "a: b"', 'image: ghcr.io/acme/x:1.0', 'x: ~', '  key:', '# only a comment', 'url: http://a#b']) {
      expect(highlightYaml(line).map((t) => t.text).join('')).toBe(line);
    }
  });

  it('keeps colons inside values and quoted strings intact', () => {
    expect(classes('image: ghcr.io/acme/x:1.0').at(-1)).toEqual(['string', 'ghcr.io/acme/x:1.0']);
    expect(classes('  - "a: b"')).toEqual([['punct', '  - '], ['string', '"a: b"']]);
  });
});
