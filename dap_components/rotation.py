"""Credential rotation: the stack config's `rotation` counter. Changing it (0 -> 1 -> 2 ...) makes the next
`pulumi up` generate every password, token, bucket key and TLS/SSH key of the platform anew (the stack CA stays:
clients keep trusting it). The services then take the new values the way they take them after destroy + up: new
containers with the new files, and the provisioning steps that reconcile retained state with them."""

from __future__ import annotations

from typing import Optional

import pulumi


def rotating(rotation: int, opts: Optional[pulumi.ResourceOptions] = None) -> pulumi.ResourceOptions:
    """``opts`` plus a replacement trigger on the counter, always set (0 too): the engine replaces a resource when
    its trigger changes from one value to another, and ignores a trigger that was not set before, so a stack
    deployed before rotation existed records "0" on its next `up` without any replacement."""
    return pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(replacement_trigger=str(rotation)))
