"""Running statistics over sequences of floats, typed for C."""

from libc.math cimport sqrt


cdef class Running:
    """Mean and variance by Welford's method."""

    cdef public long n
    cdef double mean_, m2

    def __init__(self):
        self.n = 0
        self.mean_ = 0.0
        self.m2 = 0.0

    cpdef void push(self, double x):
        cdef double delta = x - self.mean_
        self.n += 1
        self.mean_ += delta / self.n
        self.m2 += delta * (x - self.mean_)

    @property
    def mean(self):
        return self.mean_

    @property
    def variance(self):
        return self.m2 / (self.n - 1) if self.n > 1 else 0.0


def describe(values):
    """(count, mean, standard deviation, minimum, maximum) of values."""
    cdef Running r = Running()
    cdef double lo = float("inf"), hi = float("-inf"), x
    for v in values:
        x = v
        r.push(x)
        if x < lo:
            lo = x
        if x > hi:
            hi = x
    return r.n, r.mean, sqrt(r.variance), lo, hi


def histogram(values, double lo, double hi, int bins):
    """Counts of values in `bins` equal bins between lo and hi."""
    counts = [0] * bins
    cdef double width = (hi - lo) / bins, x
    cdef int k
    for v in values:
        x = v
        k = <int>((x - lo) / width)
        if 0 <= k < bins:
            counts[k] += 1
        elif x == hi:
            counts[bins - 1] += 1
    return counts
