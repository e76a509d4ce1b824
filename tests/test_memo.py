"""graphql_api.memo: a dict with a bound, by count or by weight, oldest stores dropped first."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from graphql_api.memo import _WATCHING, Expiring, Memo, by_identity
from models import Event

stores = st.lists(st.tuples(st.integers(0, 20), st.lists(st.integers(), max_size=6)), max_size=200)


def _reference(
    sequence: list[tuple[int, list[int]]], size: int, weighed: bool
) -> dict[int, list[int]]:
    """What a memo holds after these stores: the most recently stored keys (a key
    stored again counts as new), as many as fit, newest last."""
    latest: dict[int, list[int]] = {}
    for key, value in sequence:
        latest.pop(key, None)
        latest[key] = value
    kept: list[tuple[int, list[int]]] = []
    total = 0
    for key, value in reversed(list(latest.items())):
        cost = len(value) + 1 if weighed else 1
        if kept and total + cost > size:
            break
        kept.append((key, value))
        total += cost
    return dict(reversed(kept))


@given(stores, st.integers(1, 12))
def test_a_memo_keeps_the_most_recent_entries_that_fit_in_its_count(
    sequence: list[tuple[int, list[int]]], size: int
) -> None:
    memo: Memo[int, list[int]] = Memo(size)
    for key, value in sequence:
        memo[key] = value
    assert list(memo.items()) == list(_reference(sequence, size, weighed=False).items())


@given(stores, st.integers(1, 30))
def test_a_weighed_memo_keeps_recent_entries_within_its_weight(
    sequence: list[tuple[int, list[int]]], size: int
) -> None:
    memo: Memo[int, list[int]] = Memo(size, weigh=lambda value: len(value) + 1)
    for key, value in sequence:
        memo[key] = value
    # then: what it keeps is each key's latest value, in the order they were stored,
    # the newest always; within its weight unless that one alone is heavier; its
    # weight is theirs (a store over the bound dropped the oldest at the time)
    latest = _reference(sequence, 10**6, weighed=True)
    assert [(k, latest[k]) for k in memo] == list(memo.items())
    assert list(memo) == [k for k in latest if k in memo]
    if sequence:
        assert sequence[-1][0] in memo
    assert memo.weight == sum(len(v) + 1 for v in memo.values())
    assert memo.weight <= size or len(memo) == 1


def test_an_entry_heavier_than_the_bound_is_still_kept_alone() -> None:
    memo: Memo[str, list[int]] = Memo(3, weigh=len)
    memo["small"] = [1]
    memo["big"] = [1, 2, 3, 4, 5]
    assert dict(memo) == {"big": [1, 2, 3, 4, 5]}
    del memo["big"]
    assert memo.weight == 0


def test_a_value_by_identity_is_kept_while_its_object_lives() -> None:
    class Doc:
        pass

    memo: dict[int, str] = {}
    watching = len(_WATCHING)
    doc = Doc()
    assert by_identity(memo, doc, "kept") == "kept"
    assert memo.get(id(doc)) == "kept"
    del doc  # the last reference: freed at once
    assert memo == {}
    assert len(_WATCHING) == watching  # nor is anything kept to watch it
    assert by_identity(memo, 42, "not kept") == "not kept"  # no weak reference to an int
    assert memo == {}


def test_a_document_without_a_hash_is_kept_by_identity_too() -> None:
    # given: what the memos watch, Beanie's documents (pydantic models: no hash)
    memo: dict[int, str] = {}
    watching = len(_WATCHING)
    event = Event.model_construct(title="Standup")
    with pytest.raises(TypeError):
        hash(event)
    # when
    by_identity(memo, event, "its cursor")
    # then: kept while it lives, and let go with it
    assert memo.get(id(event)) == "its cursor"
    del event
    assert memo == {}
    assert len(_WATCHING) == watching


operations = st.lists(
    st.one_of(
        st.tuples(st.just("set"), st.integers(0, 8), st.integers(0, 12)),
        st.tuples(st.just("get"), st.integers(0, 8), st.just(0)),
        st.tuples(st.just("del"), st.integers(0, 8), st.just(0)),
        st.tuples(st.just("wait"), st.just(0), st.integers(0, 7)),
    ),
    max_size=120,
)


@given(operations, st.integers(1, 30))
def test_an_expiring_memo_serves_what_was_stored_less_than_its_ttl_ago_within_its_weight(
    sequence: list[tuple[str, int, int]], size: int
) -> None:
    now = [0.0]
    ttl = 10.0
    memo: Expiring[int, bytes] = Expiring(size, ttl, len, clock=lambda: now[0])
    # the reference: (key, value, stored at), oldest first
    held: list[tuple[int, bytes, float]] = []
    for op, key, n in sequence:
        held = [h for h in held if now[0] < h[2] + ttl]  # gone once its ttl has passed
        if op == "set":
            value = bytes(n)
            memo[key] = value
            held = [h for h in held if h[0] != key]
            if n <= size:  # heavier than the whole bound: not kept
                held.append((key, value, now[0]))
            while sum(len(h[1]) for h in held) > size:
                held.pop(0)  # the oldest goes first
        elif op == "get":
            expected = {h[0]: h[1] for h in held}.get(key)
            assert memo.get(key) == expected
            assert (key in memo) == (expected is not None)
            if expected is not None:
                assert memo[key] == expected
        elif op == "del":
            if any(h[0] == key for h in held):
                del memo[key]
                held = [h for h in held if h[0] != key]
            else:
                assert memo.pop(key, None) is None
        else:
            now[0] += n
    held = [h for h in held if now[0] < h[2] + ttl]
    assert memo.keys() == [h[0] for h in held]
    assert memo.values() == [h[1] for h in held]
    assert memo.weight == sum(len(h[1]) for h in held) <= size


def test_an_entry_whose_time_has_passed_cannot_be_taken_out() -> None:
    now = [0.0]
    memo: Expiring[int, bytes] = Expiring(10, 10.0, len, clock=lambda: now[0])
    memo[0] = b""
    now[0] = 10.0  # exactly its ttl: gone
    assert memo.pop(0, None) is None
    memo[1] = b"x"
    now[0] = 20.0
    with pytest.raises(KeyError):
        del memo[1]


reads = st.lists(
    st.one_of(
        st.tuples(st.just("store"), st.integers(0, 20), st.lists(st.integers(), max_size=6)),
        st.tuples(st.just("read"), st.integers(0, 20), st.just([])),
    ),
    max_size=200,
)


@given(reads, st.integers(1, 30), st.booleans())
def test_an_entry_read_and_touched_is_kept_as_if_stored_again(
    sequence: list[tuple[str, int, list[int]]], size: int, weighed: bool
) -> None:
    # given: a memo whose reader touches what it reads, and the stores alone that a
    # memo without touches would need to end the same
    weigh = (lambda value: len(value) + 1) if weighed else None
    memo: Memo[int, list[int]] = Memo(size, weigh=weigh)
    stored: list[tuple[int, list[int]]] = []
    for op, key, value in sequence:
        if op == "store":
            memo[key] = value
            stored.append((key, value))
        elif (found := memo.get(key)) is not None:
            memo.touch(key)
            stored.append((key, found))
    # then: a read counts as a store of what it found: the least recently stored or
    # read go first, and the weight is that of what is kept
    again: Memo[int, list[int]] = Memo(size, weigh=weigh)
    for key, value in stored:
        again[key] = value
    assert list(memo.items()) == list(again.items())
    assert memo.weight == again.weight


def test_the_entry_read_last_outlives_one_stored_after_it() -> None:
    memo: Memo[str, int] = Memo(2)
    memo["a"], memo["b"] = 1, 2
    memo.touch("a")
    memo["c"] = 3
    assert dict(memo) == {"a": 1, "c": 3}
