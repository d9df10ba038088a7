// Kolmogorov-Smirnov p-values, following scipy 1.10 step for step so that
// `mlforge drift` and scipy.stats.ks_2samp agree on the same data:
//  - exact two-sample distribution for samples of at most 10,000 values
//    (scipy.stats._stats_py._compute_prob_outside_square and the "inside"
//    lattice-path recursion of Hodges / Viehmann),
//  - otherwise kstwo.sf(d, round(n1 n2 / (n1 + n2))), i.e. scipy's kolmogn:
//    Ruben-Gambino closed forms, Durbin's matrix (Marsaglia-Tsang-Wang),
//    Pomeranz's recursion, Pelz-Good's series and Smirnov's one-sided sum.
// Where ours differs: scipy evaluates Smirnov's sum in double-double; we sum
// in long double (relative agreement ~1e-12, tests/monitor/fixtures).
#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "monitor/monitor.h"

namespace mlforge::monitor {
namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr int kE128 = 128;
const long double kEp128 = std::ldexp(1.0L, kE128);
const long double kEm128 = std::ldexp(1.0L, -kE128);
constexpr double kMinLog = -708.3964185322641;  // cephes MINLOG

double Clip01(double p) { return std::clamp(p, 0.0, 1.0); }

// numpy.round: half to even.
double RoundHalfEven(double x) { return std::nearbyint(x); }

// ---- exact two-sample -------------------------------------------------------

// Pr(D_{n,n} >= h/n): Horner-like alternating sum.
double ProbOutsideSquare(int64_t n, int64_t h) {
  double p = 0.0;
  int64_t k = n / h;
  while (k >= 0) {
    double p1 = 1.0;
    for (int64_t j = 0; j < h; ++j) {
      p1 = static_cast<double>(n - k * h - j) * p1 / static_cast<double>(n + k * h + j + 1);
    }
    p = p1 * (1.0 - p);
    --k;
  }
  return 2 * p;
}

// 1 - (paths staying strictly inside |x/m - y/n| < h/lcm) / binom(m+n, n).
double OuterProbInside(int64_t m, int64_t n, int64_t g, int64_t h) {
  if (m < n) std::swap(m, n);
  int64_t mg = m / g;
  int64_t ng = n / g;
  int64_t minj = 0;
  int64_t maxj = std::min<int64_t>(static_cast<int64_t>(std::ceil(static_cast<double>(h) / mg)), n + 1);
  int64_t curlen = maxj - minj;
  int64_t len_a = std::min<int64_t>(2 * maxj + 2, n + 1);
  std::vector<double> a(static_cast<size_t>(len_a), 1.0);
  for (int64_t j = minj; j < std::min(maxj, len_a); ++j) a[static_cast<size_t>(j)] = 0.0;
  for (int64_t i = 1; i <= m; ++i) {
    int64_t lastminj = minj;
    int64_t lastlen = curlen;
    minj = std::max<int64_t>(
        static_cast<int64_t>(std::floor(static_cast<double>(ng * i - h) / static_cast<double>(mg))) + 1,
        0);
    minj = std::min(minj, n);
    maxj = std::min<int64_t>(
        static_cast<int64_t>(std::ceil(static_cast<double>(ng * i + h) / static_cast<double>(mg))),
        n + 1);
    if (maxj <= minj) return 1.0;
    double val = minj == 0 ? 0.0 : 1.0;
    for (int64_t jj = 0; jj < maxj - minj; ++jj) {
      int64_t j = jj + minj;
      val = (a[static_cast<size_t>(jj + minj - lastminj)] * static_cast<double>(i) +
             val * static_cast<double>(j)) /
            static_cast<double>(i + j);
      a[static_cast<size_t>(jj)] = val;
    }
    curlen = maxj - minj;
    if (lastlen > curlen) {
      int64_t end = std::min<int64_t>(maxj - minj + (lastlen - curlen), len_a);
      for (int64_t j = maxj - minj; j < end; ++j) a[static_cast<size_t>(j)] = 1.0;
    }
  }
  return a[static_cast<size_t>(maxj - minj - 1)];
}

// ---- kolmogn (scipy.stats._ksstats) ----------------------------------------

double LogNFactorialDivNPowN(double n) {
  static const double kStirling[] = {-2.955065359477124183e-2, 6.4102564102564102564e-3,
                                     -1.9175269175269175269e-3, 8.4175084175084175084e-4,
                                     -5.952380952380952381e-4, 7.9365079365079365079e-4,
                                     -2.7777777777777777778e-3, 8.3333333333333333333e-2};
  double rn = 1.0 / n;
  double x = rn / n;
  double poly = 0;
  for (double c : kStirling) poly = poly * x + c;
  return std::log(n) / 2 - n + std::log(2 * kPi) / 2 + rn * poly;
}

using Matrix = std::vector<double>;  // row-major m x m

Matrix MatMul(const Matrix& a, const Matrix& b, int m) {
  Matrix c(static_cast<size_t>(m) * m, 0.0);
  for (int i = 0; i < m; ++i) {
    for (int k = 0; k < m; ++k) {
      double aik = a[static_cast<size_t>(i) * m + k];
      if (aik == 0) continue;
      const double* brow = &b[static_cast<size_t>(k) * m];
      double* crow = &c[static_cast<size_t>(i) * m];
      for (int j = 0; j < m; ++j) crow[j] += aik * brow[j];
    }
  }
  return c;
}

// Pr(D_n <= d): Durbin's matrix, Marsaglia-Tsang-Wang scaling.
double KolmognDmtwCdf(int64_t n, double d) {
  if (d >= 1.0) return 1.0;
  double nd = static_cast<double>(n) * d;
  if (nd <= 0.5) return 0.0;
  int k = static_cast<int>(std::ceil(nd));
  double h = k - nd;
  int m = 2 * k - 1;
  Matrix hm(static_cast<size_t>(m) * m, 0.0);
  std::vector<double> v(static_cast<size_t>(m));
  std::vector<double> w(static_cast<size_t>(m));
  double fac = 1.0;
  for (int j = 1; j <= m; ++j) {
    w[static_cast<size_t>(j - 1)] = fac;
    fac /= j;
    v[static_cast<size_t>(j - 1)] = (1.0 - std::pow(h, j)) * fac;
  }
  double tt = std::pow(std::max(2 * h - 1.0, 0.0), m) - 2 * std::pow(h, m);
  v[static_cast<size_t>(m - 1)] = (1.0 + tt) * fac;
  auto at = [&](int r, int c) -> double& { return hm[static_cast<size_t>(r) * m + c]; };
  for (int i = 1; i < m; ++i) {
    for (int r = i - 1; r < m; ++r) at(r, i) = w[static_cast<size_t>(r - (i - 1))];
  }
  for (int r = 0; r < m; ++r) at(r, 0) = v[static_cast<size_t>(r)];
  for (int c = 0; c < m; ++c) at(m - 1, c) = v[static_cast<size_t>(m - 1 - c)];

  Matrix pwr(static_cast<size_t>(m) * m, 0.0);
  for (int i = 0; i < m; ++i) pwr[static_cast<size_t>(i) * m + i] = 1.0;
  int64_t nn = n;
  long expnt = 0;
  long hexpnt = 0;
  while (nn > 0) {
    if (nn % 2) {
      pwr = MatMul(pwr, hm, m);
      expnt += hexpnt;
    }
    hm = MatMul(hm, hm, m);
    hexpnt *= 2;
    if (std::abs(at(k - 1, k - 1)) > kEp128) {
      for (double& x : hm) x = static_cast<double>(x / kEp128);
      hexpnt += kE128;
    }
    nn /= 2;
  }
  long double p = pwr[static_cast<size_t>(k - 1) * m + (k - 1)];
  for (int64_t i = 1; i <= n; ++i) {
    p = static_cast<long double>(i) * p / static_cast<long double>(n);
    if (std::abs(p) < kEm128) {
      p *= kEp128;
      expnt -= kE128;
    }
  }
  if (expnt != 0) p = std::ldexp(p, static_cast<int>(expnt));
  return Clip01(static_cast<double>(p));
}

void PomeranzJ1J2(int64_t i, int64_t n, int64_t ll, int64_t ceilf, int64_t roundf, int64_t* j1,
                  int64_t* j2) {
  int64_t a, b;
  if (i == 0) {
    a = -ll - ceilf - 1;
    b = ll + ceilf - 1;
  } else {
    int64_t div = (i + 1) / 2, mod = (i + 1) % 2;
    if (mod == 0) {  // i odd
      if (div == n + 1) {
        a = n - ll - ceilf - 1;
        b = n + ll + ceilf - 1;
      } else {
        a = div - 1 - ll - roundf - 1;
        b = div + ll - 1 + ceilf - 1;
      }
    } else {
      a = div - 1 - ll - 1;
      b = div + ll + roundf - 1;
    }
  }
  *j1 = std::max<int64_t>(a + 2, 0);
  *j2 = std::min(b, n);
}

// Pr(D_n <= x): Pomeranz's recursion.
double KolmognPomeranzCdf(int64_t n, double x) {
  double t = static_cast<double>(n) * x;
  int64_t ll = static_cast<int64_t>(std::floor(t));
  double f = t - static_cast<double>(ll);
  double g = std::min(f, 1.0 - f);
  int64_t ceilf = f > 0 ? 1 : 0;
  int64_t roundf = f > 0.5 ? 1 : 0;
  size_t npwrs = static_cast<size_t>(2 * (ll + 1));
  std::vector<double> gpower(npwrs), twogpower(npwrs), onem2gpower(npwrs);
  gpower[0] = twogpower[0] = onem2gpower[0] = 1.0;
  double dn = static_cast<double>(n);
  double g_over_n = g / dn, two_g_over_n = 2 * g / dn, one_minus_two_g_over_n = (1 - 2 * g) / dn;
  for (size_t m = 1; m < npwrs; ++m) {
    gpower[m] = gpower[m - 1] * g_over_n / static_cast<double>(m);
    twogpower[m] = twogpower[m - 1] * two_g_over_n / static_cast<double>(m);
    onem2gpower[m] = onem2gpower[m - 1] * one_minus_two_g_over_n / static_cast<double>(m);
  }
  std::vector<double> v0(npwrs, 0.0), v1(npwrs, 0.0);
  v1[0] = 1;
  int64_t v0s = 0, v1s = 0;
  long expnt = 0;
  int64_t j1, j2;
  PomeranzJ1J2(0, n, ll, ceilf, roundf, &j1, &j2);
  for (int64_t i = 1; i < 2 * n + 2; ++i) {
    int64_t k1 = j1;
    std::swap(v0, v1);
    std::swap(v0s, v1s);
    std::fill(v1.begin(), v1.end(), 0.0);
    PomeranzJ1J2(i, n, ll, ceilf, roundf, &j1, &j2);
    const std::vector<double>& pwrs =
        (i == 1 || i == 2 * n + 1) ? gpower : (i % 2 ? twogpower : onem2gpower);
    int64_t ln2 = j2 - k1 + 1;
    if (ln2 > 0) {
      // conv = numpy.convolve(V0[k1 - V0s : k1 - V0s + ln2], pwrs[:ln2]), full mode.
      int64_t seg_start = k1 - v0s;
      int64_t seg_len = std::clamp<int64_t>(static_cast<int64_t>(npwrs) - seg_start, 0, ln2);
      int64_t pw_len = std::min<int64_t>(ln2, static_cast<int64_t>(npwrs));
      int64_t conv_start = j1 - k1;
      int64_t conv_len = j2 - j1 + 1;
      int64_t full_len = seg_len + pw_len - 1;
      double vmax = 0;
      for (int64_t c = 0; c < conv_len; ++c) {
        int64_t idx = conv_start + c;
        if (idx < 0 || idx >= full_len) continue;
        double s = 0;
        int64_t lo = std::max<int64_t>(0, idx - (pw_len - 1));
        int64_t hi = std::min<int64_t>(idx, seg_len - 1);
        for (int64_t a = lo; a <= hi; ++a) {
          s += v0[static_cast<size_t>(seg_start + a)] * pwrs[static_cast<size_t>(idx - a)];
        }
        v1[static_cast<size_t>(c)] = s;
        vmax = std::max(vmax, s);
      }
      if (vmax > 0 && vmax < kEm128) {
        for (double& x : v1) x = static_cast<double>(x * kEp128);
        expnt -= kE128;
      }
      v1s = v0s + j1 - k1;
    }
  }
  long double ans = v1[static_cast<size_t>(n - v1s)];
  for (int64_t m = 1; m <= n; ++m) {
    if (std::abs(ans) > kEp128) {
      ans *= kEm128;
      expnt += kE128;
    }
    ans *= static_cast<long double>(m);
  }
  if (expnt != 0) ans = std::ldexp(ans, static_cast<int>(expnt));
  return Clip01(static_cast<double>(ans));
}

// Pr(D_n <= x): Pelz-Good's asymptotic series.
double KolmognPelzGoodCdf(int64_t n, double x) {
  if (x <= 0.0) return 0.0;
  if (x >= 1.0) return 1.0;
  const double pi2 = kPi * kPi, pi4 = pi2 * pi2, pi6 = pi4 * pi2;
  const double sqrt2pi = std::sqrt(2 * kPi);
  double z = std::sqrt(static_cast<double>(n)) * x;
  double z2 = z * z, z3 = z2 * z, z4 = z2 * z2, z6 = z4 * z2;
  double qlog = -pi2 / 8 / z2;
  if (qlog < -708) return 0.0;
  double q = std::exp(qlog);
  double k1a = -z2;
  double k1b = pi2 / 4;
  double k2a = 6 * z6 + 2 * z4;
  double k2b = (2 * z4 - 5 * z2) * pi2 / 4;
  double k2c = pi4 * (1 - 2 * z2) / 16;
  double k3d = pi6 * (5 - 30 * z2) / 64;
  double k3c = pi4 * (-60 * z2 + 212 * z4) / 16;
  double k3b = pi2 * (135 * z4 - 96 * z6) / 4;
  double k3a = -30 * z6 - 90 * std::pow(z, 8);
  double k[4] = {0, 0, 0, 0};
  int maxk = static_cast<int>(std::ceil(16 * z / kPi));
  for (int kk = maxk; kk > 0; --kk) {
    double m = 2 * kk - 1;
    double m2 = m * m, m4 = m2 * m2, m6 = m4 * m2;
    double qpower = std::pow(q, 8 * kk);
    double coeffs[4] = {1.0, k1a + k1b * m2, k2a + k2b * m2 + k2c * m4,
                        k3a + k3b * m2 + k3c * m4 + k3d * m6};
    for (int i = 0; i < 4; ++i) k[i] = k[i] * qpower + coeffs[i];
  }
  double den[4] = {z, 6 * z4, 72 * std::pow(z, 7), 6480 * std::pow(z, 10)};
  for (int i = 0; i < 4; ++i) k[i] = k[i] * q * sqrt2pi / den[i];
  double q2 = std::exp(-pi2 / 2 / z2);
  double k2extra = 0, k3extra = 0;
  double sqrt3z = std::sqrt(3.0) * z;
  for (int kk = maxk; kk > 0; --kk) {
    double ks2 = static_cast<double>(kk) * kk;
    double qp = std::pow(q2, ks2);
    k2extra += ks2 * qp;
    double kspi = kPi * kk;
    k3extra += (sqrt3z + kspi) * (sqrt3z - kspi) * ks2 * qp;
  }
  k[2] += k2extra * pi2 * sqrt2pi / (-36 * z3);
  k[3] += k3extra * pi2 * sqrt2pi / (216 * z6);
  double sum = 0;
  for (int i = 0; i < 4; ++i) sum += k[i] / std::pow(static_cast<double>(n), i / 2.0);
  return sum;
}

}  // namespace

