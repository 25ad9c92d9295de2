/**
 * Callback data is `prefix:arg:arg`, at most 64 bytes (Telegram's limit). It is only a hint of
 * what was tapped: every handler re-checks the member, their state and ownership on the server.
 */
export function callbackData(...parts: (string | number)[]): string {
  const data = parts.join(':');
  if (Buffer.byteLength(data, 'utf8') > 64) throw new Error(`callback data over 64 bytes: ${data}`);
  return data;
}
