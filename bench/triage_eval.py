"""Triage quality and speed on real customer posts (../shared/datasets) plus generated personal data.

    .venv/bin/python bench/triage_eval.py            # dev and held-out test figures
    .venv/bin/python bench/triage_eval.py --split test

The evaluation split is built from the files on every run by inbox/triage/datasets.py (nothing is copied into
the project):
- en, requires_response: Customer Support on Twitter (twcs head, the official sample, @SpotifyCares) and the
  IBM customer-care threads. A customer post that opened a thread and got a brand answer = needs an answer;
  a customer reply in a thread that nobody answered (the closer: "thanks", "ok will do") = does not.
  "not scored above" then counts how many customer replies a brand did answer (none of them in the split) the
  triage flags: the cost, on real follow-ups, of telling a reply from an opening post.
- pt, requires_response: Reclame Aqui complaints (every one needs an answer) and Olist reviews with a
  comment (1–2 stars and the "Negativo" hand labels need one; 4–5 stars and "Positivo" do not).
- sentiment: Olist stars (1–2 negative, 3 neutral, 4–5 positive) and hand labels, Reclame Aqui as negative.
- personal data: posts generated from templates with valid CPF/CNPJ/cards/phones/e-mails/CEPs and decoys
  (invalid check digits, order and protocol numbers, dates, prices); exact span match counts.
Every real post is assigned to `dev` or `test` by a hash of its text; the lexicon weights were set looking at
`dev` only, and the English requires_response head (inbox/triage/data/rr_en.json) is trained on `dev` only, so
its `dev` figure is a training figure and `test` is the held-out one. The personal-data set uses a different
random seed for each split.
"""

import argparse
import random
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from inbox.triage import TriageInput, find_personal_data, triage  # noqa: E402
from inbox.triage.datasets import SHARED, Post, answered_followups, eval_posts, split_of  # noqa: E402

# ------------------------------------------------------------------ generated personal data

def _cpf(rng: random.Random, valid: bool = True) -> str:
    nums = [rng.randrange(10) for _ in range(9)]
    for n in (9, 10):
        nums.append((sum(nums[i] * (n + 1 - i) for i in range(n)) * 10) % 11 % 10)
    if not valid:
        nums[10] = (nums[10] + rng.randrange(1, 10)) % 10
    d = "".join(map(str, nums))
    return rng.choice([f"{d[:3]}.{d[3:6]}.{d[6:9]}-{d[9:]}", d])


def _cnpj(rng: random.Random, valid: bool = True) -> str:
    nums = [rng.randrange(10) for _ in range(8)] + [0, 0, 0, 1]
    for weights in ((5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2), (6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2)):
        rest = sum(n * w for n, w in zip(nums, weights, strict=False)) % 11
        nums.append(0 if rest < 2 else 11 - rest)
    if not valid:
        nums[13] = (nums[13] + rng.randrange(1, 10)) % 10
    d = "".join(map(str, nums))
    return rng.choice([f"{d[:2]}.{d[2:5]}.{d[5:8]}/{d[8:12]}-{d[12:]}", d])


def _card(rng: random.Random) -> str:
    nums = [4] + [rng.randrange(10) for _ in range(14)]
    total = 0
    for i, d in enumerate(reversed(nums)):
        d = d * 2 if i % 2 == 0 else d
        total += d - 9 if d > 9 else d
    nums.append((10 - total % 10) % 10)
    d = "".join(map(str, nums))
    return rng.choice([" ".join(d[i:i + 4] for i in range(0, 16, 4)), d, "-".join(d[i:i + 4] for i in range(0, 16, 4))])


