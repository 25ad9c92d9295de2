// Loads the official Bot API description (shared/telegram/bot-api.json) and
// checks call parameters against it.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface SpecField {
  name: string;
  types: string[];
  required: boolean;
  description?: string;
}

export interface SpecMethod {
  name: string;
  fields?: SpecField[];
  returns: string[];
}

export interface SpecType {
  name: string;
  fields?: SpecField[];
  subtypes?: string[];
}

export interface BotApiSpec {
  version: string;
  methods: Record<string, SpecMethod>;
  types: Record<string, SpecType>;
}

const SPEC_RELATIVE = 'shared/telegram/bot-api.json';

// The spec lives outside the repo (../shared from the repo root); never copy it in.
function locateSpec(): string {
  const fromEnv = process.env.TELEGRAM_BOT_API_SPEC;
  if (fromEnv) return fromEnv;
  const direct = fileURLToPath(new URL('../../../../shared/telegram/bot-api.json', import.meta.url));
  if (existsSync(direct)) return direct;
  // Fallback for checkouts at a different depth (e.g. git worktrees): walk up.
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, SPEC_RELATIVE);
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  throw new Error(`Bot API spec not found: expected ${direct} (or set TELEGRAM_BOT_API_SPEC)`);
}

let cached: BotApiSpec | undefined;
let methodsByLowerName: Map<string, SpecMethod> | undefined;

export function loadSpec(): BotApiSpec {
  if (!cached) {
    cached = JSON.parse(readFileSync(locateSpec(), 'utf8')) as BotApiSpec;
    methodsByLowerName = new Map(Object.values(cached.methods).map((m) => [m.name.toLowerCase(), m]));
  }
  return cached;
}

// Telegram matches method names case-insensitively.
export function findMethod(name: string): SpecMethod | undefined {
  loadSpec();
  return methodsByLowerName?.get(name.toLowerCase());
}

