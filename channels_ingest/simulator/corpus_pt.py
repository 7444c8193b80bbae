"""pt-BR customer posts addressed to @acmetelecom, as (kind, template) pairs.

Slots are filled by ``corpus.PostFactory``; see ``corpus._SlotFiller`` for the names.
"""

COMPLAINTS: tuple[str, ...] = (
    "@acmetelecom minha internet caiu DE NOVO aqui em {city}. {days} dias sem conexão e ninguém resolve. "
    "protocolo {protocol}",
    "pago {amount} no {fiber_plan} pra receber {speed} mega?? @acmetelecom isso é piada né",
    "@acmetelecom técnico marcado pra {weekday} entre 8h e 12h, fiquei o dia inteiro em casa e ninguém "
    "apareceu. perdi um dia de trabalho",
    "3 protocolos abertos e nada. {protocol}, {protocol2}... @acmetelecom vou no Procon amanhã cedo",
    "@acmetelecom cobraram {amount} a mais na minha fatura sem explicação nenhuma. cobrança indevida é "
    "crime viu",
    "Se a @acmetelecom não resolver minha internet até {weekday} vou abrir reclamação no Reclame Aqui e "
    "na Anatel. Cansei",
    "quero CANCELAR e a atendente fica me passando de setor em setor há {minutes} min @acmetelecom",
    "@acmetelecom sinal de celular zerado no centro de {city}. nem ligação completa, oq tá acontecendo??",
    "a @acmetelecom consegue ser pior que meu ex. promete e não cumpre kkkkk internet caindo toda hora",
    "@acmetelecom a TV fica travando bem na hora do jogo. todo domingo isso. pago o {tv_plan} pra que?",
    "Gente alguém mais tá sem internet da @acmetelecom em {city}? aqui caiu faz umas {hours} horas",
    "@acmetelecom vcs tiraram {amount} do meu cartão no débito automático DUAS vezes esse mês. quero meu "
    "dinheiro de volta",
    "mds @acmetelecom o wifi não chega nem no quarto. 'fibra' de mentira #acmetelecom",
    "@acmetelecom fiz portabilidade faz {days} dias e meu número ainda não funciona. to sem celular pra "
    "trabalhar",
    "@acmetelecom cobrando multa de fidelidade de {amount} sendo que eu já cumpri os 12 meses?? me "
    "explica isso",
    "tô tentando falar com a @acmetelecom pelo 0800 e a ligação cai sempre na mesma parte do menu. sério "
    "isso?",
    "@acmetelecom meu 5G vira 3G do nada e a internet do celular some. {mobile_plan} é só enfeite",
    "pior operadora do Brasil, sem condições. @acmetelecom respeitem o consumidor #procon",
    "@acmetelecom instalação agendada pra dia {day} remarcada pela terceira vez. vou desistir e ir pra "
    "concorrência",
    "Procon neles! @acmetelecom cortou minha linha com a conta paga. comprovante do PIX tá aqui",
    "internet da @acmetelecom oscilando a tarde toda em {city}, impossível fazer reunião. home office "
    "sofre",
    "@acmetelecom reajuste de {amount} pra {amount2} sem aviso nenhum?? no contrato não tava isso não",
    "aff @acmetelecom de novo sem sinal na TV, aparece 'E-{code}'. já reiniciei o decodificador mil vezes",
    "@acmetelecom o chip novo que vcs mandaram veio bloqueado e na loja falaram que só pelo app. e o app "
    "não abre 🙃",
    "@acmetelecom ja e a quarta vez q eu ligo hj. ngm resolve nd, so pedem pra reiniciar o modem",
    "a @acmetelecom me cobrando uma fatura de {month} de um plano que eu cancelei em {month2}. vou pro "
    "Reclame Aqui",
)
QUESTIONS: tuple[str, ...] = (
    "@acmetelecom qual o valor pra mudar do {plan} pro {plan2}? tem fidelidade?",
    "@acmetelecom vcs atendem no bairro {neighborhood} em {city}? quero fibra",
    "oi @acmetelecom, como faço pra tirar a segunda via da fatura? o app só mostra erro",
    "@acmetelecom o roaming internacional tá incluso no {mobile_plan}? vou pra Lisboa mês que vem",
    "@acmetelecom boleto veio com vencimento dia {day} mas no app tá dia {day2}. qual vale? não quero "
    "pagar juros por erro de vcs",
    "@acmetelecom quanto tempo demora pra religar a internet depois de pagar o boleto atrasado?",
    "Alguém sabe se a @acmetelecom cobra taxa de instalação no {plan}?",
    "@acmetelecom dá pra pagar a fatura com PIX? não achei o código no app",
    "@acmetelecom se eu me mudar pra uma cidade q vcs não atendem posso cancelar sem multa?",
    "@acmetelecom o decodificador novo precisa de técnico ou dá pra eu mesmo instalar?",
    "@acmetelecom meu protocolo {protocol} tá 'em análise' faz {days} dias. tem previsão?",
    "@acmetelecom vcs têm eSIM? meu celular novo só aceita eSIM",
    "@acmetelecom tem algum problema geral em {city} hj? a internet tá lenta desde de manhã",
)
REQUESTS: tuple[str, ...] = (
    "@acmetelecom quero cancelar meu {plan}. como faço sem ficar 1 hora no telefone?",
    "@acmetelecom preciso de um técnico urgente, o cabo da fibra arrebentou na rua aqui em {city}",
    "@acmetelecom por favor me chamem no DM, preciso resolver a cobrança da fatura de {month}",
    "@acmetelecom quero o estorno dos {amount} cobrados indevidamente. protocolo {protocol}",
    "@acmetelecom favor trocar meu vencimento pro dia {day}, recebo só no começo do mês",
    "@acmetelecom podem me mandar o código de barras da fatura de {month}? o email não chegou",
    "@acmetelecom quero fazer upgrade pro {plan} hoje ainda, alguém me atende pfv",
    "@acmetelecom solicito a gravação da ligação do protocolo {protocol}, conforme o CDC",
)
PRAISE: tuple[str, ...] = (
    "@acmetelecom valeu demais pelo atendimento hoje, técnico super educado e resolveu em 20 min 👏",
    "tenho que admitir: a fibra da @acmetelecom aqui em {city} tá voando. {speed_good} mega no speedtest",
    "@acmetelecom a atendente {agent} do chat foi incrível, resolveu minha fatura rapidinho. obrigado!",
    "depois de {years} anos com a @acmetelecom nunca tive problema sério. tá de parabéns",
    "@acmetelecom 1 giga na casa nova e instalaram no mesmo dia. surreal 🔥",
    "obg @acmetelecom, o estorno caiu certinho na fatura 🙏",
    "internet da @acmetelecom aguentou a live de {hours} horas sem cair uma vez. respeito",
    "@acmetelecom vcs mandaram bem no app novo, finalmente dá pra ver a fatura sem travar",
)
NOISE: tuple[str, ...] = (
    "alguém aí lembra do comercial da @acmetelecom com o cachorro dançando? kkkkkk até hj canto",
    "@acmetelecom vcs patrocinam o time de vôlei de {city}? vi a logo na camisa ontem",
    "meu gato deitou em cima do roteador da @acmetelecom e agora ele é o dono da casa 🐈",
    "@acmetelecom bom dia só pra quem tem internet funcionando hoje ☀️",
    "to no ônibus em {city} ouvindo o jingle da @acmetelecom na rádio, grudou na cabeça",
    "@{other} @acmetelecom kkkkkk mano eu tbm",
    "se a @acmetelecom fizesse um bolão da copa eu já tava dentro",
    "sextou com a internet da @acmetelecom firme e forte (por enquanto) 🍻",
    "RT se vc também já xingou a @acmetelecom e era o cabo do roteador solto kkkk",
)
# personal data that belongs in a private channel (DM), not in a public reply
PERSONAL_DATA: tuple[str, ...] = (
    "@acmetelecom já liguei 5x, meu telefone é {phone}, me liguem pfv pq não aguento mais esperar",
    "@acmetelecom segue meu CPF {cpf} pra vcs acharem o contrato logo, quero cancelar HOJE",
    "@acmetelecom meu email é {email}, manda a segunda via da fatura por lá que o app não abre",
    "@acmetelecom cpf {cpf_raw} titular da linha {phone}, cortaram meu sinal sem motivo",
    "@acmetelecom tô em Portugal com o chip daqui, me liguem no {pt_phone} sobre o roaming que não "
    "funciona",
    "@acmetelecom protocolo {protocol}, CPF {cpf}, email {email}. resolvam por favor",
    "@acmetelecom me chamem no whats {phone_intl}, não consigo falar no 0800 de jeito nenhum",
    "@acmetelecom nome: {name}, cpf {cpf}. técnico não veio de novo em {city}",
    "@acmetelecom manda no meu e-mail {email} o contrato do {plan}, nunca recebi cópia",
    "@acmetelecom liga no {phone} que eu explico, por aqui não dá",
)