double SmirnovSf(int64_t n, double x) {
  if (!(n > 0 && x >= 0.0 && x <= 1.0)) return kNaN;
  if (n == 1) return 1 - x;
  if (x == 0.0) return 1.0;
  if (x == 1.0) return 0.0;
  long double nx = static_cast<long double>(n) * x;
  long double nxfl_ld = std::floor(nx);
  int64_t nxfl = static_cast<int64_t>(nxfl_ld);
  long double alpha = nx - nxfl_ld;
  if (alpha >= 1) {
    nxfl += 1;
    alpha = 0;
  }
  double dn = static_cast<double>(n);
  if (nxfl == 0 || (nxfl == 1 && alpha == 0)) {
    double cdf = x * std::pow(1 + x, dn - 1);
    return Clip01(1 - cdf);
  }
  if (-2 * dn * x * x < kMinLog) return 0.0;
  if (nxfl >= n - 1) return Clip01(std::pow(1 - x, dn));
  if (n > 1000000) {
    // scipy's own shortcut for very large n.
    double logp = -std::pow(6 * dn * x + 1.0, 2) / 18.0 / dn;
    return Clip01(std::exp(logp));
  }
  // Lower sum: x * sum_{v=0}^{nTerms-1} C(n,v) (x+v/n)^(v-1) (1-x-v/n)^(n-v).
  int64_t n1mxfl = n - nxfl - (alpha == 0 ? 0 : 1);
  if (alpha == 0) n1mxfl -= 1;
  int64_t terms = n1mxfl + 1;
  long double ln = static_cast<long double>(n);
  long double lx = x;
  long double log_c = 0;  // log C(n, v)
  long double sum = 0;
  const long double eps = 2.220446049250313e-16L;
  for (int64_t v = 0; v < terms; ++v) {
    long double t1x = lx + static_cast<long double>(v) / ln;  // x + v/n
    long double t2x = 1.0L - t1x;                             // 1 - x - v/n
    long double term = 0;
    if (t2x > 0) {
      long double log_term =
          log_c + static_cast<long double>(v - 1) * std::log(t1x) +
          static_cast<long double>(n - v) * std::log1p(-t1x);
      term = std::exp(log_term);
    }
    sum += term;
    if (term != 0) {
      if (4.0L * static_cast<long double>(terms - v) * term < eps * sum && v != terms - 1) break;
    } else if (v > n / 2) {
      break;
    }
    log_c += std::log(static_cast<long double>(n - v) / static_cast<long double>(v + 1));
  }
  return Clip01(static_cast<double>(sum * lx));
}

