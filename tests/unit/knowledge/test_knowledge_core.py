"""The knowledge base's pure core: tokens, ranking and the Markdown article format."""

from __future__ import annotations

import pytest

from omniroute.knowledge.articles import (
    ArticleDraft,
    InvalidArticle,
    parse_markdown,
    render_markdown,
    summary,
)
from omniroute.knowledge.ranking import Candidate, rank
from omniroute.knowledge.tokens import is_korean, stem_en, stem_ko, tokens


class TestTokens:
    def test_korean_particles_fold_onto_the_same_bigrams(self) -> None:
        """환불은, 환불을 and 환불받고 all search as 환불."""
        assert tokens("환불은") == tokens("환불을") == tokens("환불받고") == ["환불"]

    def test_korean_compounds_match_across_spacing(self) -> None:
        """배송조회 and 배송 조회 share the bigrams 배송 and 조회."""
        assert {"배송", "조회"} <= set(tokens("배송조회")) and tokens("배송 조회") == ["배송", "조회"]

    def test_question_words_are_dropped(self) -> None:
        """Words every question has (어떻게, how, my) never count."""
        assert tokens("반품하려면 어떻게 하나요") == ["반품"]
        assert tokens("How do I track my delivery?") == ["track", "delivery"]

    def test_identifiers_are_not_search_words(self) -> None:
        """Order and phone numbers never count; short numbers and 2fa do."""
        assert tokens("order A-123456 2fa 30 days 01012345678") == ["order", "2fa", "30", "day"]

    def test_english_inflections_share_a_stem(self) -> None:
        """refunds/refund, shipping/shipped/ships fold together."""
        assert stem_en("refunds") == "refund"
        assert {stem_en(w) for w in ("shipping", "shipped", "ships")} == {"ship"}

    def test_a_negation_joins_the_word_it_negates(self) -> None:
        """User run 58: "has not arrived" matched "My item arrived damaged" on "arrived".
        A negation reaches over stop words ("not yet been shipped"), never past the end of a
        clause (keywords are joined with commas), and contractions are negations."""
        assert tokens("My order has not arrived") == ["order", "arriv", "not_arriv"]
        assert tokens("My item arrived damaged") == ["item", "arriv", "damag"]
        assert tokens("It has not yet been shipped") == ["ship", "not_ship"]
        assert tokens("I haven't received it") == tokens("I didn\u2019t received it") == [
            "receiv", "not_receiv"]
        assert tokens("I can't log in") == ["log", "not_log"]
        assert tokens("won't arrive") == ["arrive", "not_arrive"]
        assert tokens("delivered but not, stolen") == ["deliver", "stolen"]

    def test_an_order_number_leaves_no_word_behind(self) -> None:
        """``ORD-1234`` left ``ord``, a word no article has, and halved the right one's score."""
        assert tokens("my order ORD-1234 and #99881 and A-123456") == ["order"]
        assert tokens("mp3 covid19 2fa") == ["mp3", "covid19", "2fa"]

    def test_an_order_number_label_keeps_only_order(self) -> None:
        """User run 60: "주문번호 ORD-5151" left 번호, which *비밀번호 재설정* has, and the
        password article ranked above the damaged kettle the message was about."""
        assert tokens("주문번호 ORD-5151") == tokens("주문 번호는 #51515") == ["주문"]
        assert tokens("order number ORD-1234") == tokens("order no. A-123456") == ["order"]
        assert tokens("주문번호를 모르겠어요")[:3] == ["주문", "문번", "번호"]  # no number: a word

    def test_a_connective_ending_is_stripped(self) -> None:
        """깨져서 (broken, so …) is 깨져, the damaged-item article's keyword (user run 60)."""
        assert stem_ko("깨져서") == "깨져" and "깨져" in tokens("상품이 깨져서 왔어요")

    def test_ss_is_no_plural(self) -> None:
        assert stem_en("address") == stem_en("addresses") == "address"

    def test_language_of_a_message(self) -> None:
        """Mostly Hangul is Korean, even with a Latin brand name."""
        assert is_korean("카카오페이로 결제할 수 있나요 kakaopay")
        assert not is_korean("where is my parcel")


def candidate(article_id: str, title: str, body: str = "") -> Candidate:
    return Candidate(article_id, "en", title, frozenset(tokens(title)), frozenset(),
                     frozenset(tokens(body)))


class TestRanking:
    def test_title_beats_body(self) -> None:
        """An article with the words in its title ranks above one with them in its body."""
        found = rank(tokens("reset password"),
                     [candidate("b", "Account", "reset your password here"),
                      candidate("a", "Reset password")], {"reset": 2, "password": 2}, 10)
        assert [s.candidate.article_id for s in found] == ["a", "b"]
        assert found[0].score == 1.0

    def test_words_no_article_has_lower_the_score(self) -> None:
        """A question mostly about something else scores low: the bot should not answer."""
        known = rank(tokens("refund"), [candidate("r", "Refund policy")], {"refund": 1}, 20)
        odd = rank(tokens("refund vegan dinner recipes"), [candidate("r", "Refund policy")],
                   {"refund": 1}, 20)
        assert odd[0].score < 0.5 < known[0].score

    def test_no_query_no_results(self) -> None:
        """An empty query ranks nothing."""
        assert rank([], [candidate("a", "Anything")], {}, 1) == []


class TestArticles:
    TEXT = ("---\nid: refund-policy\nlanguage: ko\ncategory: refunds\ntitle: 환불 규정\n"
            "keywords: 환불, 반품\nstatus: published\n---\n**14일** 이내 환불됩니다.\n")

    def test_markdown_round_trip(self) -> None:
        """A parsed file renders back to the same text."""
        draft = parse_markdown(self.TEXT)
        assert draft == ArticleDraft(article_id="refund-policy", language="ko",
                                     category="refunds", title="환불 규정",
                                     keywords=["환불", "반품"], body="**14일** 이내 환불됩니다.\n")
        assert render_markdown(draft) == self.TEXT

    @pytest.mark.parametrize("text, problem", [
        ("no front matter", "no front matter"),
        ("---\nid: Bad Id\nlanguage: en\ntitle: t\n---\n", "article_id"),
        ("---\nid: a\nlanguage: en\n---\n", "title"),
        ("---\nid: a\nlanguage: en\ntitle t\n---\n", "expected 'key: value'"),
    ])
    def test_bad_files_are_refused_precisely(self, text: str, problem: str) -> None:
        """A bad file's error names the file and what is wrong."""
        with pytest.raises(InvalidArticle, match=problem):
            parse_markdown(text, "kb/x.md")

    def test_summary_for_chat(self) -> None:
        """Markdown marks are dropped, links keep their address, long text is cut."""
        assert summary("## Title\n**Bold** [here](https://x.test)") == \
            "Title\nBold here (https://x.test)"
        assert summary("word " * 200, 50).endswith("…")
