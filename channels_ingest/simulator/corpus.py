"""Synthetic customer posts for the X simulator: authors, templates and slot filling."""

from __future__ import annotations

import random
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime

from . import corpus_en, corpus_pt

KINDS = ("complaint", "question", "praise", "noise", "personal_data", "request")
# personal_data ~12.5 %: enough to exercise the "move to private" flow without drowning the inbox.
KIND_WEIGHTS = {
    "complaint": 36, "question": 18, "request": 12, "praise": 10.5, "noise": 11, "personal_data": 12.5,
}
PT_SHARE = 0.68
TWITTER_EPOCH_MS = 1288834974657
PII_SLOTS = frozenset({"cpf", "cpf_raw", "phone", "phone_intl", "pt_phone", "email"})


@dataclass(frozen=True)
class SimUser:
    id: str
    username: str
    name: str
    followers_count: int
    verified: bool
    created_at: str
    following_count: int = 0
    tweet_count: int = 0
    listed_count: int = 0
    description: str = ""
    lang: str = "pt"

    @property
    def profile_image_url(self) -> str:
        return f"https://pbs.twimg.com/profile_images/{self.id[-10:]}/{self.username[:8]}_normal.jpg"


@dataclass(frozen=True)
class SimPost:
    text: str
    lang: str
    kind: str
    author: SimUser
    pii: tuple[str, ...] = field(default=())


def snowflake(ts: float, seq: int = 0) -> int:
    """X-style snowflake id for a Unix timestamp (seconds)."""
    return ((int(ts * 1000) - TWITTER_EPOCH_MS) << 22) | (seq & 0x3FFFFF)


