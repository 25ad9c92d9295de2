// Parses parse_mode text into plain text + entities like Telegram does, so that
// formatting bugs (unescaped "<" in HTML, unescaped "." in MarkdownV2, …) fail
// in tests the way they fail in production.

export interface TextEntity {
  type: string;
  offset: number;
  length: number;
  url?: string;
  language?: string;
  custom_emoji_id?: string;
  user?: { id: number; is_bot: boolean; first_name: string };
  unix_time?: number;
  date_time_format?: string;
}

export interface Formatted {
  text: string;
  entities: TextEntity[];
}

export class ParseEntitiesError extends Error {}

function byteOffset(src: string, index: number): number {
  return Buffer.byteLength(src.slice(0, index), 'utf8');
}

function finish(text: string, entities: TextEntity[]): Formatted {
  const kept = entities.filter((e) => e.length > 0);
  kept.sort((a, b) => a.offset - b.offset || b.length - a.length);
  return { text, entities: kept };
}

function linkEntity(url: string, offset: number, length: number): TextEntity {
  const mention = /^tg:\/\/user\?id=(\d+)$/.exec(url);
  if (mention) {
    return { type: 'text_mention', offset, length, user: { id: Number(mention[1]), is_bot: false, first_name: '' } };
  }
  return { type: 'text_link', offset, length, url };
}

/** Returns plain text and entities, or throws ParseEntitiesError with Telegram's wording. */
export function parseFormatted(text: string, parseMode: string | undefined): Formatted {
  if (parseMode === undefined || parseMode === '') return { text, entities: [] };
  switch (parseMode.toLowerCase()) {
    case 'html':
      return parseHtml(text);
    case 'markdownv2':
      return parseMarkdownV2(text);
    case 'markdown':
      return parseMarkdown(text);
    default:
      throw new ParseEntitiesError(`Unsupported parse_mode "${parseMode}"`);
  }
}

// --- HTML ---------------------------------------------------------------

const HTML_ENTITY_NAMES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"' };

