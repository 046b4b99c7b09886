"""Cues in a message: asking for a human, escalation language, spam.

Pure pattern checks, Korean and English, on the raw text.
"""

from __future__ import annotations

import re

HUMAN_REQUEST = re.compile(
    r"상담원|상담사|사람(?:이랑|하고|과|이|한테|으로|이랑은)?\s*(?:얘기|이야기|대화|통화|연결|바꿔)"
    r"|사람\s*(?:좀\s*)?(?:바꿔|불러|연결)|직원\s*(?:연결|바꿔|불러)|담당자\s*(?:연결|바꿔|불러|랑|와|하고)"
    r"|실제\s*사람|진짜\s*사람|전화\s*연결|봇\s*말고|로봇\s*말고|챗봇\s*말고|사람\s*없"
    r"|\b(?:talk|speak|chat)\s+(?:to|with)\s+(?:a\s+|an\s+|the\s+|some\s*one|somebody|real\s+)?"
    r"(?:human|person|agent|representative|rep|someone|somebody|people|manager|operator)"
    r"|\b(?:real|live)\s+(?:human|person|agent)|\bhuman\s+(?:agent|please|support)"
    r"|\b(?:agent|representative|operator)\s+please\b|\bconnect\s+me\s+(?:to|with)\b",
    re.IGNORECASE,
)
THREAT = re.compile(
    r"소송|고소|법적|변호사|소비자원|공정위|신고하|언론|lawyer|attorney|\bsue\b|lawsuit"
    r"|legal action|\bbbb\b|better business|small claims|report you",
    re.IGNORECASE,
)
PROFANITY = re.compile(
    r"씨발|시발|ㅅㅂ|ㅆㅂ|병신|ㅂㅅ|개새|좆|존나|졸라|지랄|\bfuck|\bshit|\bdamn|\bcrap\b|\bwtf\b"
    r"|bullshit|\bass(?:hole)?\b",
    re.IGNORECASE,
)
URL = re.compile(r"https?://\S+|www\.\S+|\b\S+\.(?:ly|gl|me|io|xyz|top|click)/\S*", re.IGNORECASE)
SHORTENER = re.compile(r"bit\.ly|tinyurl|goo\.gl|t\.co/|is\.gd|ow\.ly|cutt\.ly", re.IGNORECASE)
SPAM_WORDS = re.compile(
    r"카지노|바카라|토토|도박|대출\s*(?:가능|문의|승인)|무료\s*(?:쿠폰|증정)\s*클릭|코인\s*리딩|리딩방"
    r"|성인|수익\s*보장|crypto|bitcoin|\bforex\b|casino|viagra|free money|click here"
    r"|you (?:have )?won|act now|limited offer|seo services|guaranteed income|make money fast",
    re.IGNORECASE,
)
REPEAT = re.compile(r"(.)\1{9,}")


def asks_for_human(text: str) -> bool:
    """Whether the customer asks for a person ("상담원 연결", "talk to a human")."""
    return bool(HUMAN_REQUEST.search(text))


ASCII_UPPER = re.compile(r"[A-Z]")
ASCII_LOWER = re.compile(r"[a-z]")


def shouting(text: str) -> bool:
    """Mostly capitals (among at least 8 Latin letters), or three or more '!'."""
    if text.count("!") >= 3:  # "!!!" holds three
        return True
    if text.isascii():  # Latin letters are [A-Za-z]; a regex counts them in C
        upper, lower = len(ASCII_UPPER.findall(text)), len(ASCII_LOWER.findall(text))
        letters = upper + lower
        return letters >= 8 and upper / letters >= 0.7
    # beyond ASCII, lower() decides what is Latin (the Kelvin sign is, as 'k')
    latin = [ch for ch in text if "a" <= ch.lower() <= "z"]
    return len(latin) >= 8 and sum(ch.isupper() for ch in latin) / len(latin) >= 0.7


def spam_score(text: str) -> float:
    """0..1: links, link shorteners, spam vocabulary and long repeated characters."""
    score = 0.0
    links = len(URL.findall(text))
    score += min(0.4, 0.2 * links)
    if SHORTENER.search(text):
        score += 0.3
    if SPAM_WORDS.search(text):
        score += 0.5
    if REPEAT.search(text):
        score += 0.2
    return min(1.0, score)
