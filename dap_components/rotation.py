"""Credential rotation: the stack config's `rotation` counter. Changing it (0 -> 1 -> 2 ...) makes the next
`pulumi up` generate every password, token, bucket key and TLS/SSH key of the platform anew (the stack CA stays:
clients keep trusting it). The services then take the new values the way they take them after destroy + up: new
containers with the new files, and the provisioning steps that reconcile retained state with them."""

from __future__ import annotations

from typing import Optional

import pulumi


def rotating(rotation: int, opts: Optional[pulumi.ResourceOptions] = None) -> pulumi.ResourceOptions:
    """``opts`` plus a replacement trigger on the counter. At 0 no trigger is set, so stacks that never rotated
    (and those deployed before rotation existed) see no change."""
    extra = pulumi.ResourceOptions(replacement_trigger=str(rotation)) if rotation else pulumi.ResourceOptions()
    return pulumi.ResourceOptions.merge(opts, extra)
