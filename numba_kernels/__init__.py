"""Numba kernels of the LTSC codec: suffix array, repeat selection, substitution and expansion.

Private ``@njit`` kernels work on numpy arrays and scalars only; the public
wrappers in each module check dtype and shape. Importing this package makes
sure Numba has a writable cache directory (see :mod:`numba_kernels.config`).
"""

from numba_kernels import config as config  # noqa: F401  (sets NUMBA_CACHE_DIR before any kernel compiles)
