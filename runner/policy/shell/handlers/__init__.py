"""Program handlers, one module per family; :mod:`runner.policy.shell.registry` maps
program names to them."""
