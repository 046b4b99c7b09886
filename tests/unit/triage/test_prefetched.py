"""A batch's languages detected together give what detecting each alone gives."""

from __future__ import annotations

from omniroute.triage import TriageConfig, triage
from omniroute.triage.language import SUPPORTED, Prefetched, detect_language

TEXTS = ["where is my order", "환불해주세요", "¿Dónde está mi pedido?", "我的订单在哪里", "5", ""]


class TestPrefetched:
    """The worker's batch results for language detection."""

    def test_filled_texts_answer_as_detect_language(self) -> None:
        """Every filled text's answer is detect_language's."""
        prefetched = Prefetched()
        prefetched.fill((text, SUPPORTED) for text in TEXTS)
        assert [prefetched(text, SUPPORTED) for text in TEXTS] == [
            detect_language(text, SUPPORTED) for text in TEXTS]

    def test_a_text_not_filled_is_detected(self) -> None:
        """A text (or language set) the batch did not hold is detected on the spot."""
        prefetched = Prefetched()
        prefetched.fill([("where is my order", ("en", "es"))])
        assert prefetched("where is my order", SUPPORTED) == "en"
        assert prefetched("환불해주세요", SUPPORTED) == "ko"

    def test_each_fill_replaces_the_last_batch(self) -> None:
        """The results never grow beyond one batch."""
        prefetched = Prefetched()
        prefetched.fill([("where is my order", SUPPORTED)])
        prefetched.fill([("환불해주세요", SUPPORTED)])
        assert list(prefetched.found) == [("환불해주세요", SUPPORTED)]

    def test_triage_with_prefetched_is_triage(self) -> None:
        """triage(detect=...) with batch results equals plain triage."""
        prefetched = Prefetched()
        config = TriageConfig()
        prefetched.fill((text, config.languages) for text in TEXTS)
        assert [triage(t, config, None, prefetched) for t in TEXTS] == [
            triage(t, config) for t in TEXTS]
