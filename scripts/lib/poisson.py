"""Exact Poisson intervals for the validation scripts (no scipy on Debian's base install)."""
import math

Z = 0.025  # two-sided 95 %


def gamma_cdf(shape, x):
    """P(Gamma(shape, 1) <= x) for an integer shape: 1 - P(Poisson(x) < shape). The Poisson
    terms are summed in log space: e^-x alone underflows for counts in the hundreds."""
    if x <= 0:
        return 0.0
    log_x = math.log(x)
    return 1 - sum(math.exp(j * log_x - x - math.lgamma(j + 1)) for j in range(shape))


def gamma_quantile(shape, p):
    """x with gamma_cdf(shape, x) = p, by bisection (no scipy on Debian's base install)."""
    if shape == 0:
        return 0.0
    low, high = 0.0, shape + 20 * math.sqrt(shape) + 20
    for _ in range(200):
        mid = (low + high) / 2
        low, high = (mid, high) if gamma_cdf(shape, mid) < p else (low, mid)
    return (low + high) / 2


def garwood(count):
    """Exact 95 % interval of a Poisson count."""
    return gamma_quantile(count, Z), gamma_quantile(count + 1, 1 - Z)
