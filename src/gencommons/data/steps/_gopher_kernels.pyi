"""Type stubs of the compiled ``_gopher_kernels.pyx``."""

import numpy as np

def walk(pos: np.ndarray, group: np.ndarray, n: int, n_groups: int) -> np.ndarray: ...
