// Two-sample statistics other than the KS distribution (ks.cc): chi-square,
// z, Wasserstein, PSI, Jensen-Shannon, Hellinger, p-value corrections, and
// the sort and quantile helpers they stand on.
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <numeric>

#include "monitor/internal.h"
#include "monitor/monitor.h"

namespace mlforge::monitor {
namespace {

constexpr double kMachEp = 1.11022302462515654042e-16;  // cephes MACHEP
constexpr double kMaxLog = 7.09782712893383996843e2;    // cephes MAXLOG
constexpr double kBig = 4.503599627370496e15;
constexpr double kBigInv = 2.22044604925031308085e-16;

double IgamSeries(double a, double x);
double IgamcFraction(double a, double x);

double IgamSeries(double a, double x) {
  double ax = a * std::log(x) - x - std::lgamma(a);
  if (ax < -kMaxLog) return 0.0;
  ax = std::exp(ax);
  double r = a, c = 1.0, ans = 1.0;
  do {
    r += 1.0;
    c *= x / r;
    ans += c;
  } while (c / ans > kMachEp);
  return ans * ax / a;
}

// Regularized upper incomplete gamma Q(a, x) by cephes' continued fraction.
double IgamcFraction(double a, double x) {
  double ax = a * std::log(x) - x - std::lgamma(a);
  if (ax < -kMaxLog) return 0.0;
  ax = std::exp(ax);
  double y = 1.0 - a, z = x + y + 1.0, c = 0.0;
  double pkm2 = 1.0, qkm2 = x, pkm1 = x + 1.0, qkm1 = z * x;
  double ans = pkm1 / qkm1, t;
  do {
    c += 1.0;
    y += 1.0;
    z += 2.0;
    double yc = y * c;
    double pk = pkm1 * z - pkm2 * yc;
    double qk = qkm1 * z - qkm2 * yc;
    if (qk != 0) {
      double r = pk / qk;
      t = std::abs((ans - r) / r);
      ans = r;
    } else {
      t = 1.0;
    }
    pkm2 = pkm1;
    pkm1 = pk;
    qkm2 = qkm1;
    qkm1 = qk;
    if (std::abs(pk) > kBig) {
      pkm2 *= kBigInv;
      pkm1 *= kBigInv;
      qkm2 *= kBigInv;
      qkm1 *= kBigInv;
    }
  } while (t > kMachEp);
  return ans * ax;
}

double Igamc(double a, double x) {
  if (x < 0 || a <= 0 || std::isnan(x) || std::isnan(a)) return kNaN;
  if (x == 0) return 1.0;
  if (std::isinf(x)) return 0.0;
  if (x < 1.0 || x < a) return 1.0 - IgamSeries(a, x);
  return IgamcFraction(a, x);
}

double Total(std::span<const double> v) { return std::accumulate(v.begin(), v.end(), 0.0); }

// The two vectors as shares (NaN when one is empty).
bool Shares(std::span<const double> a, std::span<const double> b, std::vector<double>* p,
            std::vector<double>* q) {
  double ta = Total(a), tb = Total(b);
  if (a.size() != b.size() || !(ta > 0) || !(tb > 0)) return false;
  p->resize(a.size());
  q->resize(b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    (*p)[i] = a[i] / ta;
    (*q)[i] = b[i] / tb;
  }
  return true;
}

uint64_t SortableBits(double d) {
  uint64_t u;
  std::memcpy(&u, &d, sizeof(u));
  return (u & 0x8000000000000000ULL) ? ~u : (u | 0x8000000000000000ULL);
}

double FromSortableBits(uint64_t u) {
  u = (u & 0x8000000000000000ULL) ? (u & ~0x8000000000000000ULL) : ~u;
  double d;
  std::memcpy(&d, &u, sizeof(d));
  return d;
}

}  // namespace

double ChiSquareSf(double x, double dof) {
  if (std::isnan(x) || !(dof > 0)) return kNaN;
  if (x <= 0) return 1.0;
  return Igamc(dof / 2, x / 2);
}

namespace internal {

// Sorts the finite values of `in` into *out (NaN and +-inf dropped, counted
// in *dropped). Scatters are what cost at a million values (each one a
// pass through memory), so: one scatter of the order-preserving bit patterns
// into 2048 buckets by their top bits within the column's key range, then
// per bucket, in cache, one scatter by the next log2(size) bits, and an
// insertion sort that only has to fix the few keys sharing a sub-bucket
// (std::sort for crowded sub-buckets keeps skewed data O(n log n)). Scratch
// buffers are per thread and reused: fresh 8 MB buffers per column cost more
// in page faults than the sort itself.
void SortFinite(std::span<const double> in, std::vector<double>* out, uint64_t* dropped) {
  size_t n = 0;
  uint64_t lo = UINT64_MAX, hi = 0;
  for (double v : in) {
    if (!std::isfinite(v)) continue;
    uint64_t k = SortableBits(v);
    ++n;
    lo = std::min(lo, k);
    hi = std::max(hi, k);
  }
  if (dropped) *dropped = in.size() - n;
  out->resize(n);
  if (n == 0) return;
  if (n > UINT32_MAX) {  // beyond the 32-bit bucket counters
    size_t i = 0;
    for (double v : in) {
      if (std::isfinite(v)) (*out)[i++] = v;
    }
    std::sort(out->begin(), out->end());
    return;
  }
  // buckets: the top-bits scatter; scratch: one bucket at a time, so it
  // stays in cache.
  thread_local std::vector<uint64_t> buckets, scratch;
  thread_local std::vector<uint32_t> sub_counts(1u << 16);
  if (buckets.size() < n) buckets.resize(n);
  constexpr int kTopBits = 11, kBuckets = 1 << kTopBits, kMaxSubBits = 16;
  int shift = std::max(0, static_cast<int>(std::bit_width(hi - lo)) - kTopBits);
  uint32_t ends[kBuckets + 1] = {};
  for (double v : in) {
    if (std::isfinite(v)) ++ends[(SortableBits(v) - lo) >> shift];
  }
  uint32_t starts[kBuckets + 1];
  uint32_t sum = 0;
  for (int b = 0; b <= kBuckets; ++b) {
    starts[b] = sum;
    sum += ends[b];
    ends[b] = starts[b];
  }
  uint64_t* top = buckets.data();
  for (double v : in) {
    if (!std::isfinite(v)) continue;
    uint64_t x = SortableBits(v) - lo;
    top[ends[x >> shift]++] = x;
  }
  double* o = out->data();
  uint32_t* sc = sub_counts.data();
  for (int b = 0; b < kBuckets; ++b) {
    size_t first = starts[b], m = ends[b] - first;
    if (m == 0) continue;
    uint64_t* r = top + first;
    if (m > 16 && shift > 0) {
      int bits = std::min({shift, kMaxSubBits, static_cast<int>(std::bit_width(m))});
      int sub_shift = shift - bits;
      uint64_t mask = (uint64_t{1} << bits) - 1;
      uint32_t nsub = 1u << bits;
      std::fill(sc, sc + nsub, 0u);
      for (size_t i = 0; i < m; ++i) ++sc[(r[i] >> sub_shift) & mask];
      uint32_t s = 0;
      for (uint32_t q = 0; q < nsub; ++q) {
        uint32_t t = sc[q];
        sc[q] = s;
        s += t;
      }
      if (scratch.size() < m) scratch.resize(m);
      uint64_t* w = scratch.data();
      for (size_t i = 0; i < m; ++i) w[sc[(r[i] >> sub_shift) & mask]++] = r[i];
      r = w;
      // sc[q] is now where sub-bucket q ends.
      uint32_t begin = 0;
      for (uint32_t q = 0; q < nsub; ++q) {
        if (sc[q] - begin > 32) std::sort(r + begin, r + sc[q]);
        begin = sc[q];
      }
    }
    for (size_t i = 1; i < m; ++i) {
      uint64_t x = r[i];
      size_t j = i;
      for (; j > 0 && r[j - 1] > x; --j) r[j] = r[j - 1];
      r[j] = x;
    }
    for (size_t i = 0; i < m; ++i) o[first + i] = FromSortableBits(r[i] + lo);
  }
}

}  // namespace internal

void SortDoubles(std::vector<double>& values) {
  if (values.size() < 4096) {
    std::sort(values.begin(), values.end());
    return;
  }
  std::vector<double> in;
  in.swap(values);
  uint64_t dropped = 0;
  internal::SortFinite(in, &values, &dropped);
  // Infinities sort at the ends (NaN is excluded by contract).
  size_t neg = 0, pos = 0;
  for (double v : in) {
    if (v == -INFINITY) ++neg;
    if (v == INFINITY) ++pos;
  }
  if (neg + pos > 0) {
    values.insert(values.begin(), neg, -INFINITY);
    values.insert(values.end(), pos, INFINITY);
  }
}

double QuantileSorted(std::span<const double> sorted, double q) {
  if (sorted.empty()) return kNaN;
  double pos = q * static_cast<double>(sorted.size() - 1);
  double lo_f = std::floor(pos);
  size_t lo = static_cast<size_t>(lo_f);
  if (lo + 1 >= sorted.size()) return sorted.back();
  double t = pos - lo_f;
  double a = sorted[lo], b = sorted[lo + 1];
  double diff = b - a;
  // numpy's _lerp: from the nearer end, so the result is monotone in q.
  return t >= 0.5 ? b - diff * (1 - t) : a + diff * t;
}

KsResult KsTwoSampleSorted(std::span<const double> a, std::span<const double> b) {
  if (a.empty() || b.empty()) return KsResult{};
  KsResult r = internal::KsAndWasserstein(internal::Unweighted{a}, internal::Unweighted{b}, nullptr);
  r.p_value = KsTwoSamplePValue(r.statistic, a.size(), b.size(), &r.exact);
  if (r.exact) {
    // scipy reports the statistic snapped to the lattice the exact test uses.
    uint64_t n1 = a.size(), n2 = b.size();
    uint64_t lcm = n1 / std::gcd(n1, n2) * n2;
    r.statistic = std::nearbyint(r.statistic * static_cast<double>(lcm)) / static_cast<double>(lcm);
  }
  return r;
}

double WassersteinSorted(std::span<const double> a, std::span<const double> b) {
  if (a.empty() || b.empty()) return kNaN;
  double w = 0;
  internal::KsAndWasserstein(internal::Unweighted{a}, internal::Unweighted{b}, &w);
  return w;
}

ChiSquareResult ChiSquareHomogeneity(std::span<const double> a, std::span<const double> b) {
  ChiSquareResult r;
  if (a.size() != b.size()) return r;
  double ta = Total(a), tb = Total(b);
  double total = ta + tb;
  if (!(ta > 0) || !(tb > 0)) return r;
  double stat = 0;
  int64_t k = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    double col = a[i] + b[i];
    if (col <= 0) continue;  // a category absent from both carries no information
    ++k;
    double ea = ta * col / total, eb = tb * col / total;
    stat += (a[i] - ea) * (a[i] - ea) / ea + (b[i] - eb) * (b[i] - eb) / eb;
  }
  r.dof = std::max<int64_t>(k - 1, 0);
  if (r.dof == 0) {
    r.statistic = 0;
    r.p_value = 1.0;
    r.cramers_v = 0;
    return r;
  }
  r.statistic = stat;
  r.p_value = ChiSquareSf(stat, static_cast<double>(r.dof));
  r.cramers_v = std::sqrt(stat / total);
  return r;
}