TEMPLATES: tuple[tuple[str, str], ...] = tuple(
    (kind, text)
    for kind, texts in (
        ("complaint", COMPLAINTS),
        ("question", QUESTIONS),
        ("request", REQUESTS),
        ("praise", PRAISE),
        ("noise", NOISE),
        ("personal_data", PERSONAL_DATA),
    )
    for text in texts
)

FOLLOW_UPS: tuple[tuple[str, str], ...] = (
    ("complaint", "@acmetelecom ainda não resolveu nada, a internet continua caindo"),
    ("praise", "@acmetelecom obrigado pelo retorno! voltou a funcionar aqui"),
    ("complaint", "@acmetelecom já mandei DM faz {hours} horas e ninguém respondeu"),
    ("personal_data", "@acmetelecom meu CPF é {cpf}, agora vcs conseguem ver?"),
    ("complaint", "@acmetelecom ok, aguardo. mas se não resolver até amanhã vou no Procon"),
    ("question", "@acmetelecom respondi no direct, conseguiram ver?"),
)

CITIES: dict[str, tuple[str, ...]] = {
    "São Paulo": ("Vila Mariana", "Pinheiros", "Itaquera", "Santana"),
    "Rio de Janeiro": ("Tijuca", "Copacabana", "Campo Grande", "Méier"),
    "Belo Horizonte": ("Savassi", "Pampulha", "Buritis"),
    "Curitiba": ("Batel", "Água Verde", "Boqueirão"),
    "Porto Alegre": ("Moinhos de Vento", "Menino Deus", "Restinga"),
    "Recife": ("Boa Viagem", "Casa Forte", "Madalena"),
    "Salvador": ("Pituba", "Barra", "Itapuã"),
    "Fortaleza": ("Meireles", "Aldeota", "Messejana"),
    "Campinas": ("Cambuí", "Barão Geraldo"),
    "Goiânia": ("Setor Bueno", "Setor Marista"),
    "Manaus": ("Adrianópolis", "Ponta Negra"),
    "Florianópolis": ("Trindade", "Lagoa da Conceição"),
    "Niterói": ("Icaraí", "Santa Rosa"),
    "Osasco": ("Centro", "Presidente Altino"),
}

WEEKDAYS = ("segunda", "terça", "quarta", "quinta", "sexta", "sábado")
MONTHS = ("janeiro", "fevereiro", "março", "abril", "maio", "junho", "julho", "agosto", "setembro",
          "outubro", "novembro", "dezembro")
AGENTS = ("Juliana", "Roberto", "Kátia", "Diego", "Fernanda", "Márcio")
