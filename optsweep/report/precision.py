"""The precision at which figures and tables show values.

Results keep full precision. What is drawn and tabulated is first rounded to ``MANTISSA_BITS``
significant bits (a relative step of about 1e-6: six significant decimal digits), so results
that agree to about that precision (two machines or BLAS builds differing in the 10th digit)
give byte-identical figures and tables, and a fresh ``make sweep`` leaves the committed ones
unchanged. Tables print the rounded values with six significant digits.

The grid is binary, not decimal, on purpose: optimizers such as Nelder-Mead produce iterates
like -0.4671875 that lie exactly on decimal rounding boundaries, where a difference in the
10th digit would flip the last shown digit. A value can still lie within its difference of a
binary boundary; for a difference of 1e-10 that happens to about one value in ten thousand.
``python -m optsweep.report.compare`` compares results in full, within a stated tolerance.
"""

import numpy as np

MANTISSA_BITS = 20
DECIMAL_DIGITS = 6  # how tables print the rounded values


def shown(values) -> np.ndarray:
    """``values`` rounded to ``MANTISSA_BITS`` significant bits (0, nan, inf kept)."""
    array = np.array(values, dtype=float)
    finite = np.isfinite(array)
    mantissa, exponent = np.frexp(array[finite])
    scale = float(2**MANTISSA_BITS)
    array[finite] = np.ldexp(np.round(mantissa * scale) / scale, exponent)
    return array