ChiSquareResult ChiSquareGoodnessOfFit(std::span<const double> observed,
                                       std::span<const double> expected) {
  ChiSquareResult r;
  if (observed.size() != expected.size() || observed.empty()) return r;
  double to = Total(observed), te = Total(expected);
  if (!(to > 0) || !(te > 0)) return r;
  double stat = 0;
  for (size_t i = 0; i < observed.size(); ++i) {
    double e = expected[i] * to / te;
    if (e <= 0) {
      if (observed[i] > 0) stat = INFINITY;
      continue;
    }
    stat += (observed[i] - e) * (observed[i] - e) / e;
  }
  r.dof = static_cast<int64_t>(observed.size()) - 1;
  r.statistic = stat;
  r.p_value = r.dof > 0 ? ChiSquareSf(stat, static_cast<double>(r.dof)) : 1.0;
  r.cramers_v = std::sqrt(stat / to);
  return r;
}

double ZTestProportions(double hits_a, double n_a, double hits_b, double n_b, double* cohens_h) {
  if (cohens_h) *cohens_h = kNaN;
  if (!(n_a > 0) || !(n_b > 0)) return kNaN;
  double p1 = hits_a / n_a, p2 = hits_b / n_b;
  if (cohens_h) *cohens_h = std::abs(2 * std::asin(std::sqrt(p1)) - 2 * std::asin(std::sqrt(p2)));
  double pooled = (hits_a + hits_b) / (n_a + n_b);
  double var = pooled * (1 - pooled) * (1.0 / n_a + 1.0 / n_b);
  if (!(var > 0)) return 1.0;  // one category on both sides: nothing differs
  double z = (p1 - p2) / std::sqrt(var);
  return std::erfc(std::abs(z) / std::sqrt(2.0));
}

