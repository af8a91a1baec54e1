"""Both compose files as Compose v2 reads them (`docker compose config`): valid, and in step."""

from .conftest import compose_config
from .test_scale import REPLICAS
from .test_scale import SCALE_FILE

DEFAULT_FILE = "docker-compose.yml"


def test_each_file_is_a_project_of_its_own(compose):
    """Both files validate, and their `name:`s keep containers and volumes apart."""
    default = compose_config(compose, DEFAULT_FILE)
    scaled = compose_config(compose, SCALE_FILE)

    assert default["name"] != scaled["name"]
    # Compose prefixes each volume with its project's name: `make up` and
    # `make up-scale` never read each other's notes or sessions.
    default_volumes = {volume["name"] for volume in default["volumes"].values()}
    scaled_volumes = {volume["name"] for volume in scaled["volumes"].values()}
    assert all(name.startswith(default["name"] + "_") for name in default_volumes)
    assert all(name.startswith(scaled["name"] + "_") for name in scaled_volumes)
    assert not default_volumes & scaled_volumes


def test_scale_file_is_the_default_stack_but_for_the_auth_server(compose):
    """client_app and notes_api are docker-compose.yml's (`extends`), pointed at the proxy."""
    default = compose_config(compose, DEFAULT_FILE)["services"]
    scaled = compose_config(compose, SCALE_FILE)["services"]

    assert "auth_server" not in scaled
    for name in ("client_app", "notes_api"):
        assert scaled[name]["environment"].pop("AUTH_SERVER_INTERNAL_URL") == "http://auth-proxy:9000"
        assert default[name]["environment"].pop("AUTH_SERVER_INTERNAL_URL") == "http://auth-server:9000"
        # They wait for the proxy where docker-compose.yml's wait for the server.
        waits_for = set(default[name].pop("depends_on")) - {"auth_server"}
        assert set(scaled[name].pop("depends_on")) == waits_for | {"auth_proxy"}
        assert scaled[name] == default[name]
    # The replicas: the default server's image, built once, on PostgreSQL, one session key.
    assert scaled[REPLICAS[0]]["build"] == default["auth_server"]["build"]
    for name in REPLICAS:
        assert scaled[name]["image"] == default["auth_server"]["image"]
        assert scaled[name]["environment"]["DATABASE_URL"].startswith("postgresql://")
        assert scaled[name]["environment"] == scaled[REPLICAS[0]]["environment"]
        assert "ports" not in scaled[name]
    # The proxy takes the single server's place on the host.
    assert scaled["auth_proxy"]["ports"] == default["auth_server"]["ports"]
