"""Quoted history as the popular clients write it, in the languages they ship, written out
by hand with the client named (the corpora have none of these): verbless attributions
("date, time, name <address>:"), Outlook separators and header blocks, Gmail forwards,
Apple Mail forwards and "wrote" verbs. ``HISTORIES[style]`` is a history with ``{ours}``
where the quoted email goes. Used by tests/unit/test_replies.py and
bench/measure_keywords.py.
"""

from __future__ import annotations

M = "Mentoring Committee"
ADDR = "mentoring@example.org"
ATTRIBUTIONS = {
    # no verb: known by their shape
    "yandex_ru": f'09.10.2026, 08:00, "{M}" <{ADDR}>:',
    "yandex_wrapped": f'09.10.2026, 08:00, "{M}" <\n{ADDR}>:',
    "mailru_en": f"Friday, 9 October 2026, 8:00 +03:00 from {ADDR} <{ADDR}>:",
    "mailru_en_wrapped": f"Friday, 9 October 2026, 8:00 +03:00\nfrom {ADDR} <{ADDR}>:",
    "mailru_ru": f"Пятница, 9 октября 2026, 8:00 +03:00 от {M} <{ADDR}>:",
    "gmail_ru": f"пт, 9 окт. 2026 г. в 08:00, {M} <{ADDR}>:",
    "gmail_ja": f"2026年10月9日(金) 8:00 {M} <{ADDR}>:",
    "gmail_en_no_verb": f"Fri, Oct 9, 2026, 8:00 AM {M} <{ADDR}>:",
    "phone_de": f"Fr., 9. Okt. 2026, 08:00, {M} <{ADDR}>:",
    # with a verb
    "gmail_da": f"fre. 9. okt. 2026 kl. 08.00 skrev {M} <{ADDR}>:",
    "gmail_sv": f"fre 9 okt. 2026 kl 08:00 skrev {M} <{ADDR}>:",
    "gmail_no": f"fre. 9. okt. 2026 kl. 08:00 skrev {M} <{ADDR}>:",
    "gmail_fi": f"pe 9.10.2026 klo 8.00 {M} ({ADDR}) kirjoitti:",
    "gmail_pl": f"W dniu pt., 9.10.2026 o 08:00 {M} <{ADDR}> napisał(a):",
    "gmail_cs": f"pá 9. 10. 2026 v 8:00 odesílatel {M} <{ADDR}> napsal:",
    "gmail_uk": f"пт, 9 жовт. 2026 р. о 08:00 {M} <{ADDR}> пише:",
    "gmail_tr": f"{M} <{ADDR}>, 9 Eki 2026 Cum, 08:00 tarihinde şunu yazdı:",
    "gmail_zh": f"{M} <{ADDR}> 于2026年10月9日周五 08:00写道：",
    "gmail_ko": f"2026년 10월 9일 (금) 오전 8:00, {M} <{ADDR}>님이 작성:",
    "thunderbird_ru": f"09.10.2026 08:00, {M} пишет:",
    "thunderbird_pl": f"W dniu 9.10.2026 o 08:00, {M} pisze:",
    "thunderbird_cs": f"Dne 09. 10. 26 v 8:00 {M} napsal(a):",
    "thunderbird_ja": f"2026/10/09 8:00 に {M} さんは書きました:",
    "thunderbird_ko": f"2026-10-09 오전 8:00에 {M} 이(가) 쓴 글:",
}
FIELDS = {  # Outlook's From, Sent, To, Subject in each language
    "da": ("Fra", "Sendt", "Til", "Emne"), "sv": ("Från", "Skickat", "Till", "Ämne"),
    "no": ("Fra", "Sendt", "Til", "Emne"),
    "fi": ("Lähettäjä", "Lähetetty", "Vastaanottaja", "Aihe"),
    "pl": ("Od", "Wysłano", "Do", "Temat"), "cs": ("Od", "Odesláno", "Komu", "Předmět"),
    "ru": ("От", "Отправлено", "Кому", "Тема"), "uk": ("Від", "Надіслано", "Кому", "Тема"),
    "tr": ("Kimden", "Gönderildi", "Kime", "Konu"), "zh": ("发件人", "发送时间", "收件人", "主题"),
    "zh_tw": ("寄件者", "寄件日期", "收件者", "主旨"), "ja": ("差出人", "送信日時", "宛先", "件名"),
    "ko": ("보낸 사람", "보낸 날짜", "받는 사람", "제목"),
}
OUTLOOK_SEPARATORS = {  # Outlook desktop's "-----Original Message-----"
    "da": "Oprindelig meddelelse", "sv": "Ursprungligt meddelande", "no": "Opprinnelig melding",
    "fi": "Alkuperäinen viesti", "pl": "Wiadomość oryginalna", "cs": "Původní zpráva",
    "ru": "Исходное сообщение", "uk": "Вихідне повідомлення", "tr": "Özgün İleti",
    "zh": "原始邮件", "zh_tw": "原始郵件", "ja": "元のメッセージ", "ko": "원본 메시지",
}
GMAIL_FORWARDS = {  # Gmail's "---------- Forwarded message ---------"
    "da": "Videresendt meddelelse", "sv": "Vidarebefordrat meddelande",
    "no": "Videresendt melding", "fi": "Välitetty viesti", "pl": "Wiadomość przekazana dalej",
    "cs": "Přeposlaná zpráva", "ru": "Пересылаемое сообщение", "uk": "Переслане повідомлення",
    "tr": "İletilen mesaj", "zh": "转发的邮件", "zh_tw": "轉寄的郵件", "ja": "転送されたメッセージ",
    "ko": "전달된 메일",
}