def _phone(rng: random.Random) -> str:
    ddd = rng.choice([11, 21, 31, 41, 51, 61, 71, 81, 85, 19, 27, 48])
    n = f"9{rng.randrange(6000, 9999)}{rng.randrange(10000):04d}"
    land = f"{rng.choice([2, 3, 4])}{rng.randrange(100, 999)}{rng.randrange(10000):04d}"
    pt = f"9{rng.choice('1236')}{rng.randrange(1000000, 9999999)}"
    return rng.choice([
        f"({ddd}) {n[:5]}-{n[5:]}", f"{ddd} {n[:5]}-{n[5:]}", f"+55 {ddd} {n[:5]}-{n[5:]}", f"{ddd}{n}",
        f"({ddd}) {land[:4]}-{land[4:]}", f"+55 ({ddd}) {n}", f"+351 {pt[:3]} {pt[3:6]} {pt[6:]}", f"{pt}",
        f"+351{pt}", f"{pt[:3]} {pt[3:6]} {pt[6:]}",
    ])


def _email(rng: random.Random) -> str:
    user = rng.choice(["joana.silva", "carlos_m", "ana.paula87", "jpereira", "mary.j", "t.oliveira+sac", "lu2024"])
    return f"{user}@{rng.choice(['gmail.com', 'hotmail.com', 'uol.com.br', 'example.pt', 'outlook.com'])}"


def _cep(rng: random.Random) -> str:
    return f"{rng.randrange(10000, 99999)}-{rng.randrange(1000):03d}"


KINDS = {"cpf": _cpf, "cnpj": _cnpj, "card": _card, "phone": _phone, "email": _email, "cep": _cep}
TEMPLATES = {
    "cpf": ["@acme meu CPF é {v}, podem verificar?", "cpf {v} e nada de resolverem", "My CPF: {v}, please check",
            "titular {v} (cpf) cobrança indevida"],
    "cnpj": ["nossa empresa, CNPJ {v}, foi cobrada em dobro", "CNPJ: {v} — nota fiscal errada"],
    "card": ["passaram no meu cartão {v} duas vezes", "charged twice on card {v}!!",
             "cartão final... não, o número todo: {v}"],
    "phone": ["me liguem no {v} por favor", "meu whats é {v}", "call me at {v}", "liguem para {v} urgente",
              "telemóvel {v}, obrigado", "contato: {v}"],
    "email": ["escreve pra {v} por favor", "my email is {v}", "mandem no {v}", "e-mail: {v}, aguardo"],
    "cep": ["moro no CEP {v} e o técnico não veio", "entrega pro CEP {v} atrasada", "cep: {v}"],
}
DECOYS = [
    "meu CPF é {bad_cpf}, e aí?", "CNPJ {bad_cnpj} não bate", "pedido {order} ainda não chegou",
    "protocolo {protocol}, ninguém resolve", "order #{order} still missing", "comprei em {date} e nada",
    "paguei R$ {price} e não recebi", "it cost ${price_en} and broke", "nota fiscal {order}, pedido {order2}",
    "desde {date} às {time} sem sinal", "ticket {order} opened on {date_en}", "código de rastreio {track}",
    "número do pedido: {order}", "fatura {order} com valor de R$ {price}", "sem internet há {n} dias, {date}",
]


def _decoy(rng: random.Random) -> str:
    return rng.choice(DECOYS).format(
        bad_cpf=_cpf(rng, valid=False), bad_cnpj=_cnpj(rng, valid=False),
        order=str(rng.randrange(10**9, 10**12)), order2=str(rng.randrange(10**5, 10**8)),
        protocol=f"{rng.randrange(2020, 2027)}{rng.randrange(1, 13):02d}{rng.randrange(1, 29):02d}"
                 f"-{rng.randrange(10**6):06d}",
        date=f"{rng.randrange(1, 29):02d}/{rng.randrange(1, 13):02d}/{rng.randrange(2019, 2027)}",
        date_en=f"{rng.randrange(2019, 2027)}-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}",
        time=f"{rng.randrange(24):02d}:{rng.randrange(60):02d}",
        price=f"{rng.randrange(1, 9)}.{rng.randrange(1000):03d},{rng.randrange(100):02d}",
        price_en=f"{rng.randrange(10, 999)}.{rng.randrange(100):02d}", n=rng.randrange(2, 30),
        track=f"BR{rng.randrange(10**8, 10**9)}XX",
    )