def x_time(ts: float) -> str:
    """Timestamp in X's format: second precision, literal .000 milliseconds, Z suffix."""
    return datetime.fromtimestamp(int(ts), UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def cpf_check_digits(first9: str) -> str:
    digits = [int(c) for c in first9]
    for weight_start in (10, 11):
        total = sum(d * w for d, w in zip(digits, range(weight_start, 1, -1), strict=False))
        digits.append(total * 10 % 11 % 10)
    return f"{digits[-2]}{digits[-1]}"


def generate_cpf(rng: random.Random, formatted: bool = True) -> str:
    while True:
        first9 = "".join(str(rng.randrange(10)) for _ in range(9))
        if len(set(first9)) > 1:  # 111.111.111-11 style numbers pass the checksum but are rejected by Receita
            break
    number = first9 + cpf_check_digits(first9)
    if not formatted:
        return number
    return f"{number[:3]}.{number[3:6]}.{number[6:9]}-{number[9:]}"


# username, name, lang, followers, following, verified, created (YYYY-MM-DD), bio
_AUTHOR_ROWS: tuple[tuple[str, str, str, int, int, bool, str, str], ...] = (
    ("marianaflores_", "Mariana Flores", "pt", 1240, 612, False, "2013-05-02", "jornalista | café e gatos"),
    ("jpsilva88", "João Pedro Silva", "pt", 312, 401, False, "2011-08-19", "engenheiro, flamenguista"),
    ("carol_tech", "Carolina Mendes", "pt", 5832, 890, False, "2014-02-11", "dev front-end, opiniões minhas"),
    ("rafa_moura", "Rafael Moura 🇧🇷", "pt", 87, 230, False, "2019-11-30", ""),
    ("tiagoalmeida", "Tiago Almeida", "pt", 2150, 1033, False, "2010-03-22", "professor de história"),
    ("bia_santos07", "Beatriz Santos", "pt", 431, 512, False, "2020-06-07", "estudante de medicina 🩺"),
    ("lucasferreira_", "Lucas Ferreira", "pt", 98, 143, False, "2021-01-15", ""),
    ("anapaulacosta", "Ana Paula Costa", "pt", 1670, 700, False, "2012-09-09", "mãe, advogada, corinthiana"),
    ("gui_rocha", "Guilherme Rocha", "pt", 23, 88, False, "2023-04-18", ""),
    ("feh_lima", "Fê Lima", "pt", 3410, 1210, False, "2015-07-27", "maquiadora ✨ orçamentos na DM"),
    ("pedrohnrq", "Pedro Henrique", "pt", 612, 455, False, "2016-12-01", "designer"),
    ("dona_cida", "Cida Oliveira", "pt", 55, 41, False, "2022-08-03", "aposentada e feliz"),
    ("brunogamer", "Bruno 🎮", "pt", 8740, 320, False, "2014-10-10", "streamer. lag é pessoal"),
    ("julia_ribeiro", "Júlia Ribeiro", "pt", 920, 630, False, "2017-03-14", "psicóloga"),
    ("marcosvinicius", "Marcos Vinícius", "pt", 203, 199, False, "2018-05-21", ""),
    ("aline_souza", "Aline Souza", "pt", 1345, 980, False, "2013-01-08", "RH | Recife"),
    ("thi_carvalho", "Thiago Carvalho", "pt", 77, 150, False, "2024-02-02", ""),
    ("cami_araujo93", "Camila Araújo", "pt", 488, 377, False, "2012-04-25", "arquiteta"),
    ("seu_ze_do_bar", "Zé do Bar", "pt", 3890, 215, False, "2016-06-06", "o wi-fi do bar é o mesmo da casa"),
    ("leticiamartins", "Letícia Martins", "pt", 268, 300, False, "2019-09-12", ""),
    ("vitor_barbosa", "Vitor Barbosa", "pt", 145, 260, False, "2020-10-31", "contador"),
    ("paty_gomes", "Patrícia Gomes", "pt", 732, 540, False, "2011-11-11", "enfermeira, plantão é vida"),
    ("dudu_nunes", "Eduardo Nunes", "pt", 41, 97, False, "2025-01-20", ""),
    ("gabi_teixeira", "Gabriela Teixeira", "pt", 2980, 1402, False, "2015-03-03", "social media"),
    ("renatocampos", "Renato Campos", "pt", 389, 420, False, "2009-07-14", "sócio de uma padaria em BH"),
    ("conexaodigital", "Conexão Digital", "pt", 184300, 512, True, "2010-02-17",
     "notícias de tecnologia e telecom"),
    ("larissaprado", "Larissa Prado ✨", "pt", 92300, 1130, True, "2014-08-08", "lifestyle • publi na bio"),
    ("seu_antonio_sp", "Seu Antônio", "pt", 12, 19, False, "2023-09-29", ""),
    ("mae_de_3", "Renata | mãe de 3", "pt", 1560, 1200, False, "2018-02-28", "3 filhos, 1 roteador, 0 paz"),
    ("devdaniel", "Daniel Azevedo", "pt", 4210, 610, False, "2012-12-12", "backend dev, café e rust"),
    ("mike_in_rio", "Mike Thompson", "en", 640, 580, False, "2013-06-18", "Brit in Rio. surf & spreadsheets"),
    ("sarahtravels", "Sarah Collins ✈️", "en", 15300, 890, False, "2015-04-01", "travel blogger"),
    ("dan_nomad", "Dan | digital nomad", "en", 2870, 1501, False, "2019-03-09", "remote dev, wifi hunter"),
    ("emilyj_br", "Emily Johnson", "en", 310, 290, False, "2021-07-04", "teaching english in SP"),
    ("tom_expat", "Tom Becker", "en", 189, 240, False, "2016-10-20", ""),
    ("priya_codes", "Priya Raman", "en", 5400, 720, False, "2014-01-30", "SRE. pager is my alarm clock"),
    ("jakewilson", "Jake Wilson", "en", 77, 130, False, "2024-05-11", ""),
    ("lisbonlaura", "Laura Mitchell", "en", 930, 611, False, "2017-08-15", "Lisbon <-> São Paulo"),
    ("techreviewhub", "Tech Review Hub", "en", 248000, 310, True, "2008-11-05", "gadget & carrier reviews"),
    ("kev_obrien", "Kevin O'Brien", "en", 54, 102, False, "2022-12-24", "irish guy, brazilian wife"),
    ("nina_sp", "Nina Park", "en", 420, 388, False, "2020-02-14", "product manager @ somewhere"),
)


def _build_authors() -> tuple[SimUser, ...]:
    rng = random.Random(20240601)  # fixed: the author pool is the same for every seed
    authors = []
    for username, name, lang, followers, following, verified, created, bio in _AUTHOR_ROWS:
        ts = datetime.strptime(created, "%Y-%m-%d").replace(tzinfo=UTC).timestamp() + rng.randrange(86400)
        if ts * 1000 > TWITTER_EPOCH_MS:
            user_id = str(snowflake(ts, rng.randrange(1 << 22)))
        else:  # accounts from before snowflake ids have short sequential ids
            user_id = str(rng.randrange(10_000_000, 99_999_999))
        authors.append(SimUser(
            id=user_id, username=username, name=name, followers_count=followers, verified=verified,
            created_at=x_time(ts), following_count=following,
            tweet_count=rng.randrange(50, 40_000), listed_count=max(0, followers // 250 + rng.randrange(3)),
            description=bio, lang=lang,
        ))
    return tuple(authors)


AUTHORS: tuple[SimUser, ...] = _build_authors()

_PLANS_BY_KIND = {
    "fiber_plan": ("Fibra 300 Mega", "Fibra 500 Mega", "Fibra 1 Giga", "Combo Fibra + TV"),
    "mobile_plan": ("Controle 20GB", "Pós 50GB", "Pós Família 100GB"),
    "tv_plan": ("Acme TV Essencial", "Acme TV Top", "Combo Fibra + TV"),
}
_PLANS = tuple(dict.fromkeys(p for plans in _PLANS_BY_KIND.values() for p in plans))
_PRICES = (59.9, 79.9, 99.9, 119.9, 149.9, 189.9, 229.9, 279.9)
_DDDS = (11, 21, 31, 41, 51, 61, 71, 81, 85, 19, 27, 48, 62, 92)
_EMAIL_DOMAINS = {
    "pt": ("gmail.com", "hotmail.com", "outlook.com", "yahoo.com.br", "uol.com.br", "bol.com.br"),
    "en": ("gmail.com", "outlook.com", "icloud.com", "yahoo.com"),
}
_EN_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
              "October", "November", "December")
_SLOT_RE = re.compile(r"{(\w+)}")


def _brl(value: float) -> str:
    return "R$ " + f"{value:,.2f}".replace(",", "X").replace(".", ",").replace("X", ".")


def _ascii_slug(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return ".".join(re.findall(r"[a-z]+", plain)[:2]) or "cliente"


class _SlotFiller:
    """Fills template slots in template order so a seed always yields the same text."""

    def __init__(self, rng: random.Random, author: SimUser, lang: str) -> None:
        self.rng = rng
        self.author = author
        self.lang = lang
        self.values: dict[str, str] = {}
        self.pii: list[str] = []

    def fill(self, template: str) -> str:
        return _SLOT_RE.sub(lambda m: self.value(m.group(1)), template)

    def value(self, slot: str) -> str:
        if slot not in self.values:
            self.values[slot] = self._make(slot)
            if slot in PII_SLOTS:
                self.pii.append(self.values[slot])
        return self.values[slot]

    def _place(self) -> None:
        cities = corpus_en.CITIES if self.lang == "en" else corpus_pt.CITIES
        city = self.rng.choice(sorted(cities))
        self.values.setdefault("city", city)
        self.values.setdefault("neighborhood", self.rng.choice(cities[self.values["city"]]))

    def _make(self, slot: str) -> str:
        r = self.rng
        if slot in ("city", "neighborhood"):
            self._place()
            return self.values[slot]
        if slot in ("plan", "plan2"):
            other = self.values.get("plan2" if slot == "plan" else "plan")
            return r.choice([p for p in _PLANS if p != other])
        if slot in _PLANS_BY_KIND:
            return r.choice(_PLANS_BY_KIND[slot])
        if slot == "amount":
            return _brl(r.choice(_PRICES))
        if slot == "amount2":
            base = float(self.value("amount")[3:].replace(".", "").replace(",", "."))
            return _brl(base + r.choice((20, 30, 40)))
        if slot == "amount_en":
            return f"R${r.choice(_PRICES):.2f}"
        if slot == "amount2_en":
            return f"R${float(self.value('amount_en')[2:]) + r.choice((20, 30, 40)):.2f}"
        if slot in ("protocol", "protocol2"):
            return f"2026{r.randrange(10**9, 10**10)}"  # 14 digits: never mistaken for a raw CPF
        if slot == "ticket":
            return str(r.randrange(10**7, 10**8))
        if slot in ("days", "hours", "minutes", "years"):
            lo, hi = {"days": (2, 15), "hours": (2, 12), "minutes": (25, 90), "years": (2, 9)}[slot]
            return str(r.randint(lo, hi))
        if slot in ("day", "day2"):
            taken = self.values.get("day")
            return str(r.choice([d for d in (5, 10, 12, 15, 20, 25) if str(d) != taken]))
        if slot == "speed":
            return str(r.randint(2, 60))
        if slot == "speed_good":
            return str(r.randint(480, 940))
        if slot == "code":
            return str(r.randrange(100, 999))
        if slot in ("month", "month2"):
            return r.choice(_EN_MONTHS if self.lang == "en" else corpus_pt.MONTHS)
        if slot == "weekday":
            return r.choice(corpus_pt.WEEKDAYS)
        if slot == "agent":
            return r.choice(corpus_pt.AGENTS)
        if slot == "name":
            return self.author.name
        if slot == "other":
            return r.choice([a.username for a in AUTHORS if a.lang == self.lang and a.id != self.author.id])
        if slot in ("cpf", "cpf_raw"):
            return generate_cpf(r, formatted=slot == "cpf")
        if slot in ("phone", "phone_intl"):
            ddd = r.choice(_DDDS)
            number = f"9{r.randint(6, 9)}{r.randrange(100, 1000)}-{r.randrange(10000):04d}"
            return f"({ddd}) {number}" if slot == "phone" else f"+55 {ddd} {number}"
        if slot == "pt_phone":
            groups = f"{r.randrange(1000):03d} {r.randrange(1000):03d}"
            return f"+351 9{r.choice('1236')}{r.randrange(10)} {groups}"
        if slot == "email":
            suffix = str(r.randrange(70, 100)) if r.random() < 0.6 else ""
            return f"{_ascii_slug(self.author.name)}{suffix}@{r.choice(_EMAIL_DOMAINS[self.lang])}"
        raise KeyError(f"unknown template slot {slot!r}")


class PostFactory:
    """Deterministic (per seed) stream of customer posts mentioning the brand."""

    def __init__(self, seed: int | None = None, *, brand_username: str = "acmetelecom") -> None:
        self.seed = seed
        self.brand_username = brand_username
        self._rng = random.Random(seed)
        # follow-ups depend on what the brand answered; a separate stream keeps next_post() reproducible
        self._follow_rng = random.Random(None if seed is None else f"follow-up:{seed}")
        self._by_lang_kind: dict[tuple[str, str], list[str]] = {}
        for lang, module in (("pt", corpus_pt), ("en", corpus_en)):
            for kind, template in module.TEMPLATES:
                self._by_lang_kind.setdefault((lang, kind), []).append(template)
        self._authors = {lang: [a for a in AUTHORS if a.lang == lang] for lang in ("pt", "en")}

    @property
    def authors(self) -> tuple[SimUser, ...]:
        return AUTHORS

    def next_post(self) -> SimPost:
        r = self._rng
        lang = "pt" if r.random() < PT_SHARE else "en"
        kind = r.choices(list(KIND_WEIGHTS), weights=list(KIND_WEIGHTS.values()))[0]
        template = r.choice(self._by_lang_kind[(lang, kind)])
        author = r.choice(self._authors[lang])
        return self._render(r, template, lang, kind, author)

    def posts(self, n: int) -> list[SimPost]:
        return [self.next_post() for _ in range(n)]

    def next_follow_up(self, author: SimUser, lang: str) -> SimPost:
        """A customer's answer under the brand's public reply."""
        lang = lang if lang in ("pt", "en") else "pt"
        module = corpus_en if lang == "en" else corpus_pt
        kind, template = self._follow_rng.choice(module.FOLLOW_UPS)
        return self._render(self._follow_rng, template, lang, kind, author)

    def _render(self, rng: random.Random, template: str, lang: str, kind: str, author: SimUser) -> SimPost:
        filler = _SlotFiller(rng, author, lang)
        text = filler.fill(template)
        if self.brand_username != "acmetelecom":
            text = text.replace("@acmetelecom", f"@{self.brand_username}")
        return SimPost(text=text, lang=lang, kind=kind, author=author, pii=tuple(filler.pii))
