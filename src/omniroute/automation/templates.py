# ruff: noqa: RUF001  (full-width punctuation is correct in Chinese and Japanese text)
"""Texts automation sends, per workspace, channel and language.

Look-up order for a template ``name``: the workspace's ``(channel, language)``,
its ``(*, language)``, then the defaults below for the language, then English.
Placeholders: ``{wait}`` (rounded expected wait in words), ``{opening}`` (next
opening time in words), ``{position}``.
"""

from __future__ import annotations

from collections.abc import Mapping

DEFAULTS: dict[str, dict[str, str]] = {
    "acknowledgement": {
        "en": "Thanks for your message! An agent will be with you {wait}.",
        "ko": "문의 주셔서 감사합니다. 상담원이 {wait} 답변드리겠습니다.",
        "ja": "お問い合わせありがとうございます。担当者が{wait}対応いたします。",
        "zh": "感谢您的留言！客服将{wait}回复您。",
        "es": "¡Gracias por tu mensaje! Un agente te atenderá {wait}.",
    },
    "ask_order_number": {
        "en": "If your question is about an order, please send us the order number.",
        "ko": "주문 관련 문의라면 주문번호를 함께 보내주세요.",
        "ja": "ご注文に関するお問い合わせの場合は、注文番号をお送りください。",
        "zh": "如果是订单相关问题，请发送订单号。",
        "es": "Si tu consulta es sobre un pedido, envíanos el número de pedido.",
    },
    "out_of_office": {
        "en": "Thanks for your message. We're closed right now and will reply when we "
              "open, {opening}.",
        "ko": "문의 주셔서 감사합니다. 지금은 상담 시간이 아닙니다. {opening}에 상담이 시작되면 "
              "바로 답변드리겠습니다.",
        "ja": "お問い合わせありがとうございます。現在は営業時間外です。{opening}の営業開始後に"
              "ご返信いたします。",
        "zh": "感谢您的留言。我们现在不在服务时间，将在{opening}开始服务后回复您。",
        "es": "Gracias por tu mensaje. Ahora estamos cerrados; te responderemos cuando "
              "abramos, {opening}.",
    },
    "escalated": {
        "en": "Sure, I'm connecting you with a member of our team. Please stay here.",
        "ko": "네, 상담원에게 연결해 드리겠습니다. 잠시만 기다려 주세요.",
        "ja": "かしこまりました。担当者におつなぎします。少々お待ちください。",
        "zh": "好的，正在为您转接人工客服，请稍候。",
        "es": "Claro, te pongo en contacto con una persona de nuestro equipo.",
    },
    "survey": {
        "en": "How would you rate our support? Reply with a number from 1 (bad) to 5 (great).",
        "ko": "상담은 만족스러우셨나요? 1(불만족)부터 5(매우 만족)까지 숫자로 답해 주세요.",
        "ja": "今回の対応はいかがでしたか？1（不満）から5（大変満足）の数字でお答えください。",
        "zh": "您对本次服务满意吗？请回复1（不满意）到5（非常满意）的数字。",
        "es": "¿Cómo valorarías nuestra atención? Responde con un número del 1 (mala) "
              "al 5 (excelente).",
    },
    "survey_thanks": {
        "en": "Thank you for your rating! Anything you'd like to add? Just reply here.",
        "ko": "평가해 주셔서 감사합니다! 더 남기실 말씀이 있으면 편하게 적어 주세요.",
        "ja": "評価ありがとうございます！ご意見があればこちらにご返信ください。",
        "zh": "感谢您的评价！如有其他意见，请直接回复。",
        "es": "¡Gracias por tu valoración! Si quieres añadir algo, responde aquí.",
    },
}
RATING_LABELS: dict[str, tuple[str, ...]] = {
    "en": ("1 Bad", "2 Poor", "3 OK", "4 Good", "5 Great"),
    "ko": ("1 매우 불만족", "2 불만족", "3 보통", "4 만족", "5 매우 만족"),
    "ja": ("1 不満", "2 やや不満", "3 普通", "4 満足", "5 大変満足"),
    "zh": ("1 不满意", "2 较不满意", "3 一般", "4 满意", "5 非常满意"),
    "es": ("1 Mala", "2 Regular", "3 Aceptable", "4 Buena", "5 Excelente"),
}

Templates = Mapping[str, Mapping[str, str]]
"""name -> ``channel:language`` or ``*:language`` -> text."""


def render(name: str, language: str, channel: str, templates: Templates | None = None,
           **values: object) -> str:
    """The text of template ``name`` for this channel and language, placeholders filled."""
    own = (templates or {}).get(name, {})
    defaults = DEFAULTS.get(name, {})
    text = (own.get(f"{channel}:{language}") or own.get(f"*:{language}")
            or defaults.get(language) or own.get("*:en") or defaults.get("en"))
    if text is None:
        raise KeyError(f"no template {name!r} for {channel}:{language}")
    return text.format(**values)
