"""CrossGuard policy pack: every stack of the platform must pass it with no violation.

    pulumi preview --policy-pack policy    (scripts/pulumi, or the Automation API's policy_packs=)
"""

from pulumi_policy import (
    EnforcementLevel,
    PolicyPack,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

import rules


def on(typ, fn, *extra):
    def validate(args: ResourceValidationArgs, report: ReportViolation):
        if args.resource_type == typ:
            fn(args.props, report, *extra)

    return validate


def data_networks(args: StackValidationArgs, report: ReportViolation):
    rules.internal_networks_for_data(((r.resource_type, r.props) for r in args.resources), report)


POLICIES = [
    ResourceValidationPolicy("no-privileged-containers", "No privileged container (runners only when configured).", on(rules.CONTAINER, rules.no_privileged)),
    ResourceValidationPolicy("docker-socket-only-portainer-and-runners", "The Docker socket is mounted only into portainer, gitlab-runner and the watchdog.", on(rules.CONTAINER, rules.docker_socket_only_for_portainer_and_runners)),
    ResourceValidationPolicy("host-ports-only-on-proxies", "Only proxy containers publish host ports.", on(rules.CONTAINER, rules.ports_only_on_proxies)),
    ResourceValidationPolicy("long-running-container-guarantees", "Restart policy, healthcheck, log rotation, pinned image.", on(rules.CONTAINER, rules.long_running_guarantees)),
    ResourceValidationPolicy("pinned-images", "Images have a version tag or digest, never latest.", on(rules.IMAGE, rules.pinned_image)),
    ResourceValidationPolicy("secrets-as-files", "No secret-looking environment variable carries a value.", on(rules.CONTAINER, rules.secret_env_only_as_files)),
    ResourceValidationPolicy("hardened-containers", "no-new-privileges and a memory limit.", on(rules.CONTAINER, rules.hardened)),
    ResourceValidationPolicy("state-volumes-retained", "State volumes survive pulumi destroy.", on(rules.VOLUME, rules.state_volume_retained)),
    ResourceValidationPolicy("gitlab-upgrade-stops", "A GitLab upgrade does not skip a required upgrade stop.", on(rules.COMMAND, rules.gitlab_upgrade_stops)),
    StackValidationPolicy("data-on-internal-networks", "Databases and object storage only on internal networks.", data_networks),
]

PolicyPack(name="dap-platform", enforcement_level=EnforcementLevel.MANDATORY, policies=POLICIES)
