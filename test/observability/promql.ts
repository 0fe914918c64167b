/**
 * The parts of an alert expression that must find data for the alert to be able to fire: its
 * operands around top-level comparisons and set operators (`a > 60 and b > 0` → `a`, `b`), so a
 * test can check each selects series on a real Prometheus, even while the alert is not firing.
 * Enough PromQL for Kitsune's rules; not a parser.
 */
const splitters = /^(?:>=|<=|==|!=|>|<|\band\b|\bor\b|\bunless\b)/;

export function alertOperands(expr: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let quote: string | undefined;
  let start = 0;
  for (let i = 0; i < expr.length; i++) {
    const c = expr[i]!;
    if (quote) {
      if (c === '\\') i++;
      else if (c === quote) quote = undefined;
      continue;
    }
    if (c === '"' || c === "'") quote = c;
    else if ('([{'.includes(c)) depth++;
    else if (')]}'.includes(c)) depth--;
    else if (depth === 0) {
      const match = splitters.exec(expr.slice(i));
      const wordBoundary = !/[a-z_:]/i.test(expr[i - 1] ?? ' ');
      if (match && (!/^[a-z]/.test(match[0]) || wordBoundary)) {
        parts.push(expr.slice(start, i));
        i += match[0].length - 1;
        start = i + 1;
      }
    }
  }
  parts.push(expr.slice(start));
  return parts
    .map((part) => part.trim().replace(/^(?:on|ignoring)\s*\([^)]*\)\s*/, ''))
    .filter((part) => part !== '' && !/^-?[0-9.]+$/.test(part));
}
