"""rotation.py: the `rotation` counter is the replacement trigger of every generated password, token, bucket key and
TLS/SSH key (not the stack CA), so changing it replaces them all. (The engine ignores a trigger that was not set
before: stacks deployed before rotation existed just record "0".)"""

GENERATED = ("random:index/randomPassword:RandomPassword", "tls:index/privateKey:PrivateKey")


def generated(d):
    return [r for r in d.resources if r.typ in GENERATED]


def test_the_counter_is_always_the_trigger_so_the_first_change_replaces(deploy):
    d = deploy(runnerCount=1, devEnvironments=[{"name": "ann"}])
    triggers = {r.name: r.replacement_trigger for r in generated(d)}
    assert triggers.pop("stack-ca-key") is None and set(triggers.values()) == {"0"}


def test_a_rotation_replaces_every_generated_secret_and_key_but_the_ca(deploy):
    d = deploy(runnerCount=1, rotation=2, portainer={"enabled": True}, devEnvironments=[{"name": "ann"}])
    by_name = {r.name: r.replacement_trigger for r in generated(d)}
    assert by_name.pop("stack-ca-key") is None  # clients keep trusting the CA
    assert by_name and set(by_name.values()) == {"2"}, by_name
    # every kind the platform generates is in there
    for name in ("service-gitlab-root-password", "service-gitlab-admin-pat", "service-minio-mlflow-secret-key",
                 "service-mlflow-basic-auth-password", "service-postgres-data-superuser-password",
                 "service-proxy-tls-key", "dev-ann-host-key", "dev-ann-user-key", "dev-ann-jupyter-token"):
        assert name in by_name, name
