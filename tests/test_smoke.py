from tests.conftest import Client


async def test_me_creates_the_user_on_first_sight(alice: Client) -> None:
    # when
    r = await alice.op("Me")
    # then
    assert r.data["me"]["email"] == "alice@example.com"
    assert r.data["me"]["timezone"] == "UTC"