double Psi(std::span<const double> a, std::span<const double> b) {
  std::vector<double> p, q;
  if (!Shares(a, b, &p, &q)) return kNaN;
  double psi = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    double x = p[i] == 0 ? kPsiEpsilon : p[i];
    double y = q[i] == 0 ? kPsiEpsilon : q[i];
    psi += (x - y) * std::log(x / y);
  }
  return psi;
}

double JensenShannonDistance(std::span<const double> a, std::span<const double> b, double base) {
  std::vector<double> p, q;
  if (!Shares(a, b, &p, &q)) return kNaN;
  double left = 0, right = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    double m = (p[i] + q[i]) / 2.0;
    if (p[i] > 0) left += p[i] * std::log(p[i] / m);
    if (q[i] > 0) right += q[i] * std::log(q[i] / m);
  }
  double js = left + right;
  if (base > 0) js /= std::log(base);
  return std::sqrt(std::max(js, 0.0) / 2.0);
}

double HellingerDistance(std::span<const double> a, std::span<const double> b) {
  std::vector<double> p, q;
  if (!Shares(a, b, &p, &q)) return kNaN;
  double bc = 0;
  for (size_t i = 0; i < p.size(); ++i) bc += std::sqrt(p[i] * q[i]);
  return std::sqrt(1 - std::clamp(bc, 0.0, 1.0));
}

