"""S10 codes the hub allocates from a carrier's block: durable, never given twice, the same code
back for a result sent again, a new one after a refusal, and the alarm before the block runs out."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from hub.store import HubStore
from hub.store.item_codes import CodeState, ItemCodes
from mappings.postal.s10 import ItemCodeRange, is_valid_s10

BLOCK = ItemCodeRange.parse("RH20000000-RH20000099", alert_remaining=10)


def test_codes_are_valid_consecutive_and_the_same_again_for_an_unsettled_result(store: HubStore) -> None:
    codes = ItemCodes(store)
    first = codes.allocate("vnpost", BLOCK, ["A/KQ", "B/KQ"])
    assert list(first.codes.values()) == [BLOCK.code(20000000), BLOCK.code(20000001)]
    assert all(is_valid_s10(c) and c in BLOCK for c in first.codes.values())
    again = codes.allocate("vnpost", BLOCK, ["B/KQ", "C/KQ"])  # B was sent, its answer never came
    assert again.codes == {"B/KQ": first.codes["B/KQ"], "C/KQ": BLOCK.code(20000002)}
    assert (again.status.remaining, again.short) == (97, [])


def test_allocation_survives_a_restart_and_a_void_code_is_never_given_again(store: HubStore) -> None:
    first = ItemCodes(store).allocate("vnpost", BLOCK, ["A/KQ"])
    ItemCodes(store).settle({first.codes["A/KQ"]: CodeState.VOID})  # VNPost refused the order
    restarted = ItemCodes(HubStore(store.db.url))  # a new process on the same store
    second = restarted.allocate("vnpost", BLOCK, ["A/KQ"])  # the corrected result, planned again
    assert second.codes["A/KQ"] != first.codes["A/KQ"]
    restarted.settle({second.codes["A/KQ"]: CodeState.USED})
    assert restarted.states("vnpost") == {"allocated": 0, "used": 1, "void": 1}
    assert restarted.allocate("vnpost", BLOCK, ["A/KQ"]).codes["A/KQ"] not in first.codes.values()


def test_concurrent_batches_never_share_a_code(store: HubStore) -> None:
    def batch(n: int) -> list[str]:
        return list(ItemCodes(store).allocate("vnpost", BLOCK, [f"{n}-{i}/KQ" for i in range(8)]).codes.values())

    with ThreadPoolExecutor(max_workers=6) as pool:
        given = [code for codes in pool.map(batch, range(12)) for code in codes]
    assert len(given) == len(set(given)) == 96


def test_the_alarm_rings_before_the_block_is_exhausted_and_what_does_not_fit_waits(store: HubStore) -> None:
    codes = ItemCodes(store)
    early = codes.allocate("vnpost", BLOCK, [f"{i}/KQ" for i in range(85)])
    assert not early.status.alert and early.status.remaining == 15
    near = codes.allocate("vnpost", BLOCK, [f"x{i}/KQ" for i in range(5)])
    assert near.status.alert and near.status.remaining == 10  # 10 % left: ask VNPost for a new block
    last = codes.allocate("vnpost", BLOCK, [f"y{i}/KQ" for i in range(12)])
    assert (len(last.codes), last.short, last.status.remaining) == (10, ["y10/KQ", "y11/KQ"], 0)
    (stored,) = codes.blocks()
    assert stored.as_dict() == {"carrier": "vnpost", "series": BLOCK.series, "size": 100, "remaining": 0,
                                "alert_at": 10, "alert": True}  # fmt: skip