double KolmogorovSf(int64_t n, double x) {
  if (n <= 0 || std::isnan(x)) return kNaN;
  if (x >= 1.0) return 0.0;
  if (x <= 0.0) return 1.0;
  double dn = static_cast<double>(n);
  double t = dn * x;
  if (t <= 1.0) {
    if (t <= 0.5) return 1.0;
    double prob;
    if (n <= 140) {
      prob = 1.0;
      for (int64_t i = 1; i <= n; ++i) prob *= static_cast<double>(i) * (1.0 / dn) * (2 * t - 1);
    } else {
      prob = std::exp(LogNFactorialDivNPowN(dn) + dn * std::log(2 * t - 1));
    }
    return Clip01(1.0 - prob);
  }
  if (t >= dn - 1) return Clip01(2 * std::pow(1.0 - x, dn));
  if (x >= 0.5) return Clip01(2 * SmirnovSf(n, x));
  double nxsquared = t * x;
  if (n <= 140) {
    if (nxsquared <= 0.754693) return Clip01(1.0 - KolmognDmtwCdf(n, x));
    if (nxsquared <= 4) return Clip01(1.0 - KolmognPomeranzCdf(n, x));
    return Clip01(2 * SmirnovSf(n, x));
  }
  if (nxsquared >= 370.0) return 0.0;
  if (nxsquared >= 2.2) return Clip01(2 * SmirnovSf(n, x));
  double cdf;
  if (n <= 100000 && dn * std::pow(x, 1.5) <= 1.4) {
    cdf = KolmognDmtwCdf(n, x);
  } else {
    cdf = KolmognPelzGoodCdf(n, x);
  }
  return Clip01(1.0 - cdf);
}

