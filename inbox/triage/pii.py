"""Personal data with its spans: every candidate is validated, not just shaped like the real thing.

A CPF or CNPJ must have valid check digits, a card number must pass Luhn and start
like a card, a phone number must be a valid Brazilian or Portuguese number for
`phonenumbers`. Order and protocol numbers, dates and prices look like digits too:
context words ("pedido", "protocolo", "order") and the validators keep them out.
Offsets are code points (Python str indices), end exclusive.
"""

import re
from dataclasses import dataclass

import phonenumbers


@dataclass(frozen=True, slots=True)
class PersonalDataSpan:
    kind: str  # cpf | cnpj | phone | email | card | cep | custom:<name>
    start: int
    end: int

    def as_dict(self) -> dict[str, object]:
        return {"kind": self.kind, "start": self.start, "end": self.end}


@dataclass(frozen=True, slots=True)
class CustomPattern:
    """An account, contract or protocol number a tenant defines by regex."""

    name: str
    pattern: re.Pattern[str]


def compile_custom(name: str, regex: str) -> CustomPattern:
    """Raises re.error for a bad pattern: the admin form shows it."""
    return CustomPattern(name=name, pattern=re.compile(regex))


# Every built-in kind but e-mail needs 7+ digits close together (a PT postal code has 7); most posts have none,
# and an @handle is not "x@".
_EIGHT_DIGITS = re.compile(r"\d(?:[ ().-]{0,2}\d){6}")
# "a word character, then @", written to start at the "@": the scan then jumps from "@" to "@" instead of trying
# every letter of the post (a tenth of the time on tweets).
_EMAIL_HINT = re.compile(r"@(?<=\w@)")
EMAIL = re.compile(r"(?<![\w.+-])[A-Za-z0-9][A-Za-z0-9._%+-]*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}(?![\w-])")
CNPJ = re.compile(r"(?<![\d./-])(?:\d{2}\.\d{3}\.\d{3}/\d{4}-\d{2}|\d{14})(?![\d/-]|[.,]\d)")
CPF = re.compile(r"(?<![\d./-])(?:\d{3}\.\d{3}\.\d{3}-\d{2}|\d{3}\.?\d{3}\.?\d{3}-?\d{2})(?![\d/-]|[.,]\d)")
CARD = re.compile(r"(?<![\d.,/-])(?:\d{4}[ -]){3}\d{1,7}(?![\d/-]|[.,]\d)|(?<![\d.,/-])\d{13,19}(?![\d/-]|[.,]\d)")
CEP = re.compile(r"(?<![\d./-])\d{5}-\d{3}(?![\d/-]|[.,]\d)")
CEP_BARE = re.compile(r"(?<![\d./-])\d{2}\.?\d{3}-?\d{3}(?![\d/-]|[.,]\d)")
PT_POSTAL = re.compile(r"(?<![\d./-])\d{4}-\d{3}(?![\d/-]|[.,]\d)")
# A phone candidate: digits with the separators people type. Validation decides.
PHONE = re.compile(r"(?<![\w./-])(?:\+|00)?\(?\d[\d ().-]{6,17}\d(?![\d/-]|[.,]\d)")
_DIGITS = re.compile(r"\D")

# Words just before a number that make it something else than personal data.
NOT_PERSONAL = re.compile(
    r"(?:pedido|pedidos|protocolo|protocol|order|ordem|encomenda|nota fiscal|nf|nfe|rastreio|rastreamento|tracking"
    r"|codigo|c[oó]digo|ticket|chamado|n[uú]mero do pedido|fatura|boleto|invoice|case|caso|ref|sku|serial"
    r"|os|r\$|us\$|€|\$)[\s:#.º°n-]{0,6}$",
    re.IGNORECASE,
)
PHONE_CONTEXT = re.compile(r"(?:tel|telefone|fone|cel|celular|whats|whatsapp|zap|liga|ligue|ligar|liguem|contato"
                           r"|phone|call|numero|número|telemóvel|telemovel)\W{0,12}\S{0,12}\W{0,3}$", re.IGNORECASE)
CEP_CONTEXT = re.compile(r"(?:cep|c[oó]digo postal|c[oó]d\.? postal)\W{0,6}$", re.IGNORECASE)
CPF_CONTEXT = re.compile(r"cpf[^\d]{0,8}$", re.IGNORECASE)
# A number introduced as a CPF or CNPJ that fails its check digits is a typo'd id, not a phone or a card.
ID_CONTEXT = re.compile(r"(?:cpf|cnpj)[^\d]{0,8}$", re.IGNORECASE)
CPF_SHAPE = re.compile(r"\d{3}\.\d{3}\.\d{3}-\d{2}")


def cpf_valid(digits: str) -> bool:
    if len(digits) != 11 or digits == digits[0] * 11:
        return False
    nums = [ord(c) - 48 for c in digits]
    for n in (9, 10):
        total = sum(nums[i] * (n + 1 - i) for i in range(n))
        check = (total * 10) % 11 % 10
        if check != nums[n]:
            return False
    return True


_CNPJ_W1 = (5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2)
_CNPJ_W2 = (6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2)


