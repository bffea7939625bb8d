"""Turning what the user says into memories, without asking the model.

Small local models cannot be trusted to extract facts reliably, so this is
rule-based: "remember that …" commands, first-person statements ("I live in
Lyon", "my sister is called Maria") rewritten in the third person, and a slot
key per fact ("lives in", "sister's name") so a newer fact about the same
thing supersedes the older one instead of contradicting it.
"""

from __future__ import annotations

import re

_REMEMBER = re.compile(
    r"^\s*(?:please\s+|hey\s*,?\s*)?(?:remember|note|keep in mind|don't forget)"
    r"\s*(?:that|this|:|,)?\s*(?P<fact>.+?)\s*[.!]*\s*$",
    re.IGNORECASE | re.DOTALL,
)

# Verbs that take the third-person -s in "I <verb> …" → "The user <verb>s …".
_IRREGULAR = {"have": "has", "do": "does", "go": "goes", "am": "is", "was": "was", "can": "can"}
_MODALS = {"can", "will", "would", "should", "could", "must", "might", "may"}

_PRONOUNS = [
    (r"\bI'm\b", "the user is"),
    (r"\bI am\b", "the user is"),
    (r"\bI've\b", "the user has"),
    (r"\bI was\b", "the user was"),
    (r"\bI'd\b", "the user would"),
    (r"\bI'll\b", "the user will"),
    (r"\bmy\b", "the user's"),
    (r"\bmine\b", "the user's"),
    (r"\bmyself\b", "themselves"),
    (r"\bme\b", "the user"),
]

# First-person statements worth proposing as memories (the rest is chit-chat).
_FACT_START = re.compile(
    r"^(?:I(?:'m| am) (?:a|an|allergic|vegetarian|vegan|from|married|single|\d+)\b"
    r"|I (?:live|work|study|teach|own|have|prefer|like|love|hate|dislike|speak|use|drive|"
    r"play|was born)\b"
    r"|My \w+(?: \w+)? (?:is|are|was)\b"
    r"|My \w+(?:'s)? (?:name|birthday) is\b)",
    re.IGNORECASE,
)
_NOT_A_FACT = re.compile(r"\b(if|would|maybe|might|wonder|think|guess|should|could)\b", re.I)

# Single-valued things: a new value replaces the old one.
_SLOTS = [
    (re.compile(r"^the user's ([\w' ]+?) (?:is|was) (?:called|named)\b", re.I), "{0}'s name"),
    (
        re.compile(r"^the user's ([\w' ]+?) (?:is|are|was)\b(?! (?:called|named))", re.I),
        "user's {0}",
    ),
    (re.compile(r"^the user (lives|works|studies|is from|was born)\b", re.I), "{0}"),
    (re.compile(r"^the user is (\d+) years old\b", re.I), "age"),
    (re.compile(r"^the user is called\b", re.I), "user's name"),
    (re.compile(r"^the user (prefers)\b", re.I), "{0}"),
]


def parse_remember(text: str) -> str | None:
    """The fact in a "remember that …" message, or None if it is not one."""
    m = _REMEMBER.match(text)
    if not m or "?" in text:
        return None
    fact = m.group("fact").strip()
    if re.match(r"(when|what|how|who|where|why|if|me)\b", fact, re.I):
        return None  # "remember when we…" is a question about the past, not a fact
    if re.match(r"to\b", fact, re.I):
        return "I need " + fact  # "remember to buy milk": a note to self
    return fact or None


_ADVERBS = frozenset(
    "usually always never often sometimes also really just still rarely mostly generally"
    " normally actually even only already".split()
)
_PAST = frozenset(
    "was had did went got made grew saw took bought met left lost moved ran wrote"
    " came became began gave knew thought told found sold spent won".split()
)
_CONTRACTIONS = {"don't": "doesn't", "haven't": "hasn't", "do not": "does not"}


