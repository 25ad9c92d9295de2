// Minimal multipart/form-data parser (node built-ins only). It accepts the
// compact header style grammY writes ("content-disposition:form-data;name=\"x\";filename=y").

export interface UploadedFile {
  filename: string;
  contentType: string;
  data: Buffer;
}

export interface MultipartBody {
  fields: Record<string, string>;
  files: Record<string, UploadedFile>;
}

export class MultipartError extends Error {}

/** Extracts the boundary from a Content-Type header value. */
export function boundaryOf(contentType: string): string | undefined {
  const m = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  return m ? (m[1] ?? m[2]) : undefined;
}

/** Parses `; key=value` pairs of a header such as Content-Disposition. */
function headerParams(value: string): Record<string, string> {
  const out: Record<string, string> = {};
  const re = /;\s*([^=;\s]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)/g;
  for (let m = re.exec(value); m; m = re.exec(value)) {
    const key = (m[1] ?? '').toLowerCase();
    let raw = (m[2] ?? '').trim();
    if (raw.startsWith('"')) raw = raw.slice(1, -1).replace(/\\(.)/g, '$1');
    if (key.endsWith('*')) {
      // RFC 5987: charset''percent-encoded
      const enc = /^[^']*'[^']*'(.*)$/.exec(raw);
      out[key.slice(0, -1)] = decodeURIComponent(enc?.[1] ?? raw);
    } else if (!(key in out)) {
      out[key] = raw;
    }
  }
  return out;
}

export function parseMultipart(body: Buffer, boundary: string): MultipartBody {
  const fields: Record<string, string> = {};
  const files: Record<string, UploadedFile> = {};
  const delimiter = Buffer.from(`--${boundary}`);
  let pos = body.indexOf(delimiter);
  if (pos < 0) throw new MultipartError('multipart boundary not found');
  for (;;) {
    pos += delimiter.length;
    // "--" right after a delimiter marks the end of the body.
    if (body[pos] === 0x2d && body[pos + 1] === 0x2d) break;
    if (body[pos] === 0x0d && body[pos + 1] === 0x0a) pos += 2;
    const headerEnd = body.indexOf('\r\n\r\n', pos);
    if (headerEnd < 0) throw new MultipartError('unterminated part headers');
    const headers: Record<string, string> = {};
    for (const line of body.subarray(pos, headerEnd).toString('utf8').split('\r\n')) {
      const colon = line.indexOf(':');
      if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    const dataStart = headerEnd + 4;
    const next = body.indexOf(Buffer.concat([Buffer.from('\r\n'), delimiter]), dataStart);
    if (next < 0) throw new MultipartError('unterminated part');
    const data = body.subarray(dataStart, next);
    const disposition = headers['content-disposition'] ?? '';
    const params = headerParams(disposition.slice(disposition.indexOf(';')));
    const name = params.name;
    if (name === undefined) throw new MultipartError('part without a name');
    if (params.filename !== undefined) {
      files[name] = {
        filename: params.filename,
        contentType: headers['content-type'] ?? 'application/octet-stream',
        data: Buffer.from(data),
      };
    } else {
      fields[name] = data.toString('utf8');
    }
    pos = next + 2;
  }
  return { fields, files };
}