def _fields(lang: str) -> str:
    sender, sent, to, subject = FIELDS[lang]
    return (f"{sender}: {M} <{ADDR}>\n{sent}: 9.10.2026 08:00\n{to}: Ana Pérez "
            f"<ana.perez@example.com>\n{subject}: Your October topic")


HISTORIES = {
    **{f"attribution_{k}": f"{v}\n\n{{ours}}" for k, v in ATTRIBUTIONS.items()},
    **{f"outlook_{k}": f"-----{v}-----\n{_fields(k)}\n\n{{ours}}"
       for k, v in OUTLOOK_SEPARATORS.items()},
    **{f"outlook_web_{k}": f"________________________________\n{_fields(k)}\n\n{{ours}}"
       for k in FIELDS},
    **{f"outlook_no_rule_{k}": f"{_fields(k)}\n\n{{ours}}" for k in FIELDS},
    **{f"gmail_forward_{k}": f"---------- {v} ---------\n{_fields(k)}\n\n{{ours}}"
       for k, v in GMAIL_FORWARDS.items()},
    "qq_mail": "------------------\u00a0原始邮件\u00a0------------------\n"
    f"发件人: \"{M}\"<{ADDR}>;\n发送时间: 2026年10月9日(星期五) 上午8:00\n"
    "收件人: \"Ana\"<ana.perez@example.com>;\n主题: Your October topic\n\n{ours}",
    "apple_mail_da": f"Start på videresendt besked:\n\nFra: {M} <{ADDR}>\nEmne: Your topic\n"
    "Dato: 9. oktober 2026 kl. 08.00.00 CEST\nTil: ana.perez@example.com\n\n{ours}",
}



# An email of ours as it comes back in a history: keywords at the start of its lines.
SENT = """Hello Ana,

This month's topic is networking. Reply with one word at the start of a line:
MET (and the date) when you met, NOT MET if you could not,
GOAL <text> to record a goal,
HELP to reach your liaison,
PAUSE until <date>, RESUME, END to end the match, LETTER.

The Mentoring Committee"""


def quoted(text: str) -> str:
    return "\n".join(f"> {line}" if line else ">" for line in text.split("\n"))
