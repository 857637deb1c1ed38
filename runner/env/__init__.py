"""Project environments: what a project needs installed, and the image that has it.

- :mod:`runner.env.detect`: the dependency spec of a project, detected from ``backend/``
  (read through :mod:`runner.hostfs`: those files may be the agent's) or given in
  ``[environment]``;
- :mod:`runner.env.build`: the environment image ``sandbox-runner-env:<hash>``, built by the
  runner's setup phase in a hardened build container and committed only when every step
  succeeded; reused until an input changes.
"""
