/** A value of the YAML subset below: a string, a list, or a map. */
export type YamlValue = string | YamlValue[] | YamlMap;
export interface YamlMap { [key: string]: YamlValue }

interface Line { number: number; indent: number; text: string }

/**
 * Reads the plain block YAML of the repository's own files (compose.yaml):
 * nested maps, `- item` lists of scalars, plain or double-quoted scalars and
 * JSON-style flow lists. Anything else (anchors, multi-line strings, flow
 * maps, trailing comments) throws, so a file that outgrows the subset fails
 * its test loudly instead of being misread. Scalars stay strings.
 */
export function parseYamlSubset(source: string): YamlMap {
  const lines: Line[] = source.split('\n').flatMap((raw, index) => {
    if (/^\s*(#.*)?$/.test(raw)) return [];
    if (raw.includes('\t')) throw new Error(`line ${index + 1}: tab`);
    return [{ number: index + 1, indent: raw.length - raw.trimStart().length, text: raw.trim() }];
  });
  let at = 0;

  function scalar(text: string, line: Line): YamlValue {
    if (text.startsWith('"') || text.startsWith('[')) {
      try { return JSON.parse(text) as YamlValue; } catch { throw new Error(`line ${line.number}: not a JSON-compatible scalar: ${text}`); }
    }
    if (/^['&*!|>{]|\s#/.test(text)) throw new Error(`line ${line.number}: outside the subset: ${text}`);
    return text;
  }

  function block(indent: number): YamlValue {
    const first = lines[at]!;
    if (first.text.startsWith('- ')) {
      const list: YamlValue[] = [];
      while (at < lines.length && lines[at]!.indent === indent && lines[at]!.text.startsWith('- ')) {
        const item = lines[at]!.text.slice(2).trim();
        if (/^[^"[]\S*:(\s|$)/.test(item)) throw new Error(`line ${lines[at]!.number}: a map in a list is outside the subset`);
        list.push(scalar(item, lines[at]!));
        at += 1;
      }
      return list;
    }
    const map: YamlMap = {};
    while (at < lines.length && lines[at]!.indent === indent) {
      const line = lines[at]!;
      const entry = /^([A-Za-z0-9_.-]+):(?:\s+(.+))?$/.exec(line.text);
      if (!entry) throw new Error(`line ${line.number}: expected "key: value": ${line.text}`);
      at += 1;
      const [, key, value] = entry as unknown as [string, string, string | undefined];
      if (key in map) throw new Error(`line ${line.number}: duplicate key ${key}`);
      if (value !== undefined) map[key] = scalar(value, line);
      else if (at < lines.length && lines[at]!.indent > indent) map[key] = block(lines[at]!.indent);
      else map[key] = {};
    }
    if (at < lines.length && lines[at]!.indent > indent) throw new Error(`line ${lines[at]!.number}: unexpected indentation`);
    return map;
  }

  if (lines.length === 0) return {};
  const root = block(0);
  if (at < lines.length) throw new Error(`line ${lines[at]!.number}: unexpected indentation`);
  if (Array.isArray(root) || typeof root === 'string') throw new Error('the document is not a map');
  return root;
}
