// Escaping and number formatting for the HTML report. Every string that comes from a results file
// goes through `escapeHtml` (text and attributes) or `jsonForScript` (data embedded in a <script>).

const HTML_ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => HTML_ESCAPES[ch]!);
}

/**
 * JSON that is safe inside <script type="application/json">: no `<` (so no `</script>` or `<!--`),
 * and no U+2028/U+2029, which older parsers treat as line breaks. JSON.parse restores the characters.
 */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

/** A fraction as a percentage: 0.9556 → "95.6%" (digits after the point). */
export function percent(fraction: number, digits = 1): string {
  return `${(fraction * 100).toFixed(digits)}%`;
}

export function fixed(value: number, digits = 2): string {
  return value.toFixed(digits);
}

/** p-values: three decimals, tiny ones as "< 0.001" so they do not read as zero. */
export function pValue(p: number): string {
  return p < 0.001 ? '< 0.001' : p.toFixed(3);
}

/** Percentage points with an explicit sign: 0.067 → "+6.7 pts". */
export function points(difference: number): string {
  const value = difference * 100;
  const sign = value > 0.05 ? '+' : value < -0.05 ? '−' : '±';
  return `${sign}${Math.abs(value).toFixed(1)} pts`;
}

/** Durations: 412 → "6 min 52 s", 9.5 → "9.5 s". */
export function duration(seconds: number): string {
  if (seconds < 60) return `${Number(seconds.toFixed(1))} s`;
  const whole = Math.round(seconds);
  return `${Math.floor(whole / 60)} min ${whole % 60} s`;
}

export function integer(value: number): string {
  return Math.round(value).toLocaleString('en-US');
}
