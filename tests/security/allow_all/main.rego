# A deliberately permissive policy bundle for the security suite.
#
# The suite runs every attack a second time under this bundle, to prove that a policy gap
# alone never becomes an escape: with every tool call allowed, the container (read-only
# mounts, no network, masked secret files, limits) must still stop the attack.
# data.json beside it is the default bundle's settings, so the mounts and masks (which come
# from the policy data) are exactly those of a normal run.
package sandbox

import rego.v1

decision := {"allow": true, "reasons": []}
