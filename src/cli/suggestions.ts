/** Edit distance (Levenshtein) between two short strings. */
function distance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i += 1) {
    const current = [i];
    for (let j = 1; j <= b.length; j += 1) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}

/** The known word nearest to a mistyped one, when it is near enough to be what was meant. */
export function closest(typed: string, known: readonly string[]): string | undefined {
  let best: { word: string; score: number } | undefined;
  for (const word of known) {
    const score = distance(typed.toLowerCase(), word.toLowerCase());
    if (!best || score < best.score) best = { word, score };
  }
  // At most a third of the word wrong (and never more than 3 edits).
  return best && best.score <= Math.min(3, Math.max(1, Math.floor(best.word.length / 3))) ? best.word : undefined;
}
