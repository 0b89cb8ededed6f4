"""Redriving dead letters by a filter: what a filter reads as, and what it matches."""

from postroom.dashboard.redrive import DeadMatch, matching, read_match
from postroom.ports.dead import DeadLetter


class Dead:
    """Dead letters served a page at a time, in id order, as DeadLetters.dead serves them."""

    def __init__(self, letters: list[DeadLetter]) -> None:
        self.letters = sorted(letters, key=lambda d: d.id)

    async def dead(self, limit: int, after: str = "") -> list[DeadLetter]:
        return [d for d in self.letters if d.id > after][:limit]

    async def redrive(self, ids: list[str]) -> list[str]:
        raise AssertionError("not redriven here")


def test_a_filter_names_a_provider_an_error_class_or_both() -> None:
    """ "" means any; naming neither, or an error class that is none, is refused."""
    assert read_match({"provider": "mailgun", "error": ""}) == DeadMatch("mailgun", None)
    assert read_match({"error": "down"}) == DeadMatch(None, "down")
    assert isinstance(read_match({"provider": "", "error": ""}), str)
    assert "error class" in str(read_match({"error": "sad"}))
    assert isinstance(read_match(["mailgun"]), str)
    assert isinstance(read_match({"provider": 3}), str)


async def test_every_page_is_searched_for_matches() -> None:
    """Matches beyond the first page of dead letters are found too."""
    letters = [
        DeadLetter(f"e{n:04d}", 0.0, 1, "mailgun" if n % 2 else "ses", "down" if n < 900 else "")
        for n in range(1200)
    ]
    found = await matching(Dead(letters), DeadMatch("mailgun", "down"))
    assert found == [f"e{n:04d}" for n in range(1, 900, 2)]
