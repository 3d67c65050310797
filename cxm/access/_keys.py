"""The login cookie's signing key judged by strength, and a strong one made.

A key is judged by zxcvbn's estimate of the guesses it takes (dictionary words, keyboard
walks, repeats, runs such as ``0123`` or ``abcd``, dates, then brute force), not by its length
or the shape of its characters: ``'0123456789' * 4`` is 40 characters of 10 distinct ones,
and falls in about a hundred guesses.
"""

from __future__ import annotations

import functools
import math
import secrets

from zxcvbn import zxcvbn

MIN_COOKIE_KEY_BYTES = 32
#: A key must take at least 10 to this power guesses by zxcvbn (about 86 bits). zxcvbn counts
#: a random character as about 10 guesses, so a random 32-character key scores 10^27 to
#: 10^32 (none of 4,000 from `secrets.token_hex(16)` and `token_urlsafe(24)` scored under
#: 10^27.4) and `make_key`'s 64 characters about 10^64; typed patterns score 10^2 to 10^8.
MIN_COOKIE_KEY_GUESSES_LOG10 = 26
#: zxcvbn judges the first this many characters (its time grows with the length; 64 take
#: about 20 ms): a key whose start is strong enough is strong enough.
JUDGED_CHARS = 128
MAKE_A_KEY = "cxm key"
MAKE_A_KEY_WITHOUT_CXM = 'python -c "import secrets; print(secrets.token_urlsafe(48))"'

#: zxcvbn's names for what it found in a key, in words.
_PATTERNS = {
    "repeat": "repeated text",
    "sequence": "runs such as 1234 or abcd",
    "dictionary": "common words or passwords",
    "spatial": "keyboard walks",
    "date": "dates",
    "regex": "years",
}


def make_key() -> str:
    """Return a new random cookie key: 48 random bytes as 64 URL-safe characters (384 bits).

    >>> key = make_key()
    >>> len(key), cookie_key_problem(key)
    (64, None)
    """
    return secrets.token_urlsafe(48)


@functools.lru_cache(maxsize=8)
def _judged(key: str) -> tuple[float, tuple[str, ...]]:
    """Return zxcvbn's guesses (log10) for a key, and what it found in it besides randomness."""
    result = zxcvbn(key[:JUDGED_CHARS], max_length=JUDGED_CHARS)
    found, matches = set(), list(result["sequence"])
    while matches:  # a repeat holds the matches of what it repeats
        match = matches.pop()
        found.add(match["pattern"])
        matches += match.get("base_matches") or []
    return float(result["guesses_log10"]), tuple(p for p in _PATTERNS if p in found)


def key_guesses_log10(key: str) -> float:
    """Return zxcvbn's estimate of the guesses ``key`` takes, as a power of ten.

    >>> round(key_guesses_log10("0123456789" * 4)), round(key_guesses_log10("k" * 32))
    (2, 3)
    """
    return _judged(key)[0]


def cookie_key_problem(key: str) -> str | None:
    """Return what is wrong with a cookie key, in words with its code, or None when it is fine.

    A key must be at least `MIN_COOKIE_KEY_BYTES` bytes long and take at least
    10^`MIN_COOKIE_KEY_GUESSES_LOG10` guesses by zxcvbn. The message never shows the key.

    >>> print(cookie_key_problem("abcdefghijklmnop" * 2))  # doctest: +NORMALIZE_WHITESPACE
    CXM_COOKIE_KEY is weak: it falls in about 10^2 guesses by zxcvbn's estimate (it is made
    of repeated text, runs such as 1234 or abcd); a key needs at least 10^26 guesses and 32
    bytes [weak_cookie_key].
    >>> cookie_key_problem(""), cookie_key_problem(make_key())
    ('CXM_COOKIE_KEY is not set [missing_cookie_key].', None)
    """
    if not key:
        return "CXM_COOKIE_KEY is not set [missing_cookie_key]."
    size = len(key.encode())
    guesses, found = _judged(key)
    if size >= MIN_COOKIE_KEY_BYTES and guesses >= MIN_COOKIE_KEY_GUESSES_LOG10:
        return None
    if size < MIN_COOKIE_KEY_BYTES:
        why = f"it is {size} byte{'s' if size != 1 else ''} long"
    else:
        made_of = ", ".join(_PATTERNS[p] for p in found)
        why = f"it falls in about 10^{math.floor(guesses)} guesses by zxcvbn's estimate" + (
            f" (it is made of {made_of})" if made_of else ""
        )
    return (
        f"CXM_COOKIE_KEY is weak: {why}; a key needs at least "
        f"10^{MIN_COOKIE_KEY_GUESSES_LOG10} guesses and {MIN_COOKIE_KEY_BYTES} bytes "
        "[weak_cookie_key]."
    )
