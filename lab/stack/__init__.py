"""The rhdemo stack on a cluster, split by concern:

- `orchestration`: `Stack` — `up` (the steps under a lock), `down`, `status`, the lookups of logs/psql/values
- `steps`: `lab up` as EnsureCluster -> EnsureImages -> EnsureRelease -> WaitReady over an `UpContext`
- `desired`: the desired release (values, fingerprint), the lab's own values
- `diagnosis`: what failed and why (events, last log lines of what is not ready)
- `status`: the structured states the steps and components report (the CLI renders them)
"""

from lab.stack.desired import DesiredRelease, desired_release, lab_values, password_command
from lab.stack.diagnosis import StackNotReady, diagnose, failing_objects
from lab.stack.orchestration import Stack, StatusReport, UpResult, dump_yaml
from lab.stack.status import ComponentStatus, Progress, State, StepStatus, component_lines, component_statuses

__all__ = [
    "ComponentStatus", "DesiredRelease", "Progress", "Stack", "StackNotReady", "State", "StatusReport", "StepStatus",
    "UpResult", "component_lines", "component_statuses", "desired_release", "diagnose", "dump_yaml",
    "failing_objects", "lab_values", "password_command",
]