def cnpj_valid(digits: str) -> bool:
    if len(digits) != 14 or digits == digits[0] * 14:
        return False
    nums = [ord(c) - 48 for c in digits]
    for weights, pos in ((_CNPJ_W1, 12), (_CNPJ_W2, 13)):
        rest = sum(n * w for n, w in zip(nums, weights, strict=False)) % 11
        if (0 if rest < 2 else 11 - rest) != nums[pos]:
            return False
    return True


def luhn_valid(digits: str) -> bool:
    total = 0
    for i, c in enumerate(reversed(digits)):
        d = ord(c) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


_CARD_PREFIX = re.compile(r"4|5[1-5]|2[2-7]|3[47]|6011|65|64[4-9]|3[068]|35|50|6[37]|606282|384")


def card_valid(digits: str) -> bool:
    return 13 <= len(digits) <= 19 and bool(_CARD_PREFIX.match(digits)) and luhn_valid(digits)


def _before(text: str, start: int) -> str:
    return text[max(0, start - 30):start]


def phone_valid(candidate: str, before: str) -> bool:
    digits = _DIGITS.sub("", candidate)
    if not 8 <= len(digits) <= 15:
        return False
    international = candidate.startswith(("+", "00"))
    formatted = international or any(c in candidate for c in " ()-.")
    contextual = bool(PHONE_CONTEXT.search(before))
    if not formatted and not contextual:
        # A bare digit run is an order number more often than a phone, unless it looks like a BR mobile
        # (area code, then 9, then 8 digits) or a PT mobile (9[1236] + 7 digits).
        if not (len(digits) == 11 and digits[2] == "9" and digits[0] != "0") and not (
                len(digits) == 9 and digits[0] == "9" and digits[1] in "1236"):
            return False
    if international:
        try:
            number = phonenumbers.parse(("+" + candidate[2:]) if candidate.startswith("00") else candidate, None)
        except phonenumbers.NumberParseException:
            return False
        return number.country_code in (55, 351) and phonenumbers.is_valid_number(number)
    for region in ("BR", "PT"):
        try:
            number = phonenumbers.parse(candidate, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            return True
    return False


def find_personal_data(text: str, custom: tuple[CustomPattern, ...] = ()) -> list[PersonalDataSpan]:
    """Every personal-data span in the text, in order, never overlapping (the more specific kind wins)."""
    found: list[PersonalDataSpan] = []
    for c in custom:
        for m in c.pattern.finditer(text):
            if m.end() > m.start():
                found.append(PersonalDataSpan(f"custom:{c.name}", m.start(), m.end()))
    has_email = _EMAIL_HINT.search(text) is not None
    has_digits = _EIGHT_DIGITS.search(text) is not None
    if not has_email and not has_digits:
        if found:
            found.sort(key=lambda s: s.start)
        return found
    taken = [(s.start, s.end) for s in found]

    def free(start: int, end: int) -> bool:
        return all(end <= a or start >= b for a, b in taken)

    def add(kind: str, start: int, end: int) -> None:
        found.append(PersonalDataSpan(kind, start, end))
        taken.append((start, end))

    if has_email:
        for m in EMAIL.finditer(text):
            add("email", m.start(), m.end())
    if not has_digits:
        found.sort(key=lambda s: s.start)
        return found
    for m in CNPJ.finditer(text):
        if free(m.start(), m.end()) and cnpj_valid(_DIGITS.sub("", m.group())):
            add("cnpj", m.start(), m.end())
    for m in CPF.finditer(text):
        if not free(m.start(), m.end()):
            continue
        digits = _DIGITS.sub("", m.group())
        before = _before(text, m.start())
        if cpf_valid(digits) and (not digits.isdigit() or m.group() != digits or CPF_CONTEXT.search(before)
                                  or not PHONE_CONTEXT.search(before)) and not NOT_PERSONAL.search(before):
            add("cpf", m.start(), m.end())
    for m in CARD.finditer(text):
        before = _before(text, m.start())
        if free(m.start(), m.end()) and card_valid(_DIGITS.sub("", m.group())) \
                and not NOT_PERSONAL.search(before) and not ID_CONTEXT.search(before):
            add("card", m.start(), m.end())
    for m in CEP.finditer(text):
        if free(m.start(), m.end()) and not NOT_PERSONAL.search(_before(text, m.start())):
            add("cep", m.start(), m.end())
    for m in CEP_BARE.finditer(text):
        if free(m.start(), m.end()) and CEP_CONTEXT.search(_before(text, m.start())):
            add("cep", m.start(), m.end())
    for m in PT_POSTAL.finditer(text):
        if free(m.start(), m.end()) and CEP_CONTEXT.search(_before(text, m.start())):
            add("cep", m.start(), m.end())
    for m in PHONE.finditer(text):
        start, candidate = m.start(), m.group()
        before = _before(text, start)
        if NOT_PERSONAL.search(before) or ID_CONTEXT.search(before) or CPF_SHAPE.fullmatch(candidate):
            continue
        # The candidate may run into a following number ("11 98765-4321 2 vezes"): retry it cut at each space.
        cuts = [len(candidate)] + [i for i in range(len(candidate) - 1, 7, -1) if candidate[i] == " "]
        for cut in cuts:
            piece = candidate[:cut].rstrip(" (.-")
            if piece and piece[-1].isdigit() and free(start, start + len(piece)) and phone_valid(piece, before):
                add("phone", start, start + len(piece))
                break
    found.sort(key=lambda s: s.start)
    return found
