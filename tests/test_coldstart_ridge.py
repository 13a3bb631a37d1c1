"""The metadata mapper's ridge path: the same fits as scikit-learn's Ridge, in fewer steps."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.linear_model import Ridge

from recsys.coldstart._ridge import ridge_path


def _close(found: np.ndarray, expected: np.ndarray) -> bool:
    """Within a thousandth of ``expected``'s norm: the solver stops at a residual of 1e-5 of its
    right-hand side, which leaves coefficients about 5e-5 off on this problem."""
    return float(np.linalg.norm(found - expected)) <= 1e-3 * float(np.linalg.norm(expected))


@pytest.fixture(scope="module")
def problem() -> tuple[sp.csr_matrix, np.ndarray]:
    """Sparse tf-idf-like features (uneven column scales, none centred) and 8 noisy linear targets."""
    rng = np.random.default_rng(3)
    features = sp.random(400, 150, density=0.05, format="csr", random_state=4, dtype=np.float64)
    features = features @ sp.diags(rng.uniform(0.2, 3.0, 150))
    weights = rng.standard_normal((150, 8))
    targets = features @ weights + 0.5 + 0.1 * rng.standard_normal((400, 8))
    return sp.csr_matrix(features, dtype=np.float32), targets.astype(np.float32)


@pytest.mark.parametrize("alpha", [0.1, 1.0, 30.0])
def test_each_strength_is_scikit_learns_fit(problem: tuple[sp.csr_matrix, np.ndarray], alpha: float) -> None:
    features, targets = problem
    expected = Ridge(alpha=alpha, solver="svd").fit(features.toarray().astype(np.float64), targets)
    (solution,) = ridge_path(features, targets, [alpha])
    assert solution.coef.shape == expected.coef_.shape
    assert _close(solution.coef, expected.coef_)
    assert _close(solution.intercept, expected.intercept_)
    assert _close(solution.predict(features), expected.predict(features.toarray()))


def test_the_path_keeps_the_order_given_and_matches_each_fit_alone(
    problem: tuple[sp.csr_matrix, np.ndarray],
) -> None:
    features, targets = problem
    alphas = [3.0, 0.3, 30.0, 1.0]
    path = ridge_path(features, targets, alphas)
    assert [solution.alpha for solution in path] == alphas
    for solution in path:
        (alone,) = ridge_path(features, targets, [solution.alpha])
        assert _close(solution.coef, alone.coef)


def test_a_start_near_the_answer_takes_fewer_steps(problem: tuple[sp.csr_matrix, np.ndarray]) -> None:
    features, targets = problem
    (on_part,) = ridge_path(features[:350], targets[:350], [1.0])
    (cold,) = ridge_path(features, targets, [1.0])
    (warm,) = ridge_path(features, targets, [1.0], start=on_part.coef)
    assert warm.steps < cold.steps
    assert _close(warm.coef, cold.coef)


def test_dense_features_and_a_constant_column_give_the_same_fit(problem: tuple[sp.csr_matrix, np.ndarray]) -> None:
    features, targets = problem
    with_constant = sp.hstack([features, np.ones((features.shape[0], 1), dtype=np.float32)]).tocsr()
    (sparse,) = ridge_path(with_constant, targets, [1.0])
    (dense,) = ridge_path(with_constant.toarray(), targets, [1.0])
    assert np.allclose(sparse.coef, dense.coef, atol=1e-6)
    assert np.allclose(sparse.coef[:, -1], 0.0, atol=1e-6)  # centred away: a constant explains nothing


@pytest.mark.parametrize("alphas", [[], [1.0, 0.0], [-1.0]])
def test_strengths_must_be_positive(problem: tuple[sp.csr_matrix, np.ndarray], alphas: list[float]) -> None:
    features, targets = problem
    with pytest.raises(ValueError, match="alphas must be positive"):
        ridge_path(features, targets, alphas)