def personal_data_cases(seed: int, n: int = 1500) -> list[tuple[str, list[tuple[str, int, int]]]]:
    rng = random.Random(seed)
    cases = []
    for _ in range(n):
        parts: list[str] = []
        spans: list[tuple[str, int, int]] = []
        for _ in range(rng.choice([1, 1, 2])):
            if rng.random() < 0.4:
                piece = _decoy(rng)
                offset = sum(len(p) + 1 for p in parts)
                parts.append(piece)
                continue
            kind = rng.choice(list(KINDS))
            value = KINDS[kind](rng)
            template = rng.choice(TEMPLATES[kind])
            offset = sum(len(p) + 1 for p in parts)
            spans.append((kind, offset + template.index("{v}"), offset + template.index("{v}") + len(value)))
            parts.append(template.replace("{v}", value))
        cases.append((" ".join(parts), spans))
    return cases


# ------------------------------------------------------------------ metrics

def prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def macro_f1(pairs: list[tuple[str, str]], labels: tuple[str, ...]) -> float:
    """Over the labels that occur in the gold standard."""
    f1s = []
    for label in (x for x in labels if any(g == x for g, _ in pairs)):
        tp = sum(1 for g, p in pairs if g == label and p == label)
        fp = sum(1 for g, p in pairs if g != label and p == label)
        fn = sum(1 for g, p in pairs if g == label and p != label)
        f1s.append(prf(tp, fp, fn)[2])
    return sum(f1s) / len(f1s)


def evaluate(posts: list[Post], pd_cases, split: str, followups: list[Post]) -> None:
    note = " (held out: never looked at while tuning)" if split == "test" else (
        " (tuning; the en requires_response head is trained on it)")
    print(f"\n== split: {split}{note} ==")
    decisions = [triage(TriageInput(p.text)) for p in posts]
    print("requires_response           n    pos   P      R      F1     always-answer F1")
    for lang in ("pt", "en", "all"):
        pairs = [(p.needs_answer, d.requires_response) for p, d in zip(posts, decisions, strict=True)
                 if p.needs_answer is not None and (lang == "all" or p.lang == lang)]
        tp = sum(1 for g, y in pairs if g and y)
        fp = sum(1 for g, y in pairs if not g and y)
        fn = sum(1 for g, y in pairs if g and not y)
        pos = sum(1 for g, _ in pairs if g)
        base = prf(pos, len(pairs) - pos, 0)[2]
        p, r, f = prf(tp, fp, fn)
        print(f"  {lang:<24}{len(pairs):>5}{pos:>6}   {p:.3f}  {r:.3f}  {f:.3f}  {base:.3f}")
    neg = [(p, d) for p, d in zip(posts, decisions, strict=True) if p.needs_answer is False]
    for lang in ("pt", "en"):
        subset = [d for p, d in neg if p.lang == lang]
        if subset:
            print(f"  negatives ({lang}) correctly left alone: {sum(not d.requires_response for d in subset)}"
                  f"/{len(subset)}")
    if followups:
        flagged = sum(triage(TriageInput(p.text)).requires_response for p in followups)
        print(f"  not scored above: customer replies a brand did answer (en, twcs), flagged {flagged}/{len(followups)}"
              f" = {flagged / len(followups):.3f}")
    pairs = [(p.sentiment, d.sentiment) for p, d in zip(posts, decisions, strict=True) if p.sentiment]
    counts = Counter(g for g, _ in pairs)
    print(f"sentiment (pt) macro-F1: {macro_f1(pairs, ('negative', 'neutral', 'positive')):.3f}   "
          f"n={len(pairs)} {dict(counts)}   (2-class neg/pos macro-F1 on the non-neutral: "
          f"{macro_f1([x for x in pairs if x[0] != 'neutral'], ('negative', 'positive')):.3f})")
    for cat in ("complaint", "praise"):
        labelled = [(p, d) for p, d in zip(posts, decisions, strict=True) if p.category == cat]
        if labelled:
            ok = sum(d.category == cat for _, d in labelled)
            print(f"category {cat:<10} agreement: {ok}/{len(labelled)} = {ok / len(labelled):.3f}")
    langs = [(p.lang, d.language) for p, d in zip(posts, decisions, strict=True)]
    for lang in ("pt", "en"):
        sub = [d for g, d in langs if g == lang]
        print(f"language {lang}: {sum(d == lang for d in sub)}/{len(sub)} = "
              f"{sum(d == lang for d in sub) / len(sub):.3f} (und: {sum(d == 'und' for d in sub)})")
    by_kind: dict[str, list[int]] = {}
    for text, gold in pd_cases:
        found = {(s.kind, s.start, s.end) for s in find_personal_data(text)}
        gold_set = set(gold)
        for k in {g[0] for g in gold_set} | {f[0] for f in found}:
            c = by_kind.setdefault(k, [0, 0, 0])
            c[0] += len({g for g in gold_set if g[0] == k} & found)
            c[1] += len({f for f in found if f[0] == k} - gold_set)
            c[2] += len({g for g in gold_set if g[0] == k} - found)
    total = [sum(c[i] for c in by_kind.values()) for i in range(3)]
    p, r, f = prf(*total)
    n_decoys = sum(t.count(" ") >= 0 for t, _ in pd_cases)
    print(f"personal data (exact spans, {n_decoys} generated posts with decoys): P {p:.3f}  R {r:.3f}  F1 {f:.3f}")
    for k, c in sorted(by_kind.items()):
        kp, kr, _ = prf(*c)
        print(f"  {k:<6} P {kp:.3f}  R {kr:.3f}  (tp {c[0]}, fp {c[1]}, fn {c[2]})")