const PRIMITIVES = new Set(['Integer', 'Float', 'String', 'Boolean', 'True', 'InputFile']);
const ARRAY_PREFIX = 'Array of ';

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'string') return `string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
  if (typeof v === 'number') return `number ${v}`;
  return typeof v;
}

/**
 * Top-level values arrive as strings in query/form bodies (and Telegram also
 * accepts strings in JSON bodies), so convert them according to the declared
 * field types before checking.
 */
export function coerceValue(value: unknown, types: string[]): unknown {
  if (typeof value !== 'string') return value;
  if ((types.includes('Integer') || types.includes('Float')) && /^-?\d+$/.test(value)) {
    const n = Number(value);
    if (Number.isSafeInteger(n)) return n;
  }
  if (types.includes('Float') && /^-?\d*\.?\d+(e[+-]?\d+)?$/i.test(value)) return Number(value);
  if ((types.includes('Boolean') || types.includes('True')) && (value === 'true' || value === 'false')) {
    return value === 'true';
  }
  const structured = types.some((t) => t.startsWith(ARRAY_PREFIX) || !PRIMITIVES.has(t));
  if (structured && /^\s*[[{]/.test(value)) {
    try {
      return JSON.parse(value) as unknown;
    } catch {
      return value;
    }
  }
  return value;
}

interface CheckResult {
  error?: string;
  // How well the value matched the candidate type; used to pick the most helpful union error.
  rank: number;
}

const OK: CheckResult = { rank: Number.POSITIVE_INFINITY };

export class SpecChecker {
  private readonly discriminators = new Map<string, { field: string; value: string } | null>();

  constructor(
    private readonly spec: BotApiSpec,
    private readonly attachments: ReadonlySet<string>,
  ) {}

  /** Returns the first type error for `value` against any of `types`, or undefined if it matches one. */
  check(value: unknown, types: string[], path: string): string | undefined {
    return this.checkUnion(value, types, path).error;
  }

  private checkUnion(value: unknown, types: string[], path: string): CheckResult {
    // "attach://x" is a valid String, but it must name a file that was actually attached.
    if (typeof value === 'string' && value.startsWith('attach://') && types.includes('InputFile')) {
      const name = value.slice('attach://'.length);
      if (!this.attachments.has(name)) {
        return { error: `${path}: ${value} does not reference an attached file`, rank: 1 };
      }
      return OK;
    }
    let best: CheckResult | undefined;
    for (const t of types) {
      const r = this.checkOne(value, t, path);
      if (!r.error) return OK;
      if (!best || r.rank > best.rank) best = r;
    }
    // Rank 0 means "not even the right kind of value": list all accepted types instead.
    if (!best || best.rank === 0) {
      return { error: `${path}: expected ${types.join(' or ')}, got ${describe(value)}`, rank: 0 };
    }
    return best;
  }

  private checkOne(value: unknown, type: string, path: string): CheckResult {
    if (type.startsWith(ARRAY_PREFIX)) {
      if (!Array.isArray(value)) return { error: `${path}: expected ${type}, got ${describe(value)}`, rank: 0 };
      const inner = type.slice(ARRAY_PREFIX.length);
      for (let i = 0; i < value.length; i++) {
        const r = this.checkUnion(value[i], [inner], `${path}[${i}]`);
        if (r.error) return { error: r.error, rank: 1 + r.rank };
      }
      return OK;
    }
    const bad = (): CheckResult => ({ error: `${path}: expected ${type}, got ${describe(value)}`, rank: 0 });
    switch (type) {
      case 'Integer':
        return Number.isInteger(value) ? OK : bad();
      case 'Float':
        return typeof value === 'number' && Number.isFinite(value) ? OK : bad();
      case 'String':
        return typeof value === 'string' ? OK : bad();
      case 'Boolean':
        return typeof value === 'boolean' ? OK : bad();
      case 'True':
        return value === true ? OK : bad();
      case 'InputFile':
        // Plain file parts are turned into "attach://<field>" references by the server.
        return typeof value === 'string' && value.startsWith('attach://') && this.attachments.has(value.slice(9)) ? OK : bad();
    }
    const spec = this.spec.types[type];
    // Unknown type names: do not fail because of a quirk in the spec file.
    if (!spec) return OK;
    if (spec.subtypes && spec.subtypes.length > 0) {
      const r = this.checkUnion(value, spec.subtypes, path);
      if (!r.error) return OK;
      return r.rank === 0 ? bad() : r;
    }
    if (!isPlainObject(value)) return bad();
    if (!spec.fields) return OK;
    const disc = this.discriminator(type);
    if (disc && value[disc.field] !== undefined && value[disc.field] !== disc.value) {
      return { error: `${path}.${disc.field}: expected "${disc.value}" for ${type}`, rank: 1 };
    }
    const known = new Map(spec.fields.map((f) => [f.name, f]));
    for (const key of Object.keys(value)) {
      if (!known.has(key) && value[key] !== undefined && value[key] !== null) {
        return { error: `${path}.${key}: unknown field of ${type}`, rank: 2 };
      }
    }
    for (const f of spec.fields) {
      const v = value[f.name];
      if (v === undefined || v === null) {
        if (f.required) return { error: `${path}.${f.name}: missing required field of ${type}`, rank: 2 };
        continue;
      }
      const r = this.checkUnion(v, f.types, `${path}.${f.name}`);
      if (r.error) return { error: r.error, rank: 3 + Math.min(r.rank, 100) };
    }
    return OK;
  }

  // Subtypes of a union are told apart by a constant field ("must be chat", "always \"member\"").
  private discriminator(type: string): { field: string; value: string } | null {
    const hit = this.discriminators.get(type);
    if (hit !== undefined) return hit;
    let found: { field: string; value: string } | null = null;
    for (const f of this.spec.types[type]?.fields ?? []) {
      if (!['type', 'status', 'source'].includes(f.name)) continue;
      const m = /(?:must be|always)\s+["“]?([a-z_]+)["”]?/.exec(f.description ?? '');
      if (m?.[1]) {
        found = { field: f.name, value: m[1] };
        break;
      }
    }
    this.discriminators.set(type, found);
    return found;
  }
}

/**
 * Validates already coerced parameters of a call against the method description.
 * Returns human-readable problems (empty when the call is valid).
 */
export function validateParams(method: SpecMethod, params: Record<string, unknown>, attachments: ReadonlySet<string>): string[] {
  const spec = loadSpec();
  const problems: string[] = [];
  const fields = new Map((method.fields ?? []).map((f) => [f.name, f]));
  for (const key of Object.keys(params)) {
    if (!fields.has(key)) problems.push(`unknown parameter "${key}"`);
  }
  const checker = new SpecChecker(spec, attachments);
  for (const f of fields.values()) {
    const v = params[f.name];
    if (v === undefined) {
      if (f.required) problems.push(`missing required parameter "${f.name}"`);
      continue;
    }
    const err = checker.check(v, f.types, f.name);
    if (err) problems.push(`wrong type: ${err}`);
  }
  return problems;
}