std::string_view CorrectionName(Correction c) {
  switch (c) {
    case Correction::kBenjaminiHochberg:
      return "bh";
    case Correction::kBonferroni:
      return "bonferroni";
    case Correction::kNone:
      return "none";
  }
  return "none";
}

Result<Correction> ParseCorrection(std::string_view name) {
  if (name == "bh" || name == "fdr_bh" || name == "benjamini-hochberg") {
    return Correction::kBenjaminiHochberg;
  }
  if (name == "bonferroni") return Correction::kBonferroni;
  if (name == "none") return Correction::kNone;
  return Err(InvalidArgument("unknown correction '" + std::string(name) +
                             "' (use bh, bonferroni or none)"));
}

std::vector<double> AdjustPValues(std::span<const double> p, Correction c) {
  std::vector<double> out(p.begin(), p.end());
  std::vector<size_t> idx;
  for (size_t i = 0; i < p.size(); ++i) {
    if (!std::isnan(p[i])) idx.push_back(i);
  }
  double m = static_cast<double>(idx.size());
  if (idx.empty() || c == Correction::kNone) return out;
  if (c == Correction::kBonferroni) {
    for (size_t i : idx) out[i] = std::min(1.0, p[i] * m);
    return out;
  }
  // Benjamini-Hochberg step-up: adj(i) = min over j >= i of p(j) m / j.
  std::stable_sort(idx.begin(), idx.end(), [&](size_t x, size_t y) { return p[x] < p[y]; });
  double running = 1.0;
  for (size_t r = idx.size(); r-- > 0;) {
    double v = p[idx[r]] * m / static_cast<double>(r + 1);
    running = std::min(running, v);
    out[idx[r]] = std::min(running, 1.0);
  }
  return out;
}

}  // namespace mlforge::monitor
