"""Small DataFrame helpers shared by the maths modules."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd


def typed_frame(rows: Sequence[Mapping[str, Any]], dtypes: Mapping[str, Any]) -> pd.DataFrame:
    """``pd.DataFrame(rows).astype(dtypes)`` that also works when ``rows`` is empty
    (then the result has the columns of ``dtypes`` and no rows, instead of a KeyError)."""
    if not rows:
        return pd.DataFrame(columns=list(dtypes)).astype(dict(dtypes))
    return pd.DataFrame(rows).astype(dict(dtypes))
