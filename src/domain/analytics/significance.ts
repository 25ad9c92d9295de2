/**
 * Significance tests for campaign lift (issue 16): a treated group against a control group (or
 * variant A against B). Pure numerics, no dependencies: two-proportion z-test for rates
 * (conversion, coupon redemption) and Welch's t-test for means (revenue per member).
 * Checked against SciPy in test/unit/significance.test.ts.
 */

/** Two-sided 95 %: the normal quantile of 0.975. */
const Z_975 = 1.959963984540054;
const ALPHA = 0.05;

/**
 * When a test is not run (the numbers would mislead):
 * - rates: fewer than MIN_EXPECTED expected successes or failures in an arm (n · pooled rate),
 *   the usual condition for the normal approximation;
 * - means: fewer than 2 members in an arm (no variance can be estimated).
 */
export const MIN_EXPECTED = 5;
export const MIN_PER_ARM_MEANS = 2;

/** How one metric compares between the groups: `treated - control`. */
export interface Comparison {
  treated: number;
  control: number;
  /** Absolute lift: treated - control (for rates: a fraction, 0.026 = 2.6 percentage points). */
  absolute: number;
  /** Relative lift: absolute / control; null when control is 0. */
  relative: number | null;
  /** 95 % confidence interval of the absolute lift; null when the sample is too small. */
  ciLow: number | null;
  ciHigh: number | null;
  /** Two-sided p-value; null when the sample is too small. */
  pValue: number | null;
  /** p < 0.05. */
  significant: boolean;
  tooSmall: boolean;
}

// ---------------------------------------------------------------------------------------------
// Special functions

const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012,
  9.9843695780195716e-6, 1.5056327351493116e-7,
];

/** ln Γ(x) for x > 0 (Lanczos, g = 7; about 15 significant digits). */
export function logGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - logGamma(1 - x);
  const z = x - 1;
  let sum = LANCZOS[0] as number;
  for (let i = 1; i < 9; i++) sum += (LANCZOS[i] as number) / (z + i);
  const t = z + 7.5;
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(sum);
}

const EPS = 1e-16;
const TINY = 1e-300;
const MAX_ITERATIONS = 100_000;

/** Continued fraction of the incomplete beta function (modified Lentz). */
function betaContinuedFraction(a: number, b: number, x: number): number {
  const qab = a + b;
  const qap = a + 1;
  const qam = a - 1;
  let c = 1;
  let d = 1 - (qab * x) / qap;
  if (Math.abs(d) < TINY) d = TINY;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= MAX_ITERATIONS; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((qam + m2) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < TINY) d = TINY;
    c = 1 + aa / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (qab + m) * x) / ((a + m2) * (qap + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < TINY) d = TINY;
    c = 1 + aa / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < EPS) return h;
  }
  return h;
}

/** The regularized incomplete beta function I_x(a, b), a, b > 0, 0 <= x <= 1. */
export function regularizedBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const front = Math.exp(logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log1p(-x));
  // The continued fraction converges fast below (a + 1) / (a + b + 2); above, by symmetry.
  if (x < (a + 1) / (a + b + 2)) return (front * betaContinuedFraction(a, b, x)) / a;
  return 1 - (front * betaContinuedFraction(b, a, 1 - x)) / b;
}

/** P(|T| >= |t|) for Student's t with `df` degrees of freedom (df may be fractional). */
export function studentTwoSidedP(t: number, df: number): number {
  if (!Number.isFinite(t)) return 0;
  return regularizedBeta(df / (df + t * t), df / 2, 0.5);
}

/** Student's t CDF. */
export function studentCdf(t: number, df: number): number {
  const tail = studentTwoSidedP(t, df) / 2;
  return t >= 0 ? 1 - tail : tail;
}

/** The q-quantile of Student's t (0.5 <= q < 1), by bisection on the CDF: as exact as the CDF. */
export function studentQuantile(q: number, df: number): number {
  if (q === 0.5) return 0;
  let lo = 0;
  let hi = 2;
  while (studentCdf(hi, df) < q) {
    lo = hi;
    hi *= 2;
  }
  for (let i = 0; i < 200 && hi - lo > 1e-14 * hi; i++) {
    const mid = (lo + hi) / 2;
    if (studentCdf(mid, df) < q) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/** P(|Z| >= |z|) for a standard normal: erfc(|z| / sqrt 2) = Q(1/2, z^2 / 2), the regularized upper incomplete gamma. */
export function normalTwoSidedP(z: number): number {
  if (!Number.isFinite(z)) return 0;
  return upperIncompleteGammaRatio(0.5, (z * z) / 2);
}

/** Q(a, x) = Γ(a, x) / Γ(a): series below a + 1, continued fraction above. */
function upperIncompleteGammaRatio(a: number, x: number): number {
  if (x <= 0) return 1;
  const lnFront = -x + a * Math.log(x) - logGamma(a);
  if (x < a + 1) {
    let sum = 1 / a;
    let term = sum;
    for (let n = 1; n <= MAX_ITERATIONS; n++) {
      term *= x / (a + n);
      sum += term;
      if (Math.abs(term) < Math.abs(sum) * EPS) break;
    }
    return 1 - sum * Math.exp(lnFront);
  }
  let b = x + 1 - a;
  let c = 1 / TINY;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i <= MAX_ITERATIONS; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < TINY) d = TINY;
    c = b + an / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < EPS) break;
  }
  return Math.exp(lnFront) * h;
}

