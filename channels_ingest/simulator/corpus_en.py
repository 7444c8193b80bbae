"""English customer posts (expats, tourists, roaming customers) addressed to @acmetelecom."""

COMPLAINTS: tuple[str, ...] = (
    "@acmetelecom my internet has been down for {days} days in {city}. ticket #{ticket} and still "
    "nothing. Unacceptable.",
    "paying {amount_en} a month for {fiber_plan} and getting {speed} Mbps. @acmetelecom what exactly am I "
    "paying for?",
    "@acmetelecom your technician was supposed to come today between 8 and 12. it's 4pm. no call, no "
    "text, nothing.",
    "@acmetelecom charged me twice this month on autopay. I want a refund, not a chatbot.",
    "been on hold with @acmetelecom for {minutes} minutes just to cancel. this is ridiculous",
    "@acmetelecom bought a prepaid SIM at the airport in {city} and it died after 2 days. tourist trap "
    "much?",
    "@acmetelecom roaming in Portugal doesn't work at all even tho my plan says it's included",
    "wifi keeps dropping every 20 min. rebooted the router like 10 times. @acmetelecom fix your network "
    "pls",
    "@acmetelecom TV box froze right at the penalty kick. every. single. weekend.",
    "@acmetelecom the app logs me out every time I try to pay my bill. been like this for a week",
    "@acmetelecom price went up from {amount_en} to {amount2_en} with zero notice. not cool",
    "@acmetelecom no signal anywhere in downtown {city} since this morning. what's going on?",
)
QUESTIONS: tuple[str, ...] = (
    "@acmetelecom do you guys have eSIM for tourists? landing in {city} next week",
    "@acmetelecom is there an outage in {city} right now? speeds are terrible",
    "@acmetelecom how do I change the wifi password on the new router?",
    "@acmetelecom can I pay my bill with a foreign credit card?",
    "@acmetelecom what's the difference between {plan} and {plan2}? website isn't clear",
    "@acmetelecom does {tv_plan} include the sports channels or is that extra?",
    "@acmetelecom any update on ticket #{ticket}? it's been {days} days",
)
REQUESTS: tuple[str, ...] = (
    "@acmetelecom please DM me, I need to cancel my contract before I move abroad",
    "@acmetelecom I need copies of my last 3 invoices for my company, can someone help?",
    "@acmetelecom please send a technician, the fiber cable outside my building in {city} was cut",
    "@acmetelecom I'd like to upgrade to {plan} today. who do I talk to?",
    "@acmetelecom requesting a refund of {amount_en} for the days without service. ticket #{ticket}",
)
PRAISE: tuple[str, ...] = (
    "shoutout to @acmetelecom support, fixed my connection in 10 minutes. didn't expect that tbh",
    "@acmetelecom fiber is actually insane. {speed_good} Mbps on speedtest 🚀",
    "@acmetelecom thanks for sorting out my roaming so fast, you saved my trip",
    "gotta say the new @acmetelecom app is way better. paid my bill in 30 seconds",
    "@acmetelecom installer was super friendly and cleaned up after himself. 10/10",
)
NOISE: tuple[str, ...] = (
    "learning portuguese by reading @acmetelecom billboards on my way to work in {city}",
    "the @acmetelecom ad on the way to the airport in {city} is wild lol",
    "@{other} lmao same, the @acmetelecom router is basically my roommate now",
    "anyone else think the @acmetelecom jingle sounds like a 2005 ringtone? 😂",
    "happy friday to everyone except my router. @acmetelecom you're fine tho",
)
# personal data that belongs in a private channel (DM), not in a public reply
PERSONAL_DATA: tuple[str, ...] = (
    "@acmetelecom my number is {phone_intl}, please call me, can't get through on the hotline",
    "@acmetelecom email me the invoice at {email}, the app isn't working",
    "@acmetelecom I'm in Lisbon, my Portuguese number is {pt_phone}. roaming activation failed",
    "@acmetelecom account holder CPF {cpf}, please check why my line was suspended",
    "@acmetelecom call me at {phone} when the technician is on his way, doorbell doesn't work",
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
    ("complaint", "@acmetelecom still not fixed."),
    ("praise", "@acmetelecom thanks, it's working now!"),
    ("complaint", "@acmetelecom sent you a DM {hours} hours ago, nobody replied"),
    ("personal_data", "@acmetelecom here's my number {phone_intl}, just call me"),
    ("question", "@acmetelecom ok, how long is this going to take?"),
)

CITIES: dict[str, tuple[str, ...]] = {
    "Rio": ("Ipanema", "Leblon", "Botafogo"),
    "São Paulo": ("Pinheiros", "Vila Madalena", "Jardins"),
    "Florianópolis": ("Campeche", "Lagoa"),
    "Salvador": ("Barra", "Rio Vermelho"),
    "Lisbon": ("Alfama", "Príncipe Real"),
    "Porto": ("Ribeira", "Boavista"),
}