function decodeHtmlEntity(src: string, i: number): { text: string; next: number } | undefined {
  const m = /^&(#[0-9]{1,7}|#x[0-9a-f]{1,6}|[a-z]+);/i.exec(src.slice(i, i + 12));
  if (!m?.[1]) return undefined;
  const body = m[1];
  let ch: string | undefined;
  if (body.startsWith('#x') || body.startsWith('#X')) ch = String.fromCodePoint(Number.parseInt(body.slice(2), 16));
  else if (body.startsWith('#')) ch = String.fromCodePoint(Number.parseInt(body.slice(1), 10));
  else ch = HTML_ENTITY_NAMES[body.toLowerCase()];
  return ch === undefined ? undefined : { text: ch, next: i + m[0].length };
}

function decodeHtmlText(value: string): string {
  let out = '';
  for (let i = 0; i < value.length; ) {
    const d = value[i] === '&' ? decodeHtmlEntity(value, i) : undefined;
    if (d) {
      out += d.text;
      i = d.next;
    } else {
      out += value[i];
      i++;
    }
  }
  return out;
}

const HTML_TAGS = new Set([
  'b',
  'strong',
  'i',
  'em',
  'u',
  'ins',
  's',
  'strike',
  'del',
  'span',
  'tg-spoiler',
  'a',
  'code',
  'pre',
  'blockquote',
  'tg-emoji',
  'tg-time',
]);

interface OpenTag {
  tag: string;
  start: number;
  attrs: Record<string, string>;
}

function htmlEntity(open: OpenTag, end: number, parent: OpenTag | undefined, entities: TextEntity[]): void {
  const offset = open.start;
  const length = end - open.start;
  const { attrs } = open;
  switch (open.tag) {
    case 'b':
    case 'strong':
      entities.push({ type: 'bold', offset, length });
      return;
    case 'i':
    case 'em':
      entities.push({ type: 'italic', offset, length });
      return;
    case 'u':
    case 'ins':
      entities.push({ type: 'underline', offset, length });
      return;
    case 's':
    case 'strike':
    case 'del':
      entities.push({ type: 'strikethrough', offset, length });
      return;
    case 'span':
    case 'tg-spoiler':
      entities.push({ type: 'spoiler', offset, length });
      return;
    case 'a':
      if (attrs.href) entities.push(linkEntity(attrs.href, offset, length));
      return;
    case 'code': {
      const lang = /^language-(.+)$/.exec(attrs.class ?? '')?.[1];
      // <pre><code class="language-x"> sets the language of the surrounding pre instead.
      if (parent?.tag === 'pre' && lang) {
        parent.attrs['data-language'] = lang;
        return;
      }
      entities.push({ type: 'code', offset, length });
      return;
    }
    case 'pre': {
      const language = attrs['data-language'];
      entities.push(language ? { type: 'pre', offset, length, language } : { type: 'pre', offset, length });
      return;
    }
    case 'blockquote':
      entities.push({ type: 'expandable' in attrs ? 'expandable_blockquote' : 'blockquote', offset, length });
      return;
    case 'tg-emoji':
      entities.push({ type: 'custom_emoji', offset, length, custom_emoji_id: attrs['emoji-id'] ?? '' });
      return;
    case 'tg-time':
      entities.push({ type: 'date_time', offset, length, unix_time: Number(attrs.unix ?? 0) });
      return;
  }
}

function parseHtml(src: string): Formatted {
  let out = '';
  const entities: TextEntity[] = [];
  const stack: OpenTag[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i];
    if (c === '&') {
      const d = decodeHtmlEntity(src, i);
      if (d) {
        out += d.text;
        i = d.next;
      } else {
        out += c;
        i++;
      }
      continue;
    }
    if (c !== '<') {
      out += c;
      i++;
      continue;
    }
    const at = byteOffset(src, i);
    if (src[i + 1] === '/') {
      const m = /^<\/([a-zA-Z0-9-]*)\s*>/.exec(src.slice(i));
      if (!m) throw new ParseEntitiesError(`Unclosed end tag at byte offset ${at}`);
      const name = (m[1] ?? '').toLowerCase();
      const top = stack.pop();
      if (!top) throw new ParseEntitiesError(`Unexpected end tag at byte offset ${at}`);
      if (name !== top.tag) {
        throw new ParseEntitiesError(`Unmatched end tag at byte offset ${at}, expected "</${top.tag}>", found "</${name}>"`);
      }
      htmlEntity(top, out.length, stack[stack.length - 1], entities);
      i += m[0].length;
      continue;
    }
    const nameMatch = /^<([a-zA-Z0-9-]*)/.exec(src.slice(i));
    const name = (nameMatch?.[1] ?? '').toLowerCase();
    if (!HTML_TAGS.has(name)) {
      throw new ParseEntitiesError(`Unsupported start tag "${name}" at byte offset ${at}`);
    }
    let j = i + 1 + name.length;
    const attrs: Record<string, string> = {};
    for (;;) {
      while (j < src.length && /\s/.test(src[j] ?? '')) j++;
      if (j >= src.length) throw new ParseEntitiesError(`Unclosed start tag at byte offset ${at}`);
      if (src[j] === '>') {
        j++;
        break;
      }
      const attr = /^([a-zA-Z0-9_-]+)(?:\s*=\s*("[^"]*"|'[^']*'|[^\s>"']+))?/.exec(src.slice(j));
      if (!attr?.[1]) throw new ParseEntitiesError(`Expected end of tag at byte offset ${at}`);
      let value = attr[2] ?? '';
      if (value.startsWith('"') || value.startsWith("'")) value = value.slice(1, -1);
      attrs[attr[1].toLowerCase()] = decodeHtmlText(value);
      j += attr[0].length;
    }
    if (name === 'span' && attrs.class !== 'tg-spoiler') {
      throw new ParseEntitiesError(`Tag "span" must have class "tg-spoiler" at byte offset ${at}`);
    }
    stack.push({ tag: name, start: out.length, attrs });
    i = j;
  }
  const open = stack.pop();
  if (open) {
    throw new ParseEntitiesError(`Can't find end tag corresponding to start tag "${open.tag}"`);
  }
  return finish(out, entities);
}

// --- MarkdownV2 ---------------------------------------------------------

const MDV2_RESERVED = new Set('_*[]()~`>#+-=|{}.!'.split(''));
const MDV2_NAMES: Record<string, string> = {
  bold: 'Bold',
  italic: 'Italic',
  underline: 'Underline',
  strikethrough: 'Strikethrough',
  spoiler: 'Spoiler',
  code: 'Code',
  pre: 'Pre',
  link: 'TextUrl',
  emoji: 'CustomEmoji',
};

interface OpenMd {
  type: string;
  start: number;
  at: number;
  language?: string;
}

function parseMarkdownV2(src: string): Formatted {
  let out = '';
  const entities: TextEntity[] = [];
  const stack: OpenMd[] = [];
  let quote: { start: number; expandable: boolean } | undefined;
  let lineStart = true;
  let i = 0;
  const closeQuote = (): void => {
    if (!quote) return;
    const end = out.endsWith('\n') ? out.length - 1 : out.length;
    entities.push({
      type: quote.expandable ? 'expandable_blockquote' : 'blockquote',
      offset: quote.start,
      length: end - quote.start,
    });
    quote = undefined;
  };
  const toggle = (type: string, width: number): void => {
    const top = stack[stack.length - 1];
    if (top?.type === type) {
      stack.pop();
      entities.push({ type, offset: top.start, length: out.length - top.start });
    } else {
      stack.push({ type, start: out.length, at: byteOffset(src, i) });
    }
    i += width;
  };
  while (i < src.length) {
    const c = src[i] ?? '';
    const top = stack[stack.length - 1];
    if (top && (top.type === 'code' || top.type === 'pre')) {
      if (c === '\\' && i + 1 < src.length) {
        i++;
        const ch = String.fromCodePoint(src.codePointAt(i) ?? 0);
        out += ch;
        i += ch.length;
        continue;
      }
      if (top.type === 'pre' && src.startsWith('```', i)) {
        stack.pop();
        entities.push(
          top.language
            ? { type: 'pre', offset: top.start, length: out.length - top.start, language: top.language }
            : { type: 'pre', offset: top.start, length: out.length - top.start },
        );
        i += 3;
      } else if (top.type === 'code' && c === '`') {
        stack.pop();
        entities.push({ type: 'code', offset: top.start, length: out.length - top.start });
        i++;
      } else {
        out += c;
        i++;
      }
      continue;
    }
    if (lineStart) {
      lineStart = false;
      const expandable = src.startsWith('**>', i);
      if (expandable || c === '>') {
        if (!quote) quote = { start: out.length, expandable };
        else if (expandable) quote.expandable = true;
        i += expandable ? 3 : 1;
        continue;
      }
      closeQuote();
    }
    if (c === '\\' && i + 1 < src.length) {
      const ch = String.fromCodePoint(src.codePointAt(i + 1) ?? 0);
      out += ch;
      i += 1 + ch.length;
      continue;
    }
    if (c === '\n') {
      out += c;
      i++;
      lineStart = true;
      continue;
    }
    switch (c) {
      case '*':
        toggle('bold', 1);
        continue;
      case '_':
        if (src[i + 1] === '_') toggle('underline', 2);
        else toggle('italic', 1);
        continue;
      case '~':
        toggle('strikethrough', 1);
        continue;
      case '|':
        if (src[i + 1] === '|') {
          // "||" at the end of an expandable quote line closes the quote, not a spoiler.
          const atLineEnd = i + 2 >= src.length || src[i + 2] === '\n';
          if (quote?.expandable && atLineEnd && top?.type !== 'spoiler') {
            i += 2;
            continue;
          }
          toggle('spoiler', 2);
          continue;
        }
        break;
      case '`':
        if (src.startsWith('```', i)) {
          const at = byteOffset(src, i);
          i += 3;
          const nl = src.indexOf('\n', i);
          let language: string | undefined;
          if (nl >= 0) {
            const first = src.slice(i, nl);
            if (first.length > 0 && !/\s/.test(first) && !first.includes('`')) {
              language = first;
              i = nl + 1;
            }
          }
          stack.push(language ? { type: 'pre', start: out.length, at, language } : { type: 'pre', start: out.length, at });
        } else {
          stack.push({ type: 'code', start: out.length, at: byteOffset(src, i) });
          i++;
        }
        continue;
      case '[':
        stack.push({ type: 'link', start: out.length, at: byteOffset(src, i) });
        i++;
        continue;
      case '!':
        if (src[i + 1] === '[') {
          stack.push({ type: 'emoji', start: out.length, at: byteOffset(src, i) });
          i += 2;
          continue;
        }
        break;
      case ']':
        if (top?.type === 'link' || top?.type === 'emoji') {
          if (src[i + 1] !== '(') {
            throw new ParseEntitiesError(`Can't find end of a URL at byte offset ${byteOffset(src, i)}`);
          }
          let j = i + 2;
          let url = '';
          while (j < src.length && src[j] !== ')') {
            if (src[j] === '\\' && j + 1 < src.length) j++;
            url += src[j];
            j++;
          }
          if (j >= src.length) {
            throw new ParseEntitiesError(`Can't find end of a URL at byte offset ${byteOffset(src, i)}`);
          }
          stack.pop();
          const length = out.length - top.start;
          if (top.type === 'emoji') {
            const id = /^tg:\/\/emoji\?id=(\d+)$/.exec(url)?.[1] ?? '';
            entities.push({ type: 'custom_emoji', offset: top.start, length, custom_emoji_id: id });
          } else {
            entities.push(linkEntity(url, top.start, length));
          }
          i = j + 1;
          continue;
        }
        break;
    }
    if (MDV2_RESERVED.has(c)) {
      throw new ParseEntitiesError(`Character '${c}' is reserved and must be escaped with the preceding '\\'`);
    }
    out += c;
    i++;
  }
  const open = stack.pop();
  if (open) {
    throw new ParseEntitiesError(`Can't find end of ${MDV2_NAMES[open.type] ?? open.type} entity at byte offset ${open.at}`);
  }
  closeQuote();
  return finish(out, entities);
}

// --- Markdown (legacy) --------------------------------------------------

function parseMarkdown(src: string): Formatted {
  let out = '';
  const entities: TextEntity[] = [];
  let i = 0;
  const unclosed = (at: number): ParseEntitiesError => new ParseEntitiesError(`Can't find end of the entity starting at byte offset ${byteOffset(src, at)}`);
  while (i < src.length) {
    const c = src[i] ?? '';
    if (c === '\\' && '_*`['.includes(src[i + 1] ?? ' ')) {
      out += src[i + 1];
      i += 2;
      continue;
    }
    if (c === '*' || c === '_') {
      const end = src.indexOf(c, i + 1);
      if (end < 0) throw unclosed(i);
      const start = out.length;
      out += src.slice(i + 1, end);
      entities.push({ type: c === '*' ? 'bold' : 'italic', offset: start, length: out.length - start });
      i = end + 1;
      continue;
    }
    if (c === '`') {
      const fence = src.startsWith('```', i);
      const marker = fence ? '```' : '`';
      const end = src.indexOf(marker, i + marker.length);
      if (end < 0) throw unclosed(i);
      let body = src.slice(i + marker.length, end);
      let language: string | undefined;
      if (fence) {
        const nl = body.indexOf('\n');
        const first = nl >= 0 ? body.slice(0, nl) : '';
        if (first && !/\s/.test(first)) {
          language = first;
          body = body.slice(nl + 1);
        }
      }
      const start = out.length;
      out += body;
      const type = fence ? 'pre' : 'code';
      entities.push(language ? { type, offset: start, length: body.length, language } : { type, offset: start, length: body.length });
      i = end + marker.length;
      continue;
    }
    if (c === '[') {
      const m = /^\[([^\]]*)\]\(([^)]*)\)/.exec(src.slice(i));
      if (!m) throw unclosed(i);
      const start = out.length;
      out += m[1] ?? '';
      entities.push(linkEntity(m[2] ?? '', start, out.length - start));
      i += m[0].length;
      continue;
    }
    out += c;
    i++;
  }
  return finish(out, entities);
}