def _third_person_verb(verb: str) -> str:
    low = verb.lower()
    if low in _CONTRACTIONS:
        return _CONTRACTIONS[low]
    past = low.endswith("ed") and not low.endswith("eed")  # "need", "feed" are not past
    if "'" in low or low in _PAST or low in _MODALS or past:
        return low  # didn't, won't, can't; past tense; modals: same for every person
    if low in _IRREGULAR:
        return _IRREGULAR[low]
    if re.search(r"(s|sh|ch|x|z|o)$", low):
        return low + "es"
    if re.search(r"[^aeiou]y$", low):
        return low[:-1] + "ies"
    return low + "s"


def _the_user(m: re.Match[str]) -> str:
    """ "I usually walk" → "the user usually walks"; "I don't" → "the user doesn't"."""
    words = m.group(1).split(" ")
    out = []
    while words and (words[0].lower() in _ADVERBS or words[0].lower().endswith("ly")):
        out.append(words.pop(0).lower())
    if words:
        out.append(_third_person_verb(words[0]))
    return "the user " + " ".join(out)


def to_third_person(statement: str) -> str:
    """ "I live in Lyon" → "The user lives in Lyon."; other text is kept as it is."""
    s = " ".join(statement.split()).strip().rstrip(".!?")
    if not s:
        return s
    s = re.sub(r"\bI do not\b", "the user does not", s)
    for pattern, repl in _PRONOUNS:
        s = re.sub(pattern, repl, s, flags=re.IGNORECASE)
    # "I <adverbs> <verb>" anywhere ("… and I work …"); "I" is always upper case.
    s = re.sub(r"\bI ((?:\w+ly |" + "|".join(_ADVERBS) + r" )*[\w']+)", _the_user, s)
    return s[0].upper() + s[1:] + "."


def slot_key(fact: str) -> str | None:
    """What a fact is about, when only one value can be true at a time."""
    text = " ".join(fact.split()).rstrip(".")
    for pattern, fmt in _SLOTS:
        m = pattern.match(text)
        if m:
            return fmt.format(*(g.lower() for g in m.groups())).strip()
    return None


def normalise(fact: str) -> str:
    return re.sub(r"[^\w ]+", "", " ".join(fact.lower().split()))


def extract_facts(message: str) -> list[str]:
    """First-person statements in a user message, as third-person memories."""
    if parse_remember(message):
        return []  # saved explicitly already
    facts: list[str] = []
    for sentence in re.split(r"(?<=[.!?])\s+|\n+", message):
        s = sentence.strip()
        if not s or s.endswith("?") or len(s) < 8 or len(s) > 200:
            continue
        if not _FACT_START.match(s) or _NOT_A_FACT.search(s):
            continue
        facts.append(to_third_person(s))
    return facts


def about_the_user(question: str) -> str:
    """ "Where do I live?" → "Where do the user live?": matches memories phrased in the third person."""
    s = re.sub(r"\b(?:I|me)\b", "the user", question)
    s = re.sub(r"\b(?:my|mine)\b", "the user's", s, flags=re.IGNORECASE)
    return s


def _base_verb(verb: str) -> str:
    low = verb.lower()
    back = {v: k for k, v in _IRREGULAR.items() if k not in ("am", "was", "can")}
    if low in back:
        return back[low]
    if low.endswith("ies"):
        return low[:-3] + "y"
    if re.search(r"(ss|sh|ch|x|z|o)es$", low):
        return low[:-2]
    return low[:-1] if low.endswith("s") and not low.endswith("ss") else low


def to_second_person(fact: str) -> str:
    """ "The user lives in Lyon." → "You live in Lyon.": how the model should say it back."""
    s = re.sub(r"\bthe user is\b", "you are", fact, flags=re.I)
    s = re.sub(r"\bthe user was\b", "you were", s, flags=re.I)
    s = re.sub(r"\bthe user's\b", "your", s, flags=re.I)
    s = re.sub(r"\bthe user (\w+)\b", lambda m: "you " + _base_verb(m.group(1)), s, flags=re.I)
    s = re.sub(r"\bthe user\b", "you", s, flags=re.I)
    return s[:1].upper() + s[1:]