double KsTwoSamplePValue(double d, uint64_t n1_u, uint64_t n2_u, bool* exact) {
  if (exact) *exact = false;
  if (n1_u == 0 || n2_u == 0 || std::isnan(d)) return kNaN;
  int64_t n1 = static_cast<int64_t>(n1_u), n2 = static_cast<int64_t>(n2_u);
  constexpr int64_t kMaxAutoN = 10000;
  if (std::max(n1, n2) <= kMaxAutoN) {
    int64_t g = std::gcd(n1, n2);
    int64_t lcm = (n1 / g) * n2;
    int64_t h = static_cast<int64_t>(RoundHalfEven(d * static_cast<double>(lcm)));
    double prob;
    if (h == 0) {
      prob = 1.0;
    } else if (n1 == n2) {
      prob = ProbOutsideSquare(n1, h);
    } else {
      prob = OuterProbInside(n1, n2, g, h);
    }
    if (std::isfinite(prob) && prob >= 0 && prob <= 1) {
      if (exact) *exact = true;
      return prob;
    }
  }
  double m = static_cast<double>(std::max(n1, n2)), n = static_cast<double>(std::min(n1, n2));
  double en = m * n / (m + n);
  return Clip01(KolmogorovSf(static_cast<int64_t>(RoundHalfEven(en)), d));
}

}  // namespace mlforge::monitor
