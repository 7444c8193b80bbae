"""Lexicons (folded, no accents) for pt, en and es: phrases → signals, looked up by token n-grams.

Weights are the evidence one occurrence adds; the pipeline sums them per signal.
A phrase may feed several signals ("nunca mais" is a complaint and a churn/legal risk).
"""

from collections import defaultdict

# signal → "phrase[:weight]" entries separated by "|" (weight defaults to 1).
_SIGNALS: dict[str, str] = {
    "complaint": (
        "nao funciona|nao funcionou|parou de funcionar|sem internet|sem sinal|caiu|caindo|cai toda hora|lenta|lento"
        "|pessimo:2|pessima:2|horrivel:2|absurdo:2|descaso:2|vergonha:1.5|cobranca indevida:2|indevida|cobrado"
        "|cobraram|reclamacao|reclamar|problema|problemas|defeito:1.5|atraso|atrasou|atrasado|atrasada"
        "|ninguem resolve:2"
        "|cancelar|cancelado|cancelada|cancelaram|cancelamento|nunca mais:1.5|nao consigo|fora do ar|estorno|reembolso"
        "|nao recebi:2|nao chegou:2|ainda nao:1|nao entregue|nao entregaram|nao foi entregue|errado|errada|quebrado"
        "|quebrada|danificado|enganado|enganada|golpe|palhacada|desrespeito:2|falta de respeito:2|insatisfeito"
        "|insatisfeita|decepcionado|decepcionada|decepcao|prejuizo|lixo:1.5|porcaria:1.5|nao resolve|nao resolveram"
        "|sem resposta:1.5|nenhuma resposta|nao responde|nao respondem|demora|demorando|esperando:0.7|aguardando:0.7"
        "|prazo|reclame aqui:2|procon:2|devolver|devolucao|troca|nao veio|veio errado|faltando|ruim:1.5|fraude|roubo"
        "|not working:2|doesn't work:2|does not work:2|isn't working:2|stopped working:2|won't|wont|can't|cant|cannot"
        "|broken|outage|terrible:2|awful:2|worst:2|horrible:2|charged|overcharged:2|refund|still waiting:2|no signal"
        "|no internet|cancel|disappointed:1.5|ridiculous:1.5|useless:1.5|complaint|unacceptable:2|issue|issues|problem"
        "|problems|error|fail|failed|failing|crash|crashing|crashes|keeps|never received"
        "|didn't receive|haven't received"
        "|hasn't arrived|missing|late|delayed|delay|wrong|stuck|frustrated:1.5|frustrating:1.5|annoying|sucks:2|joke"
        "|scam|fraud|rude|hours|on hold|nobody|no one|waste|slow|down|bug|glitch|lost|fix|still not|not able|unable"
        "|falsificado:2|adulterado:2|desagradavel:1.5|nunca foi entregue:2|cade:1|sem justificativa:1.5"
        "|nao atualiza|nenhum retorno:1.5|sem retorno:1.5|nao tive retorno:1.5|nao cumpre:1.5|nao cumpriu:1.5"
        "|propaganda enganosa:2|enganosa:1.5|ate o momento|ate agora nada:1.5|nada foi feito:1.5|mal atendido"
        "|trash:1.5|damaged:1.5|nothing works:2|no longer|charging me|overcharging|not happy:2|not impressed:2"
        "|no falla|no funciona:2|pesimo:2|pesima:2|queja|reclamo|no me llego|estafa|horrible|no sirve:2"
    ),
    "question": (
        "como faco|como posso|como faz|alguem sabe|qual o|qual a|qual e|quais|quando|onde|por que|porque nao|tem como"
        "|duvida|gostaria de saber|sabe me dizer|sabem|vcs tem|voces tem|e possivel|sera que|how do i|how can i|how to"
        "|when will|why is|why does|why do|why can't|is there|are there|can you|could you|what is|what's|where is"
        "|where can|does anyone|do you|is it|any idea|how long|can i|will you|would you|any news|any update|wondering"
        "|who do i|where's|wheres|explain|is it possible|do i|what happened|when can|como|cuando|donde|por que|cual"
        "|hay|pueden"
    ),
    "request": (
        "quero|preciso|solicito|por favor|pfv|pf|pls|plz|please|i need|i want|need help|help me|me ajuda:1.5"
        "|me ajudem:1.5|ajuda|ajudem|socorro:1.5|resolvam:1.5|resolva|me liguem|me ligue|me chama|chama no dm"
        "|dm:0.3|direct:0.3|inbox:0.3|privado|retorno|contato|entrem em contato|assist|assistance|support|help"
        "|fix this:1.5"
        "|sort this|look into|necesito|quiero|ayuda|ayudenme|favor"
    ),
    "praise": (
        "parabens:2|excelente:2|otimo:1.5|otima:1.5|adorei:2|amei:2|top demais|melhor:1|maravilhoso:2|maravilhosa:2"
        "|perfeito:2|perfeita:2|recomendo:2|nota 10:2|nota dez:2|super recomendo:2|satisfeito:1.5|satisfeita:1.5"
        "|rapido:1|rapida:1|antes do prazo:2|bem antes:1.5|muito bom:2|muito boa:2|bom:0.7|boa:0.5|lindo:1.5|linda:1.5"
        "|gostei:1.5|love:1.5|loved:1.5|great:1.2|awesome:2|amazing:2|excellent:2|best:1|perfect:1.5|fantastic:2"
        "|brilliant:1.5|wonderful:2|nice:0.8|good job:2|well done:2|kudos:2|impressed:1.5|happy:1|glad:1"
        "|genial:2|encanta:2|buenisimo:2|recomendado:2"
    ),
    "thanks": (
        "obrigado:2|obrigada:2|obg:2|brigado:2|valeu:2|agradeco:2|grato:2|grata:2|thank you:2|thanks:2|thx:2|ty:1"
        "|thank:2|cheers:1.5|appreciate:1.5|appreciated:1.5|gracias:2|resolvido:1.5|resolveu:1.5|solved:1.5"
        "|resolved:1.5|sorted:1.2|fixed:1.2|works now:2|working now:2|funcionou:1.5|voltou:1|got it:1.5|all good:2"
        "|no worries:2|will do:2|ok:1|okay:1|done:0.8|perfect thanks:1|i sent:1.5|just sent:1.5|sent you:1.5"
        "|sent a dm:2|sent dm:2|dmed:2|dm'd:2|dm sent:2|reply sent:2|replied:1.5|already replied:2|already did:2"
        "|i did:1|just did:1|i have:0.5|enviei:1.5"
        "|mandei:1.5|ja mandei:2|ja enviei:2|blz:1.5|beleza:1|certo:0.8|ta bom:1.5|de nada:1.5"
    ),
    "suggestion": (
        "sugestao:2|sugiro:2|deveriam:1.5|deveria:1|poderiam:1|seria bom:1.5|seria legal:1.5|seria otimo:1.5"
        "|que tal:1|suggestion:2|suggest:2|should add:2|you should:1.5|would be nice:2|would be great:1.5"
        "|feature request:2|please add:2|wish:1|sugerencia:2|deberian:1.5"
    ),
    "noise": (
        "kkkk:2|kkkkk:2|kkk:1.5|hahaha:2|haha:1.5|rsrs:1.5|lol:1.5|lmao:1.5|sorteio:2|giveaway:2|promo:1|rt:1"
        "|follow back:2|bom dia grupo:2|meme:2|jajaja:2|siga:1|sigam:1|follow:0.5|win:0.5|ganhe:1"
    ),
    "legal": (
        "procon|reclame aqui|reclameaqui|processo|processar|processarei|advogado|advogada|justica|anatel|anac|aneel"
        "|consumidor.gov|consumidor gov|juizado|pequenas causas|acao judicial|danos morais|codigo de defesa|cdc"
        "|lawyer|lawsuit|sue|suing|attorney|regulator|fcc|bbb|better business|small claims|legal action|abogado"
        "|denuncia|denunciar|ministerio publico"
    ),
    "urgent": (
        "urgente:1.5|urgencia:1.5|emergencia:1.5|hoje|agora|ja faz|dias sem:1.5|semana sem:1.5|semanas sem:1.5"
        "|ate agora|ate hoje|faz dias|faz semanas|ha dias|urgent:1.5|asap:1.5|emergency:1.5|right now|immediately"
        "|days without:1.5|still|again|for days|for weeks|since|ya|urgente ya"
    ),
    "churn": (
        "cancelar|cancelamento|nunca mais|vou trocar|vou mudar|mudar de operadora|trocar de operadora|portabilidade"
        "|switching|switch to|cancel my|cancelling|canceling|never again|leaving|done with"
    ),
    "pos": (
        "obrigado:1|obrigada:1|valeu:1|parabens:2|excelente:2|otimo:1.5|otima:1.5|adorei:2|amei:2|top:1|melhor:1"
        "|maravilhoso:2|maravilhosa:2|perfeito:2|perfeita:2|recomendo:2|nota 10:2|satisfeito:1.5|satisfeita:1.5"
        "|rapido:1|rapida:1|antes do prazo:2|muito bom:2|muito boa:2|bom:1|boa:0.7|bem:0.5|lindo:1.5|linda:1.5"
        "|gostei:1.5|feliz:1.5|certinho:1|tudo certo:1.5|chegou:0.5|confiavel:1.5|facil:1|pratico:1|seguro:0.5"
        "|bonito:1.5|barato:1|qualidade:0.7|eficiente:1.5|love:1.5|loved:1.5|great:1.5|awesome:2|amazing:2"
        "|excellent:2|best:1|perfect:1.5|fantastic:2|brilliant:1.5|wonderful:2|nice:1|good:1|thanks:1|thank:1"
        "|happy:1.5|glad:1|helpful:1.5|appreciate:1.5|cool:1|gracias:1|genial:2|bueno:1|buena:1"
    ),
    "neg": (
        "nao funciona:2|pessimo:2.5|pessima:2.5|horrivel:2.5|absurdo:2|descaso:2|vergonha:2|ruim:2|lixo:2|porcaria:2"
        "|problema:1|problemas:1|defeito:1.5|atraso:1|atrasou:1|atrasado:1|nao recebi:2|nao chegou:2|errado:1"
        "|errada:1|quebrado:1.5|quebrada:1.5|danificado:1.5|enganado:2|golpe:2|desrespeito:2|insatisfeito:2"
        "|insatisfeita:2|decepcionado:2|decepcionada:2|decepcao:2|decepcionou:2|prejuizo:1.5|raiva:2|nunca mais:2"
        "|cancelado:1|cancelaram:1.5|indevida:1.5|reclamacao:1|travando:1.5|trava:1|demora:1|demorou:1"
        "|infelizmente:1.5|falta:0.7|pior:2|caro:0.7|fraude:2|sem resposta:1.5|descumpriu:2|nao entregue:2"
        "|not working:2|terrible:2.5|awful:2.5|worst:2.5|horrible:2.5|broken:1.5|disappointed:2|ridiculous:2"
        "|useless:2|unacceptable:2|frustrated:2|frustrating:2|annoying:1.5|sucks:2|hate:2|bad:1.5|poor:1.5"
        "|angry:2|upset:1.5|scam:2|rude:2|slow:1|fail:1|failed:1|wrong:1|never:0.7|stupid:2|pathetic:2.5"
        "|joke:1|waste:1.5|crap:2|shit:2|fuck:2|wtf:2|smh:1.5|ugh:1.5|pesimo:2.5|malo:1.5|mala:1.5|horrible:2.5"
    ),
}

