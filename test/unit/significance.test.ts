import { describe, expect, it } from 'vitest';
import { normalTwoSidedP, studentCdf, studentQuantile, summarize, twoProportionTest, welchDf, welchTest } from '../../src/domain/analytics/significance.js';

/** Relative closeness (absolute near 0). */
function close(actual: number | null, expected: number, tolerance = 1e-6) {
  expect(actual).not.toBeNull();
  const a = actual as number;
  const scale = Math.max(Math.abs(expected), 1e-12);
  expect(Math.abs(a - expected) / scale, `${a} vs ${expected}`).toBeLessThan(tolerance);
}

/*
 * Reference values: SciPy 1.17.1. Two-proportion z-test by hand with scipy.stats.norm:
 *   python3 -c "from scipy import stats; import math
 *   def z(x1,n1,x2,n2):
 *     p1,p2=x1/n1,x2/n2; p=(x1+x2)/(n1+n2); se=math.sqrt(p*(1-p)*(1/n1+1/n2)); zz=(p1-p2)/se
 *     se2=math.sqrt(p1*(1-p1)/n1+p2*(1-p2)/n2); q=stats.norm.ppf(0.975)
 *     print(repr((float(2*stats.norm.sf(abs(zz))), p1-p2-q*se2, p1-p2+q*se2)))
 *   z(124,1000,98,1000); z(60,500,45,500); z(40,40,30,40); z(1300,10000,1000,10000)"
 */
describe('two-proportion z-test', () => {
  it.each([
    [124, 1000, 98, 1000, 0.06420661767802041, -0.0015108018213420456, 0.05351080182134203],
    [60, 500, 45, 500, 0.12178184842585672, -0.007954539356449804, 0.0679545393564498],
    [40, 40, 30, 40, 0.0007232327164301925, 0.11581043922121323, 0.38418956077878674],
    [1300, 10000, 1000, 10000, 2.941909787615463e-11, 0.021167105307528133, 0.038832894692471864],
  ])('%i/%i vs %i/%i matches SciPy', (x1, n1, x2, n2, p, low, high) => {
    const result = twoProportionTest({ successes: x1, n: n1 }, { successes: x2, n: n2 });
    expect(result.tooSmall).toBe(false);
    close(result.absolute, x1 / n1 - x2 / n2, 1e-12);
    close(result.pValue, p);
    close(result.ciLow, low);
    close(result.ciHigh, high);
    expect(result.significant).toBe(p < 0.05);
  });

  it('gives the relative lift, and none against a control rate of 0', () => {
    const result = twoProportionTest({ successes: 124, n: 1000 }, { successes: 98, n: 1000 });
    close(result.relative, 0.026 / 0.098, 1e-12);
    expect(twoProportionTest({ successes: 10, n: 100 }, { successes: 0, n: 100 }).relative).toBeNull();
  });

  it('all converted in both groups: no failures expected, so "too small" (no p-value)', () => {
    const all = twoProportionTest({ successes: 500, n: 500 }, { successes: 100, n: 100 });
    expect(all.absolute).toBe(0);
    expect(all.tooSmall).toBe(true);
    expect(all.pValue).toBeNull();
  });

  it('tiny samples and rare events are "too small" (fewer than 5 expected successes or failures per arm)', () => {
    expect(twoProportionTest({ successes: 2, n: 10 }, { successes: 1, n: 10 }).tooSmall).toBe(true);
    // 3 of 2000 vs 1 of 200: pooled 0.2 %, the control expects 0.4 successes.
    expect(twoProportionTest({ successes: 3, n: 2000 }, { successes: 1, n: 200 }).tooSmall).toBe(true);
    expect(twoProportionTest({ successes: 5, n: 5 }, { successes: 0, n: 0 }).tooSmall).toBe(true);
    const enough = twoProportionTest({ successes: 20, n: 100 }, { successes: 10, n: 100 });
    expect(enough.tooSmall).toBe(false);
    expect(enough.pValue).not.toBeNull();
  });
});