def speed(texts: list[str], label: str) -> None:
    items = [TriageInput(t) for t in texts]
    best = 0.0
    for _ in range(3):
        start = time.perf_counter()
        for item in items:
            triage(item)
        best = max(best, len(items) / (time.perf_counter() - start))
    avg = sum(len(t) for t in texts) / len(texts)
    print(f"speed, {label}: {best:,.0f} posts/s on one core ({len(items)} posts, {avg:.0f} chars on average)")


def retrain_speed(posts: list[Post], n: int = 50_000) -> None:
    """Time inbox.triage.train.fit (what the Celery task runs) on n corrections made from the real posts."""
    from inbox.triage.train import Example, fit

    labelled = [p for p in posts if p.needs_answer is not None]
    examples = []
    for i in range(n):
        p = labelled[i % len(labelled)]
        category = p.category or ("complaint" if p.needs_answer else "praise")
        examples.append(Example(f"{p.text} #{i}", category, bool(p.needs_answer)))
    start = time.perf_counter()
    model = fit(examples, version="bench")
    print(f"retraining a tenant model on {n:,} corrections: {time.perf_counter() - start:.1f} s "
          f"({len(model.weights):,} category weights, {len(model.rr_weights):,} requires_response weights)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", choices=("dev", "test", "both"), default="both")
    parser.add_argument("--no-retrain", action="store_true", help="skip timing the 50k-corrections retraining")
    args = parser.parse_args()
    if not SHARED.is_dir():
        print(f"triage_eval: {SHARED} is missing: this evaluation reads the shared datasets (see "
              "../shared/datasets/README.md) and cannot run without them.", file=sys.stderr)
        return 2
    skipped: Counter = Counter()
    unique = eval_posts(SHARED, skipped)
    print(f"triage_eval: {len(unique)} real posts ({dict(Counter(p.source for p in unique))}); "
          f"malformed rows skipped: {dict(skipped) or 0}")
    followups = answered_followups(SHARED)
    for split, seed in (("dev", 1), ("test", 2)):
        if args.split in (split, "both"):
            evaluate([p for p in unique if split_of(p.text) == split], personal_data_cases(seed), split,
                     [p for p in followups if split_of(p.text) == split])
    speed([p.text for p in unique if p.lang == "en"], "en tweets")
    speed([p.text for p in unique], "all real posts (incl. long Reclame Aqui complaints)")
    speed([t for t, _ in personal_data_cases(3)], "posts with personal data and decoys")
    if not args.no_retrain:
        retrain_speed(unique)
    return 0


if __name__ == "__main__":
    sys.exit(main())
