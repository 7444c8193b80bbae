from inbox.triage import TriageInput, triage


def test_a_portuguese_complaint_needs_an_answer_fast():
    decision = triage(TriageInput("@acmetelecom três dias sem internet, péssimo atendimento, ninguém resolve!"))
    assert decision.category == "complaint" and decision.requires_response and not decision.ignore
    assert decision.language == "pt"
    assert decision.priority >= 55


def test_an_english_question_needs_an_answer():
    decision = triage(TriageInput("@acmetelecom how do I change my plan to the 500 mega one?"))
    assert decision.category == "question" and decision.requires_response
    assert decision.language == "en"


def test_praise_and_noise_are_ignored():
    assert triage(TriageInput("@acmetelecom obrigado, a internet nova está ótima!")).ignore
    assert triage(TriageInput("kkkkk esse meme da @acmetelecom")).ignore


def test_personal_data_is_found_and_raises_the_stakes():
    decision = triage(TriageInput("@acmetelecom meu número é (11) 98765-4321, me liguem, obrigado"))
    assert "phone" in decision.personal_data
    assert decision.requires_response  # even a polite message with a phone number must be taken private
    assert any("personal data" in r for r in decision.reasons)
    assert "email" in triage(TriageInput("escreve pra joana.silva@example.com por favor")).personal_data
    assert "cpf" in triage(TriageInput("meu CPF é 529.982.247-25, cancelem")).personal_data
    assert "phone" in triage(TriageInput("ligue para +351 912 345 678")).personal_data


def test_legal_risk_and_influence_raise_the_priority():
    plain = triage(TriageInput("Minha internet não funciona"))
    legal = triage(TriageInput("Minha internet não funciona, vou no Procon e no Reclame Aqui"))
    famous = triage(TriageInput("Minha internet não funciona", followers_count=250_000, verified=True))
    assert legal.priority > plain.priority and famous.priority > plain.priority
    assert any("procon" in r for r in legal.reasons)
    assert max(legal.priority, famous.priority) <= 100


def test_the_decision_carries_spans_scores_and_a_private_suggestion():
    decision = triage(TriageInput("@acmetelecom meu email é ana@example.com, me respondam"))
    assert [(s.kind, s.start, s.end) for s in decision.spans] == [("email", 25, 40)]
    assert decision.private_suggested and decision.as_dict()["spans"][0]["kind"] == "email"
    assert 0 <= decision.requires_response_score <= 1 and -1 <= decision.sentiment_score <= 1
