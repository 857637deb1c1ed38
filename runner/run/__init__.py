"""Orchestration of one ``sandbox-runner run``: sandbox, gateway, agent, verification, results."""
