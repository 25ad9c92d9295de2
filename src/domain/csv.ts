/**
 * One CSV cell (RFC 4180), for every export: quoted when it holds a separator, a quote or a line
 * break, and never read as a formula by a spreadsheet (text starting with = + - @ or a control
 * character gets a leading apostrophe: exports carry names and texts people typed).
 */
export function csvCell(value: string | number | null): string {
  if (value === null) return '';
  let text = String(value);
  if (typeof value === 'string' && /^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n;]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}