# Words that flip the sentiment of the next two tokens ("não gostei", "not good").
NEGATORS = frozenset(w for n in "nao nem nunca jamais sem not no never don't doesn't didn't isn't wasn't aren't nothing"
                     .split() for w in (n, n.replace("'", "")))

# Function words for language identification (folded).
LANG_WORDS: dict[str, frozenset[str]] = {
    "pt": frozenset(
        "nao voces vcs vc voce meu minha meus minhas para pra com que esta estou ja uma um os as do da dos das no na"
        " nos nas ao pelo pela isso essa esse ele ela eles elas tem tenho foi sao muito mais mas porque ate entao"
        " obrigado obrigada agora ainda sem sobre quando onde aqui la tambem so nada tudo hoje ontem dia dias fiz"
        " recebi comprei produto pedido entrega loja atendimento compra fui estava era ficou nunca depois antes"
        " bom boa otimo ruim pessimo e o a de em".split()),
    "en": frozenset(
        "the my you your is and not with this for have been still it i me to of in on at was are be do does did"
        " can can't don't i'm it's that what why how when just please thanks thank get got im dont cant wont"
        " no yes there their they we our us an a or but if so any all would could should will out up about from"
        " app account order service help".split()),
    "es": frozenset(
        "el los las y es por que mi mis con para una un no del al lo le se su pero muy tengo esta estoy hola"
        " gracias usted ustedes porque cuando donde como ya hace desde hasta nada todo pedido servicio ayuda"
        " es de en la".split()),
}
# Words that settle a tie: spelled only one way in one language.
LANG_STRONG: dict[str, frozenset[str]] = {
    "pt": frozenset("nao voces vcs vc voce obrigado obrigada esta estou pra tambem entao ate isso essa esse".split()),
    "en": frozenset("the my you your is and with this have been still thanks what why".split()),
    "es": frozenset("el los usted ustedes gracias hola pero muy tengo estoy y".split()),
}


