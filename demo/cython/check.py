import cystats

n, mean, sd, lo, hi = cystats.describe([2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0])
assert (n, mean, lo, hi) == (8, 5.0, 2.0, 9.0), (n, mean, lo, hi)
assert abs(sd - 2.138089935) < 1e-6, sd
assert cystats.histogram([0, 1, 2, 3, 4], 0, 4, 2) == [2, 3]
print("cystats works")
