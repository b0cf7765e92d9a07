"""Alerting: rules evaluated after every scan (:mod:`.rules`, pure) and notifications (:mod:`.notify`).

The service that keeps rules and alerts in the database and wires both together is
:class:`driftmgr_tui.services.alert_service.AlertService`.
"""