def _parse(spec: str) -> list[tuple[str, float]]:
    out = []
    for entry in spec.split("|"):
        phrase, _, weight = entry.partition(":")
        out.append((phrase.strip(), float(weight) if weight else 1.0))
    return out


def build_index() -> tuple[dict[str, tuple[tuple[str, float], ...]], int]:
    """phrase → ((signal, weight), …), and the longest phrase in tokens."""
    index: dict[str, list[tuple[str, float]]] = defaultdict(list)
    longest = 1
    for signal, spec in _SIGNALS.items():
        for phrase, weight in _parse(spec):
            key = " ".join(phrase.split())
            # "don’t" folds to "dont" (curly quotes have no ASCII base): index both spellings.
            for variant in {key, key.replace("'", "")}:
                if all(s != signal for s, _ in index[variant]):
                    index[variant].append((signal, weight))
            longest = max(longest, len(key.split()))
    return {k: tuple(v) for k, v in index.items()}, longest


INDEX, LONGEST = build_index()
SIGNALS = tuple(_SIGNALS)
# Every proper prefix of a multi-word phrase: the n-gram walk only goes on while it is inside one.
PREFIXES = frozenset(" ".join(k.split()[:i]) for k in INDEX for i in range(1, len(k.split())))
# The tokens where the walk has something to do: a phrase can start there, or a negator is there.
STARTS = frozenset(k for k in INDEX if " " not in k) | frozenset(p for p in PREFIXES if " " not in p) | NEGATORS


def _lang_table() -> dict[str, tuple[float, float, float]]:
    table: dict[str, tuple[float, float, float]] = {}
    words = set().union(*LANG_WORDS.values())
    for w in words:
        table[w] = tuple(  # type: ignore[assignment]
            (1.0 if w in LANG_WORDS[lang] else 0.0) + (0.5 if w in LANG_STRONG[lang] else 0.0)
            for lang in ("pt", "en", "es"))
    return table


# token → its weight as evidence of (pt, en, es)
LANG_TABLE = _lang_table()