// ---------------------------------------------------------------------------------------------
// Tests

export interface Proportion {
  successes: number;
  n: number;
}

const relative = (absolute: number, control: number) => (control === 0 ? null : absolute / control);

/**
 * Two-proportion z-test, treated vs control. The p-value uses the pooled standard error (the null
 * hypothesis: one common rate); the 95 % CI of the difference the unpooled one.
 */
export function twoProportionTest(treated: Proportion, control: Proportion): Comparison {
  const p1 = treated.n > 0 ? treated.successes / treated.n : 0;
  const p2 = control.n > 0 ? control.successes / control.n : 0;
  const absolute = p1 - p2;
  const base = { treated: p1, control: p2, absolute, relative: relative(absolute, p2) };
  if (proportionsTooSmall(treated, control)) return { ...base, ciLow: null, ciHigh: null, pValue: null, significant: false, tooSmall: true };
  const pooled = (treated.successes + control.successes) / (treated.n + control.n);
  const pooledSe = Math.sqrt(pooled * (1 - pooled) * (1 / treated.n + 1 / control.n));
  // Pooled SE 0: every member converted, or none, in both groups: no difference at all.
  const pValue = pooledSe === 0 ? 1 : normalTwoSidedP(absolute / pooledSe);
  const se = Math.sqrt((p1 * (1 - p1)) / treated.n + (p2 * (1 - p2)) / control.n);
  return { ...base, ciLow: absolute - Z_975 * se, ciHigh: absolute + Z_975 * se, pValue, significant: pValue < ALPHA, tooSmall: false };
}

/** Fewer than MIN_EXPECTED expected successes or failures in an arm (at the pooled rate). */
export function proportionsTooSmall(treated: Proportion, control: Proportion): boolean {
  const total = treated.n + control.n;
  if (treated.n === 0 || control.n === 0) return true;
  const pooled = (treated.successes + control.successes) / total;
  return [treated.n, control.n].some((n) => n * pooled < MIN_EXPECTED || n * (1 - pooled) < MIN_EXPECTED);
}

/** A sample by its summary: size, mean and sample variance (n - 1 in the denominator). */
export interface SampleSummary {
  n: number;
  mean: number;
  variance: number;
}

export function summarize(values: readonly number[]): SampleSummary {
  const n = values.length;
  if (n === 0) return { n: 0, mean: 0, variance: 0 };
  const mean = values.reduce((sum, v) => sum + v, 0) / n;
  const variance = n > 1 ? values.reduce((sum, v) => sum + (v - mean) ** 2, 0) / (n - 1) : 0;
  return { n, mean, variance };
}

/**
 * Welch's t-test, treated vs control (unequal variances): Welch–Satterthwaite degrees of freedom,
 * two-sided p from Student's t, 95 % CI of the difference of means with the t quantile. Both
 * variances 0: no spread at all, so equal means give p = 1 and different means p = 0 (SciPy
 * returns NaN for the first).
 */
export function welchTest(treated: SampleSummary, control: SampleSummary): Comparison {
  const absolute = treated.mean - control.mean;
  const base = { treated: treated.mean, control: control.mean, absolute, relative: relative(absolute, control.mean) };
  if (treated.n < MIN_PER_ARM_MEANS || control.n < MIN_PER_ARM_MEANS)
    return { ...base, ciLow: null, ciHigh: null, pValue: null, significant: false, tooSmall: true };
  const a = treated.variance / treated.n;
  const b = control.variance / control.n;
  const se = Math.sqrt(a + b);
  if (se === 0) {
    const pValue = absolute === 0 ? 1 : 0;
    return { ...base, ciLow: absolute, ciHigh: absolute, pValue, significant: pValue < ALPHA, tooSmall: false };
  }
  const df = (a + b) ** 2 / (a ** 2 / (treated.n - 1) + b ** 2 / (control.n - 1));
  const pValue = studentTwoSidedP(absolute / se, df);
  const margin = studentQuantile(0.975, df) * se;
  return { ...base, ciLow: absolute - margin, ciHigh: absolute + margin, pValue, significant: pValue < ALPHA, tooSmall: false };
}

/** Welch–Satterthwaite degrees of freedom (exported for tests). */
export function welchDf(treated: SampleSummary, control: SampleSummary): number {
  const a = treated.variance / treated.n;
  const b = control.variance / control.n;
  return (a + b) ** 2 / (a ** 2 / (treated.n - 1) + b ** 2 / (control.n - 1));
}
