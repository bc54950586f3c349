"""Scenario operations: typed actions on a cluster, one module per concern. Scenario modules
(`scenarios/<id>.py`) are data that name these; the operations talk to the cluster only through
`lab.scenario.ops.ClusterOps` (helm, workloads, db, app), so fakes of those pieces test them.

    values   passwords made per run, values resolved for helm, replay lines of helm commands
    checks   expectations over an action's evidence (`holds`, `evidence_contains`, `excerpt_shows`)
    compose  `sequence` of actions
    helm     install / upgrade (then follow a rollout), rollback, helm test, uninstall
    wait     waiting for a crash, a log line, a settled rollout
    observe  collecting logs and looking without changing anything
    db       SQL through a database pod, password logins, Secret rotation
    app      the app's HTTP API
    schema   migration scenarios: history, columns, per-replica Flyway lines, compared before/after
"""