/*
 * Reference values: SciPy 1.17.1,
 *   python3 -c "from scipy import stats
 *   for a,b in [(A,B), ...]:
 *     r=stats.ttest_ind(a,b,equal_var=False); ci=r.confidence_interval(0.95)
 *     print(repr((float(r.statistic), float(r.pvalue), float(r.df), float(ci.low), float(ci.high))))"
 * with the samples below.
 */
describe("Welch's t-test", () => {
  it.each([
    [
      'revenue per member (mostly zeros)',
      [1200, 0, 0, 350, 0, 800, 0, 0, 2100, 0, 450, 0],
      [0, 0, 300, 0, 0, 0, 900, 0, 0, 0],
      [0.19275472019774753, 15.636746887308107, -161.57057574803196, 738.2372424146986],
    ],
    [
      'close means',
      [10.5, 12.1, 9.8, 11.4, 10.9, 13.2, 8.7],
      [10.1, 11.8, 9.9, 10.2, 12.5],
      [0.9565779743903097, 9.815864718460498, -1.671139651186571, 1.75685393690086],
    ],
    ['two per arm (df near 1)', [1, 3], [2, 2.5], [0.8450283873936709, 1.1245136186770428, -10.371689453494378, 9.871689453494378]],
    ['one arm without spread', [5, 5, 5, 5], [1, 2, 4, 8, 3], [0.31106076733437127, 4.0, -1.954791384926656, 4.754791384926656]],
    [
      'far apart (tiny p)',
      [100, 101, 99, 102, 98, 100, 101, 99],
      [1, 2, 1, 3, 2, 1, 2, 1],
      [1.047603925742916e-20, 11.093937309619731, 97.2043380672525, 99.5456619327475],
    ],
  ])('%s matches SciPy', (_name, a, b, [p, df, low, high]) => {
    const treated = summarize(a as number[]);
    const control = summarize(b as number[]);
    const result = welchTest(treated, control);
    expect(result.tooSmall).toBe(false);
    close(welchDf(treated, control), df as number);
    close(result.pValue, p as number);
    close(result.ciLow, low as number);
    close(result.ciHigh, high as number);
  });

  it('zero variance in both arms: equal means p = 1, different means p = 0', () => {
    const equal = welchTest(summarize([3, 3, 3]), summarize([3, 3]));
    expect(equal.pValue).toBe(1);
    expect(equal.significant).toBe(false);
    const apart = welchTest(summarize([4, 4, 4]), summarize([3, 3]));
    expect(apart.pValue).toBe(0);
    expect([apart.ciLow, apart.ciHigh]).toEqual([1, 1]);
  });

  it('fewer than 2 members in an arm is "too small"', () => {
    const result = welchTest(summarize([10]), summarize([1, 2, 3]));
    expect(result.tooSmall).toBe(true);
    expect(result.pValue).toBeNull();
    expect(result.absolute).toBe(8);
  });
});

/*
 * Reference values: SciPy 1.17.1,
 *   python3 -c "from scipy import stats
 *   for df in [1,2.5,7.3,30,1000,1e6]: print(df, repr(float(stats.t.ppf(0.975, df))), repr(float(stats.t.cdf(-2.1, df))))"
 */
describe('Student t distribution', () => {
  it.each([
    [1, 12.706204736174694, 0.141463028121509],
    [2.5, 3.5746548420036817, 0.07225122237742189],
    [7.3, 2.345066736547703, 0.0361233567124267],
    [30, 2.0422724563012378, 0.022121235631161765],
    [1000, 1.9623390808264083, 0.017989437155390985],
    [1e6, 1.959966356814107, 0.01786454548731753],
  ])('df %d: quantile and CDF match SciPy', (df, quantile, cdf) => {
    close(studentQuantile(0.975, df), quantile);
    close(studentCdf(-2.1, df), cdf);
    close(studentCdf(2.1, df), 1 - cdf);
  });

  it('the normal tail: p = 0.05 at z = 1.959963984540054 (scipy.stats.norm.ppf(0.975))', () => {
    close(normalTwoSidedP(1.959963984540054), 0.05, 1e-9);
    expect(normalTwoSidedP(0)).toBe(1);
  });
});
