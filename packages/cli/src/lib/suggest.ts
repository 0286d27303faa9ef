/** What a mistyped command line was probably meant to be: from the commands and topics there are. */

/** Edits (insert, delete, substitute, swap two neighbours) between two words. */
export function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}

/** Close enough to be a typo of `b`: a third of its letters, at least one and at most three; or a prefix of it. */
const near = (typed: string, word: string) =>
  (typed.length >= 2 && word.startsWith(typed)) || editDistance(typed, word) <= Math.min(3, Math.max(1, Math.floor(word.length / 3)));

/**
 * The commands (as `experiment list`) that `words` most likely meant, best first: each word
 * compared with the same place of every command and topic. Empty when nothing is close.
 */
export function suggestCommands(words: string[], commandIds: Iterable<string>): string[] {
  const ids = [...commandIds].filter((id) => id !== 'help');
  const scored: Array<{ id: string; score: number }> = [];
  for (const id of ids) {
    const parts = id.split(':');
    // Only as many words as the command has: the rest may be its arguments.
    const typed = words.slice(0, parts.length);
    if (typed.length === 0) continue;
    let score = 0;
    let ok = true;
    for (let i = 0; i < typed.length; i++) {
      if (typed[i] === parts[i]) continue;
      if (!near(typed[i]!, parts[i]!)) {
        ok = false;
        break;
      }
      score += editDistance(typed[i]!, parts[i]!);
    }
    // Fewer words than the command: a topic was meant; the command is still a fair suggestion.
    if (ok) scored.push({ id, score: score + (parts.length - typed.length) });
  }
  scored.sort((a, b) => a.score - b.score || a.id.localeCompare(b.id));
  const best = scored[0]?.score;
  return scored.filter((s) => s.score === best).map((s) => s.id.replaceAll(':', ' '));
}

/** The topics (`experiment`, `agent token`) that a word meant, for `yard experment`. */
export function suggestTopics(words: string[], topics: Iterable<string>): string[] {
  const typed = words.join(':');
  const close = [...topics].filter((t) => t.split(':').length === words.length && t.split(':').every((part, i) => part === words[i] || near(words[i]!, part)));
  return close.sort((a, b) => editDistance(typed, a) - editDistance(typed, b)).map((t) => t.replaceAll(':', ' '));
}
