// Linear and logistic regression with Eigen.
#include <fmt/core.h>
#include <Eigen/Dense>

#include <cmath>

#include "base/json.h"
#include "training/training.h"

namespace mlforge::training {
namespace {

using RowMatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

Eigen::Map<const RowMatrix> MapOf(MatrixView x) {
  return Eigen::Map<const RowMatrix>(x.data, x.rows, x.cols);
}

// log(1 + e^z) without overflow.
double Softplus(double z) { return z > 0 ? z + std::log1p(std::exp(-z)) : std::log1p(std::exp(z)); }

double Sigmoid(double z) {
  if (z >= 0) return 1 / (1 + std::exp(-z));
  double e = std::exp(z);
  return e / (1 + e);
}

Status CheckShape(MatrixView x, std::span<const double> y) {
  if (x.rows == 0) return InvalidArgument("No training rows");
  if (static_cast<size_t>(x.rows) != y.size()) return Internal("rows and labels differ in count");
  return Status::Ok();
}

LinearModel ModelOf(Task task, const Eigen::VectorXd& w) {  // w = [intercept, coef...]
  LinearModel m;
  m.task = task;
  m.intercept = w[0];
  m.coef.assign(w.data() + 1, w.data() + w.size());
  return m;
}

}  // namespace

Result<LinearModel> FitLeastSquares(MatrixView x, std::span<const double> y, double alpha) {
  RETURN_IF_ERROR(CheckShape(x, y));
  if (!(alpha >= 0)) return Err(InvalidArgument("alpha must be >= 0"));
  auto X = MapOf(x);
  Eigen::Map<const Eigen::VectorXd> Y(y.data(), static_cast<Eigen::Index>(y.size()));
  // Centering removes the intercept from the problem, so it is never penalized.
  Eigen::RowVectorXd x_mean = X.colwise().mean();
  double y_mean = Y.mean();
  Eigen::MatrixXd xc = X.rowwise() - x_mean;
  Eigen::VectorXd yc = Y.array() - y_mean;
  Eigen::VectorXd b;
  if (alpha == 0) {
    // Minimum-norm least squares: defined even for collinear or constant columns.
    b = xc.completeOrthogonalDecomposition().solve(yc);
  } else {
    Eigen::MatrixXd a = xc.transpose() * xc;
    a.diagonal().array() += alpha;
    b = a.ldlt().solve(xc.transpose() * yc);
  }
  if (!b.allFinite()) return Err(InvalidArgument("Least squares has no finite solution"));
  LinearModel m;
  m.task = Task::kRegression;
  m.coef.assign(b.data(), b.data() + b.size());
  m.intercept = y_mean - x_mean.dot(b);
  return m;
}

Result<LogisticFit> FitLogistic(
    MatrixView x, std::span<const double> y, const LogisticOptions& options,
    const std::function<Status(int, const LinearModel&)>& on_iteration) {
  RETURN_IF_ERROR(CheckShape(x, y));
  if (!(options.alpha >= 0)) return Err(InvalidArgument("alpha must be >= 0"));
  const Eigen::Index n = x.rows, p = x.cols + 1;
  Eigen::MatrixXd z(n, p);  // [1, X]
  z.col(0).setOnes();
  z.rightCols(x.cols) = MapOf(x);
  Eigen::Map<const Eigen::VectorXd> Y(y.data(), n);
  Eigen::VectorXd penalty = Eigen::VectorXd::Constant(p, options.alpha);
  penalty[0] = 0;  // the intercept is not penalized

  auto objective = [&](const Eigen::VectorXd& w) {
    Eigen::VectorXd s = z * w;
    double f = 0;
    for (Eigen::Index i = 0; i < n; ++i) f += Softplus(s[i]) - Y[i] * s[i];
    return f + 0.5 * (penalty.array() * w.array().square()).sum();
  };

  Eigen::VectorXd w = Eigen::VectorXd::Zero(p);
  double f = objective(w);
  LogisticFit fit;
  for (int iter = 1; iter <= options.max_iter; ++iter) {
    Eigen::VectorXd s = z * w;
    Eigen::VectorXd mu(n), weight(n);
    for (Eigen::Index i = 0; i < n; ++i) {
      mu[i] = Sigmoid(s[i]);
      weight[i] = mu[i] * (1 - mu[i]);
    }
    Eigen::VectorXd grad = z.transpose() * (mu - Y) + penalty.cwiseProduct(w);
    Eigen::MatrixXd hess = z.transpose() * weight.asDiagonal() * z;
    hess.diagonal() += penalty;
    Eigen::VectorXd step = hess.ldlt().solve(grad);
    if (!step.allFinite()) {
      // Singular Hessian (collinear columns without L2): a tiny ridge keeps Newton defined.
      hess.diagonal().array() += 1e-8 * (1 + hess.diagonal().cwiseAbs().maxCoeff());
      step = hess.ldlt().solve(grad);
    }
    if (!step.allFinite()) return Err(InvalidArgument("Logistic regression diverged"));
    // Backtracking (Armijo) keeps every step a descent step.
    double t = 1, f_new = f;
    Eigen::VectorXd w_new = w;
    const double slope = grad.dot(step);
    for (int k = 0; k < 60; ++k, t /= 2) {
      w_new = w - t * step;
      f_new = objective(w_new);
      if (f_new <= f - 1e-4 * t * slope) break;
    }
    const bool improved = f_new < f;
    const double gain = f - f_new;
    if (improved) w = w_new;
    fit.iterations = iter;
    if (on_iteration) RETURN_IF_ERROR(on_iteration(iter, ModelOf(Task::kBinary, w)));
    if (!improved || gain <= options.tol * std::max(f_new, 1e-300) ||
        grad.lpNorm<Eigen::Infinity>() < 1e-12) {
      fit.converged = true;
      f = improved ? f_new : f;
      break;
    }
    f = f_new;
  }
  fit.model = ModelOf(Task::kBinary, w);
  return fit;
}

std::vector<double> PredictLinear(const LinearModel& model, MatrixView x) {
  auto X = MapOf(x);
  Eigen::Map<const Eigen::VectorXd> coef(model.coef.data(),
                                         static_cast<Eigen::Index>(model.coef.size()));
  Eigen::VectorXd score = (X * coef).array() + model.intercept;
  std::vector<double> out(static_cast<size_t>(x.rows));
  for (Eigen::Index i = 0; i < x.rows; ++i) {
    out[static_cast<size_t>(i)] = model.task == Task::kBinary ? Sigmoid(score[i]) : score[i];
  }
  return out;
}

std::string EncodeLinearModel(const LinearModel& model) {
  json::Writer w;
  w.StartObject();
  w.Field("format", "mlforge.linear/1");
  w.Field("task", model.task == Task::kBinary ? "binary_logistic" : "regression");
  w.Key("features").StartArray();
  for (const std::string& f : model.features) w.String(f);
  w.EndArray();
  w.Key("coef").StartArray();
  for (double c : model.coef) w.Double(c);
  w.EndArray();
  w.Field("intercept", model.intercept);
  w.EndObject();
  return w.Take();
}

}  // namespace mlforge::training
