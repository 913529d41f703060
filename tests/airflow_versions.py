"""What differs between the Airflow lines the tests run on (`make test`: 3.3; `make compat`: the
newest 3.1.x and 3.2.x), in one place."""

from __future__ import annotations

import pytest

from airflow_provider_jobstatus.version_compat import AIRFLOW_V_3_2_PLUS, AIRFLOW_V_3_3_PLUS

#: ``start_from_trigger`` works from Airflow 3.3; older lines refuse it with a clear error
needs_start_from_trigger = pytest.mark.skipif(
    not AIRFLOW_V_3_3_PLUS, reason="start_from_trigger needs Airflow 3.3 (older lines refuse it)"
)
refuses_start_from_trigger = pytest.mark.skipif(
    AIRFLOW_V_3_3_PLUS, reason="Airflow 3.3+ supports start_from_trigger"
)

#: Airflow 3.1 drops a connection whose extra is not a JSON object and says it "isn't defined"
#: before any provider code sees it; 3.2+ hands it over, and the hook names the field
AIRFLOW_HANDS_OVER_UNPARSABLE_EXTRA = AIRFLOW_V_3_2_PLUS
