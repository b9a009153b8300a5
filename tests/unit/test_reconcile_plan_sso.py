"""The SSO planners are pure: the realm the kit wants vs the one read back from the SSO, and the 3scale
authentication provider as the Admin API lists it. Observed shapes follow Keycloak's admin REST reads
(services/…/admin/RealmAdminResource.java `getRealm`: top level only; ClientsResource.java `getClients`: a
confidential client's `secret` included; UsersResource: no credentials) and a KeycloakRealmImport's spec.realm;
the provider follows porta admin/api/authentication_providers_controller.rb. Live: test_reconcile_sso_realm.py."""

from __future__ import annotations

import copy

from maas_helpers.reconcile.actions import Links, Write
from maas_helpers.reconcile.sso import plan_sso_provider, plan_sso_realm, realm_changes
from maas_helpers.results import Change, FieldChange

SECRET = "s3cret-value-0123456789abcdefXYZW"
DESIRED = {
    "realm": "maas", "enabled": True, "registrationAllowed": True,
    "clients": [{"clientId": "3scale-portal", "secret": SECRET, "publicClient": False,
                 "redirectUris": ["https://portal/auth/keycloak/callback", "https://portal/other"],
                 "protocolMappers": [{"name": "org_name", "config": {"claim.name": "org_name"}}]}],
    "users": [{"username": "demo", "email": "demo@example.com",
               "credentials": [{"type": "password", "value": "demo-pa55-word"}]}],
}


def _keycloak_read() -> dict:
    """What Keycloak's GETs give back for DESIRED: extra defaults, ids, set order lost, no credentials."""
    observed = copy.deepcopy(DESIRED)
    observed.update(sslRequired="external", defaultSignatureAlgorithm="RS256")
    client = observed["clients"][0]
    client.update(id="5f0c-uuid", surrogateAuthRequired=False, redirectUris=list(reversed(client["redirectUris"])))
    client["protocolMappers"][0].update(id="m-1", protocol="openid-connect")
    observed["users"] = [{"id": "u-1", "username": "demo", "email": "demo@example.com", "enabled": True}]
    return observed


def test_no_realm_is_created() -> None:
    action = plan_sso_realm(DESIRED, None, "https://sso/realms/maas/.well-known/openid-configuration")
    assert (action.kind, action.name, action.change) == ("realm", "maas", Change.CREATED)
    assert action.detail == "clients: 3scale-portal" and action.writes == ()


def test_what_keycloak_reads_back_for_the_same_realm_is_in_sync() -> None:
    assert realm_changes(DESIRED, _keycloak_read()) == ()
    assert plan_sso_realm(DESIRED, _keycloak_read(), None).change is Change.UNCHANGED


def test_a_changed_redirect_uri_and_flag_are_field_changes() -> None:
    observed = _keycloak_read()
    observed["clients"][0]["redirectUris"] = ["https://elsewhere/cb"]
    observed["registrationAllowed"] = False
    action = plan_sso_realm(DESIRED, observed, None)
    assert action.change is Change.UPDATED
    assert action.changes == (
        FieldChange("registrationAllowed", False, True),
        FieldChange("clients[3scale-portal].redirectUris", ["https://elsewhere/cb"],
                    DESIRED["clients"][0]["redirectUris"]),
    )


def test_a_secret_difference_is_shown_masked() -> None:
    observed = _keycloak_read()
    observed["clients"][0]["secret"] = "someone-rotated-it-by-hand-0000"
    (change,) = realm_changes(DESIRED, observed)
    assert change == FieldChange("clients[3scale-portal].secret", "****0000", "****XYZW")
    assert SECRET not in str(change) and "rotated" not in str(change)


def test_missing_client_user_or_mapper_is_named() -> None:
    observed = _keycloak_read()
    observed["clients"][0]["protocolMappers"] = []
    observed["users"] = []
    assert realm_changes(DESIRED, observed) == (
        FieldChange("clients[3scale-portal].protocolMappers[org_name]", "absent", "present"),
        FieldChange("users[demo]", "absent", "present"))
    observed["clients"] = []
    assert FieldChange("clients[3scale-portal]", "absent", "present") in realm_changes(DESIRED, observed)


def test_credentials_are_compared_where_the_provider_shows_them() -> None:
    """A KeycloakRealmImport holds the (filled) password; Keycloak's users API never returns one."""
    imported = copy.deepcopy(DESIRED)
    imported["users"][0]["credentials"][0]["value"] = "another-password-1234"
    (change,) = realm_changes(DESIRED, imported)
    assert change.field == "users[demo].credentials[password].value"
    assert (change.old, change.new) == ("****1234", "****")  # short secrets: no characters at all


LINKS = Links("https://admin.example")
WANT = {"client_id": "3scale-portal", "site": "https://sso/realms/maas", "published": True,
        "automatically_approve_accounts": True, "skip_ssl_certificate_verification": False}


def test_the_provider_is_created_with_its_secret_and_provides_its_callback() -> None:
    action = plan_sso_provider("keycloak", WANT, SECRET, None, WANT["site"], LINKS)
    assert action.change is Change.CREATED and action.detail == WANT["site"]
    assert action.writes == (Write("POST", "/admin/api/authentication_providers.json",
                                   {"kind": "keycloak", "client_secret": SECRET, **WANT}, provides="provider"),)


def test_the_provider_updates_only_what_differs_and_masks_the_secret() -> None:
    observed = {"id": 9, **WANT, "published": False}
    action = plan_sso_provider("keycloak", WANT, SECRET, observed, WANT["site"], LINKS)
    assert action.change is Change.UPDATED and action.detail == "published"
    assert action.writes == (Write("PUT", "/admin/api/authentication_providers/{}.json", {"published": True},
                                   args=(9,)),)
    shown_secret = {**observed, "published": True, "client_secret": "old-secret-abcd"}
    action = plan_sso_provider("keycloak", WANT, SECRET, shown_secret, WANT["site"], LINKS)
    assert action.writes[0].body == {"client_secret": SECRET}
    assert action.changes == (FieldChange("client_secret", "****", "****XYZW"),) and SECRET not in action.detail
    same = plan_sso_provider("keycloak", WANT, SECRET, {"id": 9, **WANT}, WANT["site"], LINKS)
    assert same.change is Change.UNCHANGED and same.writes == ()
